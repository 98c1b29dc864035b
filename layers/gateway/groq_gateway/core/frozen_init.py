"""Lambda init with the garbage collector off; what it made is then frozen (``gc.freeze``).

Example (a function's ``app.py``)::

    with frozen_init():
        app = create_app()
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_init() -> Iterator[None]:
    """Run the block with the collector off; then freeze what exists and turn it back on.
    If the block raises, nothing is frozen and the collector is left as it was found.
    Why: docs/performance.md#cold-start."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    except BaseException:
        if was_enabled:
            gc.enable()
        raise
    gc.freeze()
    if was_enabled:
        gc.enable()
