"""A gateway key rotated under live traffic through `groq-gateway dev`: no request is lost,
the old secret works through its grace, and is refused once retired (the clock is driven,
nobody waits 24 hours)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx

from groq_gateway.core.periods import utcnow
from groq_gateway.core.settings import Settings
from groq_gateway.secret_rotation import KeyRotator
from tests.e2e.conftest import DevGateway
from tests.e2e.test_sdks_through_dev_gateway import MESSAGES, MODEL
from tests.e2e.test_streaming_and_faults import key_id_of


class Traffic:
    """Requests in a loop, with whichever key the app currently has."""

    def __init__(self, gateway: DevGateway, key: str) -> None:
        self.url = f"{gateway.base_url}/openai/v1/chat/completions"
        self.key = key
        self.statuses: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                key = self.key
                response = client.post(
                    self.url,
                    json={"model": MODEL, "messages": MESSAGES, "max_tokens": 2},
                    headers={"authorization": f"Bearer {key}"},
                )
                self.statuses.append((key, response.status_code))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 20
        target = len(self.statuses) + count
        while len(self.statuses) < target:
            assert time.monotonic() < deadline, "traffic stalled"
            time.sleep(0.01)


def admin(gateway: DevGateway) -> dict[str, str]:
    return {"authorization": f"Bearer {gateway.admin_key}"}


def test_rotation_under_live_traffic_loses_no_request(dev_gateway: DevGateway) -> None:
    created = httpx.post(
        f"{dev_gateway.base_url}/openai/v1/api-keys",
        json={
            "name": "live-app",
            "grace_period_hours": 1,
            "quiet_period_hours": 1,
            "retire_deadline_hours": 4,
        },
        headers=admin(dev_gateway),
    ).json()
    old_key = created["key"]
    with Traffic(dev_gateway, old_key) as traffic:
        traffic.wait_for(10)
        rotated = httpx.post(
            f"{dev_gateway.base_url}/openai/v1/api-keys/{created['id']}/rotate",
            headers=admin(dev_gateway),
        ).json()
        traffic.wait_for(10)  # the app has not switched yet: the old secret keeps working
        traffic.key = rotated["key"]  # the deploy: the app now uses the new secret
        traffic.wait_for(10)
    assert len(traffic.statuses) >= 30
    assert {status for _, status in traffic.statuses} == {200}
    assert {key for key, _ in traffic.statuses} == {old_key, rotated["key"]}

    # Two hours later the old secret is past its grace and has been quiet for an hour.
    later = utcnow() + timedelta(hours=2)
    settings = Settings(table_name=dev_gateway.store().table.name)
    run = KeyRotator(dev_gateway.store(), settings, now=lambda: later).run()
    assert run.retired == [key_id_of(old_key)]
    deadline = time.monotonic() + 7  # every instance drops its cached record within 5 s
    while True:
        status = httpx.post(
            f"{dev_gateway.base_url}/openai/v1/chat/completions",
            json={"model": MODEL, "messages": MESSAGES, "max_tokens": 2},
            headers={"authorization": f"Bearer {old_key}"},
        ).status_code
        if status == 401:
            break
        assert time.monotonic() < deadline, "the retired secret is still accepted"
        time.sleep(0.2)
    still = httpx.post(
        f"{dev_gateway.base_url}/openai/v1/chat/completions",
        json={"model": MODEL, "messages": MESSAGES, "max_tokens": 2},
        headers={"authorization": f"Bearer {rotated['key']}"},
    )
    assert still.status_code == 200
