"""`groq-gateway smoke` against `groq-gateway dev --simulate`, run as an operator runs it after
a deploy: every check passes on a working gateway; a failing check exits non-zero with a FAIL
line and the key it made is revoked all the same."""

from __future__ import annotations

import json
import subprocess

from tests.e2e.conftest import ROOT, DevGateway, groq_gateway_command

CHECKS = [
    "create key",
    "chat completion",
    "streamed chat completion",
    "usage metered",
    "revoke key",
    "revoked key refused",
]


def smoke(gateway: DevGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*groq_gateway_command(), "smoke", "--url", gateway.base_url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GROQ_GATEWAY_ADMIN_KEY": gateway.admin_key},
    )


def smoke_keys(gateway: DevGateway) -> dict[str, str]:
    """Every key the smoke command made: id -> status, from the admin API."""
    listed = subprocess.run(
        [*groq_gateway_command(), "keys", "list", "--json", "--url", gateway.base_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GROQ_GATEWAY_ADMIN_KEY": gateway.admin_key},
        check=True,
    )
    keys = json.loads(listed.stdout)
    return {k["id"]: k["status"] for k in keys if k["name"].startswith("smoke-")}


def test_smoke_passes_every_check_on_a_working_gateway(dev_gateway: DevGateway) -> None:
    before = smoke_keys(dev_gateway)
    done = smoke(dev_gateway)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert [line.partition(":")[0] for line in lines] == [f"ok   {check}" for check in CHECKS]
    assert "llama-3.1-8b-instant" in lines[0]
    assert "401" in lines[-1]
    made = {key: status for key, status in smoke_keys(dev_gateway).items() if key not in before}
    assert list(made.values()) == ["revoked"]


def test_a_failing_check_exits_non_zero_and_still_revokes_the_key(
    dev_gateway: DevGateway,
) -> None:
    before = smoke_keys(dev_gateway)
    # The simulator, like Groq, answers 404 model_not_found for a model it does not serve.
    done = smoke(dev_gateway, "--model", "no-such-model")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok   create key: smoke-")
    assert lines[1].startswith("FAIL chat completion: the proxy answered 404 model_not_found")
    assert "look at --model" in lines[1]
    assert lines[2].startswith("ok   clean up: revoked smoke-")
    assert len(lines) == 3  # nothing after the first failure but the clean-up
    made = {key: status for key, status in smoke_keys(dev_gateway).items() if key not in before}
    assert list(made.values()) == ["revoked"]
