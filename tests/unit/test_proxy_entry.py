"""functions/proxy/app.py, the module Lambda's init imports: the app, built with the garbage
collector off, and what init made frozen so that later full collections skip it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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


def test_init_runs_without_collections_and_freezes_what_it_made() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT / "layers" / "gateway"),
        "TABLE_NAME": "gateway",
        "UPSTREAM_KEY_SECRET_ID": "upstream",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT / "functions" / "proxy",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    state = json.loads(result.stdout.splitlines()[-1])
    assert state["app"] == "Starlette"
    assert state["enabled"] is True  # collection is back on for the requests
    assert state["full_collections"] == 0  # none during init
    # init's objects are frozen: a later full collection walks only the few made since
    assert state["frozen"] > 50 * state["tracked_after"]
