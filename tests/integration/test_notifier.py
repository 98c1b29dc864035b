"""The notifier against the sample SNS events in events/, moto's Secrets Manager (the webhook's
URL) and a local webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from groq_gateway.core.event_text import event_subject, format_event_for_email
from groq_gateway.core.events import GATEWAY_EVENT, BudgetPausedEvent
from groq_gateway.core.settings import Settings
from groq_gateway.notifier.webhook import format_message, handle_sns_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(path.name for path in EVENTS.glob("notifier-*.json"))

# What each sample's message must say: what happened, to whom, how much, what to do next.
EXPECTED = {
    "notifier-alarm.json": ["groq-gateway-dev-org-spend-80 is ALARM", "80 %", "runbook"],
    "notifier-gateway-event.json": ["Team `chatbot`", "80 %", "$80.10 of $100.00", "Next:"],
    "notifier-budget-paused.json": [
        "Key `chatbot-prod` (`3f9c0a7d1e2b4c5d`) was paused",
        "$250.04 of its $250.00 budget for 2026-11",
        "2026-12-01 00:00 UTC",
        "PATCH /openai/v1/api-keys/3f9c0a7d1e2b4c5d",
    ],
    "notifier-budget-resumed.json": [
        "Key `chatbot-prod`",
        "resumed",
        "the 2026-12 billing month started",
        "Next: nothing to do",
    ],
    "notifier-model-retired.json": [
        "`llama-3.1-8b-instant`",
        "key `chatbot-prod`, key `support-bot`, team `chatbot`",
        "404 `model_not_found`",
        "model_aliases",
    ],
    "notifier-upstream-key-needed.json": ["no replacement key is staged", "`staged`"],
}


@dataclass
class Receiver:
    """A Slack-compatible incoming webhook on localhost that answers ``status``."""

    url: str
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def webhook(local_aws: dict[str, str]) -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            receiver.received.append(json.loads(self.rfile.read(length)))
            self.send_response(receiver.status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hook"
    boto3.client("secretsmanager").put_secret_value(
        SecretId=local_aws["AlertWebhookSecret"], SecretString=json.dumps({"url": receiver.url})
    )
    yield receiver
    server.shutdown()


def settings_for(local_aws: dict[str, str]) -> Settings:
    return Settings.model_validate(
        {
            "table_name": local_aws["GatewayTable"],
            "webhook_secret_id": local_aws["AlertWebhookSecret"],
        }
    )


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def test_every_sample_has_expectations() -> None:
    assert set(SAMPLES) == set(EXPECTED)


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_becomes_one_short_readable_message(
    local_aws: dict[str, str], webhook: Receiver, name: str
) -> None:
    counts = handle_sns_event(sample(name), settings_for(local_aws))

    assert counts == {"delivered": 1, "dropped": 0, "skipped": 0}
    [posted] = webhook.received
    text = posted["text"]
    for fragment in EXPECTED[name]:
        assert fragment in text, fragment
    assert len(text) < 700
    assert text.count("\n") <= 4


@pytest.mark.parametrize("name", [n for n in SAMPLES if n != "notifier-alarm.json"])
def test_gateway_event_samples_are_what_the_code_publishes(name: str) -> None:
    """Each sample's message parses as the event model, and its subject is the one the outbox
    gives it."""
    sns = sample(name)["Records"][0]["Sns"]
    event = GATEWAY_EVENT.validate_json(sns["Message"])
    assert json.loads(sns["Message"])["kind"] == event.kind
    assert sns["Subject"] == event_subject(event)
    assert len(sns["Subject"]) <= 100
    assert sns["Subject"].isascii()


@pytest.mark.parametrize(
    "message",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"kind": "budget_threshold", "scope": "team"}),  # fields missing
        json.dumps({"kind": "budget_exploded", "scope_id": "chatbot"}),  # unknown kind
        json.dumps({"AlarmName": "x", "NewStateValue": "MAYBE"}),
        json.dumps({"hello": "world"}),
    ],
)
def test_malformed_messages_are_logged_and_dropped_not_retried(
    local_aws: dict[str, str], webhook: Receiver, message: str
) -> None:
    event = sample("notifier-gateway-event.json")
    event["Records"][0]["Sns"]["Message"] = message

    assert handle_sns_event(event, settings_for(local_aws)) == {
        "delivered": 0,
        "dropped": 1,
        "skipped": 0,
    }
    assert webhook.received == []


def test_a_batch_delivers_the_good_records_and_drops_the_bad(
    local_aws: dict[str, str], webhook: Receiver
) -> None:
    good = sample("notifier-budget-paused.json")["Records"][0]
    bad = sample("notifier-gateway-event.json")["Records"][0]
    bad["Sns"]["Message"] = "{}"

    counts = handle_sns_event({"Records": [good, bad, "junk"]}, settings_for(local_aws))

    assert counts == {"delivered": 1, "dropped": 2, "skipped": 0}
    assert len(webhook.received) == 1


def test_not_an_sns_event_is_dropped(local_aws: dict[str, str], webhook: Receiver) -> None:
    assert handle_sns_event({"unexpected": True}, settings_for(local_aws))["dropped"] == 1
    assert webhook.received == []


def test_without_a_webhook_alerts_are_left_to_e_mail(local_aws: dict[str, str]) -> None:
    counts = handle_sns_event(sample("notifier-model-retired.json"), settings_for(local_aws))
    assert counts == {"delivered": 0, "dropped": 0, "skipped": 1}


def test_a_failing_webhook_raises_so_lambda_retries(
    local_aws: dict[str, str], webhook: Receiver
) -> None:
    webhook.status = 500
    with pytest.raises(httpx.HTTPStatusError):
        handle_sns_event(sample("notifier-budget-paused.json"), settings_for(local_aws))


def test_an_organisation_threshold_names_the_cap_to_raise() -> None:
    message = json.dumps(
        {
            "kind": "budget_threshold",
            "scope": "org",
            "scope_id": "org",
            "threshold_percent": 100,
            "spend_usd": "1000.00",
            "budget_usd": "1000.00",
            "period": "2026-11",
            "resets_at": "2026-12-01T00:00:00Z",
        }
    )
    text = format_message(message)
    assert text is not None
    assert text.startswith(":moneybag: The organisation has used 100 % of its 2026-11 budget")
    assert "refused until the month ends on 2026-12-01 00:00 UTC" in text
    assert "`OrgMonthlyCapUSD`" in text


def test_a_resume_after_a_raised_budget_says_so() -> None:
    message = json.dumps(
        {
            "kind": "budget_resumed",
            "scope": "team",
            "scope_id": "chatbot",
            "reason": "budget_changed",
            "spend_usd": "100.00",
            "budget_usd": "150.00",
            "period": "2026-11",
        }
    )
    assert format_message(message) == (
        ":arrow_forward: Team `chatbot` was resumed after its budget pause: its budget was "
        "raised to $150.00 ($100.00 spent so far in 2026-11).\nNext: nothing to do."
    )


def test_subjects_are_what_sns_accepts_and_e_mails_carry_no_emoji_codes() -> None:
    event = BudgetPausedEvent(
        scope="key",
        scope_id="3f9c0a7d1e2b4c5d",
        name="bot\nwith a line break and an émoji " + "x" * 100,
        spend_usd=Decimal("1.00"),
        budget_usd=Decimal("1.00"),
        period="2026-11",
        resets_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    subject = event_subject(event)
    assert len(subject) == 100
    assert all(" " <= c <= "~" for c in subject)
    assert subject.startswith("groq-gateway: Key bot?with a line break and an ?moji")
    assert format_event_for_email(event).startswith("Key `bot\nwith")
