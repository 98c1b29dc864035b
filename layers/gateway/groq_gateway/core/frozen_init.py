"""Lambda init without garbage collection, and what it made frozen afterwards.

An ASGI function's init (imports and ``create_app()``) makes a couple of hundred thousand
objects that live as long as the process: botocore's service models, pydantic's validators,
the clients. Python's cyclic garbage collector would walk them all during init, for nothing
(they are all alive), and again in every later full collection: about 50 ms on the
benchmark's machine, with a request waiting behind it. Inside :func:`frozen_init` collection
is off, and on the way out what was made is frozen (``gc.freeze``): later collections walk
only what is newer.

Example (a function's ``app.py``)::

    from groq_gateway.core.frozen_init import frozen_init

    with frozen_init():
        from groq_gateway.proxy.app import create_app

        app = create_app()
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_init() -> Iterator[None]:
    """Run the block with the collector off; then freeze what exists and turn it back on.

    If the block raises, nothing is frozen and the collector is left as it was found."""
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
