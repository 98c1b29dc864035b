"""The usage poller's unpriced-models step: the first use of a model without a price is
notified once, naming the model and the fix; catalogue models without a price are counted
(issue #18, finding 2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from groq_gateway.core.limits import admission_plan
from groq_gateway.core.pricing import ModelPrice, OperatorPrice
from groq_gateway.core.records import GatewayKey, UsageRecord
from tests.integration.test_usage_poller import NOW, World, emitted
from tests.integration.test_usage_poller import world as usage_poller_world

# The usage poller tests' world (moto's server, the simulator, an SNS probe queue).
world = usage_poller_world

SPEECH_MODEL = "canopylabs/orpheus-v1-english"
ARABIC_SPEECH_MODEL = "canopylabs/orpheus-arabic-saudi"


def meter_unpriced(world: World, key: GatewayKey, at: datetime, model: str, micros: int) -> None:
    """One request charged at the fallback price, admitted and settled as the proxy does."""
    plan = admission_plan(
        key, None, world.settings.org_cap_micros, at, estimated_tokens=10, cost_micros=micros
    )
    admission = world.store.counters.admit(plan)
    usage = UsageRecord(
        key_id=key.key_id,
        team_id=None,
        model=model,
        at=at,
        prompt_tokens=10,
        cost_micros=micros,
        estimated=True,
        unpriced=True,
    )
    world.store.counters.settle(admission, micros=micros, usage=usage)


def test_the_first_use_of_an_unpriced_model_is_notified_once(world: World, capsys: Any) -> None:
    key = world.key("voice-app")
    meter_unpriced(world, key, NOW, SPEECH_MODEL, 550)
    meter_unpriced(world, key, NOW, SPEECH_MODEL, 550)
    capsys.readouterr()

    report = world.poll(NOW + timedelta(minutes=1))

    assert report["unpriced_models"] == [SPEECH_MODEL]
    # The simulator serves both Orpheus models, and neither has a shipped price.
    assert report["unpriced_catalog_models"] == [ARABIC_SPEECH_MODEL, SPEECH_MODEL]
    assert emitted(capsys.readouterr().out)[("UnpricedCatalogModels", ())] == 2
    [event] = world.alerts()
    assert event == {
        "kind": "unpriced_model_used",
        "model": SPEECH_MODEL,
        "requests": 2,
        "charged_usd": "0.0011",
        "period": "2026-11",
    }
    [queued_text] = [
        item for item in world.items("NOTICES#MODELS") if item["sk"] == f"unpriced#{SPEECH_MODEL}"
    ]
    assert queued_text["model"] == SPEECH_MODEL

    meter_unpriced(world, key, NOW + timedelta(minutes=2), SPEECH_MODEL, 550)
    again = world.poll(NOW + timedelta(minutes=3))
    assert again["unpriced_models"] == []
    assert world.alerts() == []  # once per model
    assert again["retired_models"] == []  # the marker is not taken for a retirement


def test_the_notification_names_the_model_and_the_fix(world: World) -> None:
    key = world.key("voice-app")
    meter_unpriced(world, key, NOW, SPEECH_MODEL, 550)
    world.poll(NOW + timedelta(minutes=1), alerts_topic_arn=world.local_aws["AlertsTopic"] + "-x")
    [pending] = world.notices.pending()
    assert (
        pending.subject
        == f"groq-gateway: model {SPEECH_MODEL} has no price: charged at the fallback"
    )
    assert SPEECH_MODEL in pending.email_text
    assert f"groq-gateway prices set {SPEECH_MODEL}" in pending.email_text
    assert "docs/operations.md" in pending.email_text


def test_a_model_priced_since_its_use_is_not_reported(world: World, capsys: Any) -> None:
    key = world.key("voice-app")
    meter_unpriced(world, key, NOW, SPEECH_MODEL, 550)
    price = OperatorPrice(
        model=SPEECH_MODEL,
        price=ModelPrice(per_million_characters=Decimal(22)),
        updated_at=NOW,
        updated_by="ops",
    )
    world.store.table.call(
        "transact_write_items", TransactItems=[world.store.prices.put(price, replacing=None)]
    )
    capsys.readouterr()

    report = world.poll(NOW + timedelta(minutes=1))

    assert report["unpriced_models"] == []
    assert report["unpriced_catalog_models"] == [ARABIC_SPEECH_MODEL]
    assert emitted(capsys.readouterr().out)[("UnpricedCatalogModels", ())] == 1
    assert world.alerts() == []
