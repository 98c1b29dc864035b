"""The ``app.py`` of each web-app function (the module Lambda's init imports): the app, built
with the garbage collector off, and what init made frozen so that later full collections
skip it (``groq_gateway.core.frozen_init``)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from groq_gateway.core.frozen_init import frozen_init
from groq_gateway_dev.devserver.local_aws import LOCAL_AWS_ENV, environment_of
from groq_gateway_dev.devserver.template import FunctionSpec, TemplateModel

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = TemplateModel.load(ROOT / "template.yaml")
WEB_APPS = [f for f in TEMPLATE.functions() if f.is_web_app]
APP_CLASS = {"ProxyFunction": "Starlette", "AdminFunction": "FastAPI"}

PROBE = """
import gc, json
import app
print(json.dumps({
    "app": type(app.app).__name__,
    "enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "full_collections": gc.get_stats()[2]["collections"],
    "tracked_after": len(gc.get_objects()),
}))
"""


def test_the_template_has_two_web_apps() -> None:
    assert sorted(f.logical_id for f in WEB_APPS) == sorted(APP_CLASS)


@pytest.mark.parametrize("function", WEB_APPS, ids=[f.logical_id for f in WEB_APPS])
def test_init_runs_without_collections_and_freezes_what_it_made(function: FunctionSpec) -> None:
    env = {
        "PATH": os.environ["PATH"],
        **environment_of(TEMPLATE, function, {}),
        **LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no AWS call at init
        "PYTHONPATH": str(ROOT / "layers" / "gateway"),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=function.code_uri,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    state = json.loads(result.stdout.splitlines()[-1])
    assert state["app"] == APP_CLASS[function.logical_id]
    assert state["enabled"] is True  # collection is back on for the requests
    assert state["full_collections"] == 0  # none during init
    # init's objects are frozen: a later full collection walks only the few made since
    assert state["frozen"] > 50 * state["tracked_after"]


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Collection on and nothing frozen when the test starts; the collector as it was after."""
    was_enabled = gc.isenabled()
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    if not was_enabled:
        gc.disable()


def test_frozen_init_freezes_what_the_block_made(unfrozen: None) -> None:
    with frozen_init():
        assert not gc.isenabled()
        made = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)


def test_frozen_init_freezes_nothing_when_init_fails(unfrozen: None) -> None:
    with pytest.raises(RuntimeError), frozen_init():
        raise RuntimeError("init failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_frozen_init_leaves_collection_off_if_it_was_off(unfrozen: None) -> None:
    gc.disable()
    with frozen_init():
        pass
    assert not gc.isenabled()
