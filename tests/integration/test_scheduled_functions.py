"""The scheduled functions against moto's server and the simulator (the usage poller's
rollups and budgets: test_usage_poller.py; the notifier: test_notifier.py)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from groq_gateway.alert_outbox import publish_outbox
from groq_gateway.core.event_text import event_subject
from groq_gateway.core.events import UpstreamKeyNeededEvent
from groq_gateway.core.records import KeyStatus
from groq_gateway.core.settings import Settings
from groq_gateway.rotation.run import handle_rotation_event
from groq_gateway.rotation.upstream_key import RejectedKeyError
from groq_gateway.store import GatewayStore
from groq_gateway.usage_poller.run import handle_poll_event
from groq_gateway_dev.devserver.template import TemplateModel
from tests.conftest import STAGED_UPSTREAM_KEY, UPSTREAM_KEY
from tests.integration.test_store import NOW, new_key


def settings_for(local_aws: dict[str, str], **changes: object) -> Settings:
    values: dict[str, object] = {
        "table_name": local_aws["GatewayTable"],
        "upstream_key_secret_id": local_aws["UpstreamKeySecret"],
        "alerts_topic_arn": local_aws["AlertsTopic"],
        "webhook_secret_id": local_aws["AlertWebhookSecret"],
    }
    values.update(changes)
    return Settings.model_validate(values)


# -- rotation: expiry ---------------------------------------------------------------------


def test_expired_keys_are_disabled_once(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    expired = new_key("old", expires_at=NOW - timedelta(minutes=1))
    current = new_key("current", expires_at=NOW + timedelta(days=1))
    forever = new_key("forever")
    for key in (expired, current, forever):
        store.keys.create(key)
    settings = settings_for(local_aws)
    event = {"job": "rotate-due-keys"}
    assert handle_rotation_event(event, settings=settings, now=lambda: NOW)["expired"] == 1
    assert handle_rotation_event(event, settings=settings, now=lambda: NOW)["expired"] == 0
    statuses = {k.name: k.status for k in store.keys.list_all()}
    assert statuses == {
        "old": KeyStatus.EXPIRED,
        "current": KeyStatus.ACTIVE,
        "forever": KeyStatus.ACTIVE,
    }


# -- rotation: the upstream key's four steps ------------------------------------------------


def stage_keys(local_aws: dict[str, str], staged: list[str]) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=local_aws["UpstreamKeySecret"],
        SecretString=json.dumps({"active": UPSTREAM_KEY, "staged": staged}),
    )


def current_value(local_aws: dict[str, str]) -> dict[str, Any]:
    value = boto3.client("secretsmanager").get_secret_value(
        SecretId=local_aws["UpstreamKeySecret"], VersionStage="AWSCURRENT"
    )
    return dict(json.loads(value["SecretString"]))


def run_step(local_aws: dict[str, str], settings: Settings, step: str, token: str) -> None:
    event = {"Step": step, "SecretId": local_aws["UpstreamKeySecret"], "ClientRequestToken": token}
    handle_rotation_event(event, settings=settings)


def test_each_step_twice_promotes_the_staged_key_once(
    local_aws: dict[str, str], simulator_url: str
) -> None:
    stage_keys(local_aws, [STAGED_UPSTREAM_KEY, "gsk_next"])
    settings = settings_for(local_aws, upstream_base_url=simulator_url)
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        run_step(local_aws, settings, step, token)
        run_step(local_aws, settings, step, token)
    assert current_value(local_aws) == {
        "active": STAGED_UPSTREAM_KEY,
        "staged": ["gsk_next"],
        "previous": UPSTREAM_KEY,
    }
    versions = boto3.client("secretsmanager").list_secret_version_ids(
        SecretId=local_aws["UpstreamKeySecret"]
    )["Versions"]
    assert sum(1 for v in versions if v["VersionId"] == token) == 1


def test_a_key_groq_refuses_fails_the_test_step(
    local_aws: dict[str, str], simulator_url: str
) -> None:
    stage_keys(local_aws, ["gsk_not_known_to_groq"])
    settings = settings_for(local_aws, upstream_base_url=simulator_url)
    token = str(uuid.uuid4())
    run_step(local_aws, settings, "createSecret", token)
    with pytest.raises(RejectedKeyError):
        run_step(local_aws, settings, "testSecret", token)
    assert current_value(local_aws)["active"] == UPSTREAM_KEY


def alerts_probe(local_aws: dict[str, str]) -> str:
    """An SQS queue subscribed to the alerts topic; returns its URL."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="alerts-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    boto3.client("sns").subscribe(
        TopicArn=local_aws["AlertsTopic"], Protocol="sqs", Endpoint=queue_arn
    )
    return str(queue_url)


def published_alerts(queue_url: str) -> list[dict[str, Any]]:
    """The SNS notifications the probe received (``Subject``, ``Message``, ...)."""
    messages = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return [dict(json.loads(message["Body"])) for message in messages.get("Messages", [])]


def test_no_staged_key_changes_nothing_and_asks_for_one(local_aws: dict[str, str]) -> None:
    stage_keys(local_aws, [])
    queue_url = alerts_probe(local_aws)
    settings = settings_for(local_aws)
    run_step(local_aws, settings, "createSecret", str(uuid.uuid4()))
    [notification] = published_alerts(queue_url)
    alert = json.loads(notification["Message"])
    assert alert == {"kind": "upstream_key_needed", "secret_id": local_aws["UpstreamKeySecret"]}
    assert notification["Subject"] == event_subject(UpstreamKeyNeededEvent.model_validate(alert))
    assert GatewayStore(settings.table_name).notices.pending() == []  # published, so dequeued
    assert current_value(local_aws)["active"] == UPSTREAM_KEY


def test_an_upstream_key_alert_sns_refuses_stays_queued_for_the_next_run(
    local_aws: dict[str, str],
) -> None:
    stage_keys(local_aws, [])
    queue_url = alerts_probe(local_aws)
    refusing = settings_for(local_aws, alerts_topic_arn=local_aws["AlertsTopic"] + "-gone")
    run_step(local_aws, refusing, "createSecret", str(uuid.uuid4()))
    notices = GatewayStore(refusing.table_name).notices
    [queued] = notices.pending()
    assert queued.kind == "upstream_key_needed"
    expected = {"kind": "upstream_key_needed", "secret_id": local_aws["UpstreamKeySecret"]}
    assert json.loads(queued.event_json) == expected

    assert publish_outbox(settings_for(local_aws), notices, NOW).published == 1
    [notification] = published_alerts(queue_url)
    assert json.loads(notification["Message"]) == expected
    assert notices.pending() == []


# -- rotation: a fresh stack's empty secret ------------------------------------------------


@pytest.fixture
def refusing_upstream() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for Groq that answers 401 to everything: its URL, and the bearer keys of
    the requests it received."""
    received: list[str] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(self.headers.get("authorization", "").removeprefix("Bearer "))
            self.send_response(401)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def fresh_secret(local_aws: dict[str, str], template: TemplateModel) -> str:
    """Give the upstream secret the value template.yaml creates it with; its version id."""
    initial = template.resources["UpstreamKeySecret"]["Properties"]["SecretString"]
    assert json.loads(initial)["active"] == ""
    return str(
        boto3.client("secretsmanager").put_secret_value(
            SecretId=local_aws["UpstreamKeySecret"], SecretString=initial
        )["VersionId"]
    )


def versions_to_stages(local_aws: dict[str, str]) -> dict[str, list[str]]:
    described = boto3.client("secretsmanager").describe_secret(
        SecretId=local_aws["UpstreamKeySecret"]
    )
    return {v: s for v, s in described.get("VersionIdsToStages", {}).items() if s}


def test_rotating_a_fresh_empty_secret_ends_cleanly_without_calling_groq(
    local_aws: dict[str, str],
    template: TemplateModel,
    refusing_upstream: tuple[str, list[str]],
) -> None:
    upstream_url, received = refusing_upstream
    current_version = fresh_secret(local_aws, template)
    before = current_value(local_aws)
    queue_url = alerts_probe(local_aws)
    settings = settings_for(local_aws, upstream_base_url=upstream_url)
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        run_step(local_aws, settings, step, token)
        run_step(local_aws, settings, step, token)  # each step may run again

    assert received == []  # Groq was never called
    assert current_value(local_aws) == before
    stages = versions_to_stages(local_aws)
    assert "AWSCURRENT" in stages[current_version]
    pending = [v for v, s in stages.items() if "AWSPENDING" in s]
    assert pending in ([], [current_version])  # nothing blocks the next rotation
    assert len(published_alerts(queue_url)) == 1  # the operator is asked once


def test_a_pending_value_equal_to_the_current_one_is_not_tested(
    local_aws: dict[str, str],
    template: TemplateModel,
    refusing_upstream: tuple[str, list[str]],
) -> None:
    """What Secrets Manager runs when the schedule is created without rotating at once: the
    testSecret step alone, on an AWSPENDING copy of the current value."""
    upstream_url, received = refusing_upstream
    fresh_secret(local_aws, template)
    token = str(uuid.uuid4())
    current = boto3.client("secretsmanager").get_secret_value(
        SecretId=local_aws["UpstreamKeySecret"], VersionStage="AWSCURRENT"
    )["SecretString"]
    boto3.client("secretsmanager").put_secret_value(
        SecretId=local_aws["UpstreamKeySecret"],
        ClientRequestToken=token,
        SecretString=current,
        VersionStages=["AWSPENDING"],
    )
    run_step(
        local_aws, settings_for(local_aws, upstream_base_url=upstream_url), "testSecret", token
    )
    assert received == []


def test_after_an_empty_rotation_a_staged_key_is_still_tested_against_groq(
    local_aws: dict[str, str],
    template: TemplateModel,
    refusing_upstream: tuple[str, list[str]],
) -> None:
    upstream_url, received = refusing_upstream
    fresh_secret(local_aws, template)
    settings = settings_for(local_aws, upstream_base_url=upstream_url)
    first = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        run_step(local_aws, settings, step, first)

    boto3.client("secretsmanager").put_secret_value(
        SecretId=local_aws["UpstreamKeySecret"],
        SecretString=json.dumps({"active": "", "staged": ["gsk_refused_by_groq"]}),
    )
    second = str(uuid.uuid4())
    run_step(local_aws, settings, "createSecret", second)
    run_step(local_aws, settings, "setSecret", second)
    with pytest.raises(RejectedKeyError):
        run_step(local_aws, settings, "testSecret", second)
    assert received == ["gsk_refused_by_groq"]
    assert current_value(local_aws)["active"] == ""


# -- usage poller ---------------------------------------------------------------------------


def test_poller_refreshes_the_model_catalogue(
    local_aws: dict[str, str], simulator_url: str
) -> None:
    settings = settings_for(local_aws, upstream_base_url=simulator_url)
    result = handle_poll_event({"job": "poll-usage"}, settings=settings)
    catalog = GatewayStore(settings.table_name).catalog.get()
    assert catalog is not None
    assert result["models"] == len(catalog)
    assert "openai/gpt-oss-20b" in catalog
    assert "mixtral-8x7b-32768" not in catalog  # decommissioned: Groq lists it inactive


def test_poller_survives_an_unreachable_upstream(local_aws: dict[str, str]) -> None:
    settings = settings_for(local_aws, upstream_base_url="http://127.0.0.1:9")
    result = handle_poll_event({"job": "poll-usage"}, settings=settings)
    assert result["models"] is None
    assert GatewayStore(settings.table_name).catalog.get() is None
