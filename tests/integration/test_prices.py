"""Prices: a model without one is charged at the fallback (or refused), never free; operators
set and delete prices through the admin API, audited, and the proxy applies them without a
redeploy (issue #18, finding 2)."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from groq_gateway.admin.services.prices import PriceService
from groq_gateway.core.audit import Actor
from groq_gateway.core.periods import day_of, utcnow
from groq_gateway.core.pricing import ModelPrice, OperatorPrice, PriceBook, UnpricedPolicy
from groq_gateway.core.records import DailyUsage
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.proxy.live_prices import LivePrices
from groq_gateway.store import GatewayStore
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway
from tests.integration.test_proxy_limits_and_metering import CHAT, MODEL, add_key, auth
from tests.reliability_report import RELIABILITY

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
SPEECH_MODEL = "canopylabs/orpheus-v1-english"  # served by Groq, no price shipped
SPEECH = {"model": SPEECH_MODEL, "input": "Hello from the gateway", "voice": "troy"}
# The shipped fallbacks: no speech price is shipped, so the floor ($50 per million characters);
# tokens at the highest input ($0.60/M) and output ($3.00/M) price shipped.
SPEECH_FALLBACK_PER_MILLION = Decimal(50)


def usage_today(gateway: LocalGateway, key_id: str) -> dict[str, DailyUsage]:
    today = day_of(utcnow())
    return {u.model: u for u in gateway.store.usage.for_key(key_id, today, today)}


async def speech(client: httpx.AsyncClient, plaintext: str) -> httpx.Response:
    return await client.post("/openai/v1/audio/speech", json=SPEECH, headers=auth(plaintext))


def proxy_client(gateway: LocalGateway, app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy.test")


# -- charging models without a price -------------------------------------------------------


async def test_speech_without_a_price_is_charged_at_the_fallback_and_flagged(
    gateway: LocalGateway,
) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(1))
    for _ in range(3):
        response = await speech(gateway.client, plaintext)
        assert response.status_code == 200, response.text
    RELIABILITY.count_money("unpriced requests charged", 3)

    used = usage_today(gateway, key.key_id)[SPEECH_MODEL]
    per_request = math.ceil(SPEECH_FALLBACK_PER_MILLION * len(SPEECH["input"]))
    assert used.requests == 3
    assert used.cost_micros == 3 * per_request > 0
    assert (used.estimated_requests, used.unpriced_requests) == (3, 3)


async def test_a_zero_budget_refuses_a_model_without_a_price(gateway: LocalGateway) -> None:
    # Before: five speech calls at $0 each were all admitted under a $0 budget.
    _, plaintext = add_key(gateway, monthly_budget_usd=Decimal(0))
    await gateway.upstream.delete("/_simulator/requests")
    response = await speech(gateway.client, plaintext)
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "spending_cap_reached"
    assert (await gateway.upstream.get("/_simulator/requests")).json() == []


async def test_a_chat_model_without_a_price_is_charged_the_highest_token_prices(
    gateway: LocalGateway,
) -> None:
    shipped = PriceBook.load(overrides="")
    without_model = replace(shipped, prices={m: p for m, p in shipped.prices.items() if m != MODEL})
    app = create_proxy_app(
        gateway.settings,
        prices=without_model,
        upstream_transport=httpx.ASGITransport(app=gateway.simulator),
    )
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(1))
    async with proxy_client(gateway, app) as client:
        response = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
    assert response.status_code == 200, response.text
    RELIABILITY.count_money("unpriced requests charged")
    usage = response.json()["usage"]
    used = usage_today(gateway, key.key_id)[MODEL]
    expected = math.ceil(
        Decimal("0.60") * usage["prompt_tokens"] + Decimal("3.00") * usage["completion_tokens"]
    )
    assert used.cost_micros == expected > 0
    assert (used.estimated_requests, used.unpriced_requests) == (1, 1)


async def test_refuse_mode_refuses_unpriced_models_before_admission(
    gateway: LocalGateway,
) -> None:
    settings = gateway.settings.model_copy(update={"unpriced_models": UnpricedPolicy.REFUSE})
    app = create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=gateway.simulator))
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(1))
    await gateway.upstream.delete("/_simulator/requests")
    async with proxy_client(gateway, app) as client:
        refused = await speech(client, plaintext)
        priced = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("model_unpriced", "model")
    assert SPEECH_MODEL in error["message"]
    assert "groq-gateway prices set" in error["message"]
    assert priced.status_code == 200  # priced models are unaffected
    forwarded = (await gateway.upstream.get("/_simulator/requests")).json()
    assert [call["path"] for call in forwarded] == ["/openai/v1/chat/completions"]
    assert SPEECH_MODEL not in usage_today(gateway, key.key_id)


# -- the admin API --------------------------------------------------------------------------


async def test_prices_are_listed_with_their_source_set_and_deleted_audited(
    gateway: LocalGateway,
) -> None:
    listed = await gateway.client.get("/openai/v1/prices", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    by_model = {p["model"]: p for p in body["data"]}
    assert by_model[MODEL]["source"] == "shipped"
    assert by_model[MODEL]["input_per_million"] == "0.075"
    assert SPEECH_MODEL not in by_model
    assert body["batch_discount"] == "0.50"
    assert body["unpriced_models"] == {
        "policy": "charge",
        "input_per_million": "0.60",
        "output_per_million": "3.00",
        "per_audio_hour": "0.111",
        "per_million_characters": "50.00",
    }

    put = await gateway.client.put(
        f"/openai/v1/prices/{SPEECH_MODEL}",
        json={"per_million_characters": "22"},
        headers=ADMIN,
    )
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "operator"
    assert put.json()["updated_by"] == "bootstrap-admin"
    override = await gateway.client.put(
        f"/openai/v1/prices/{MODEL}",
        json={"input_per_million": 1, "output_per_million": "2.5"},
        headers=ADMIN,
    )
    assert override.status_code == 200, override.text
    by_model = {
        p["model"]: p
        for p in (await gateway.client.get("/openai/v1/prices", headers=ADMIN)).json()["data"]
    }
    assert by_model[SPEECH_MODEL]["source"] == "operator"
    assert by_model[SPEECH_MODEL]["per_million_characters"] == "22"
    assert (by_model[MODEL]["source"], by_model[MODEL]["output_per_million"]) == (
        "operator",
        "2.5",
    )

    deleted = await gateway.client.delete(f"/openai/v1/prices/{MODEL}", headers=ADMIN)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["effective"]["source"] == "shipped"
    assert deleted.json()["effective"]["input_per_million"] == "0.075"
    again = await gateway.client.delete(f"/openai/v1/prices/{MODEL}", headers=ADMIN)
    assert again.status_code == 404
    unpriced = await gateway.client.delete(f"/openai/v1/prices/{SPEECH_MODEL}", headers=ADMIN)
    assert unpriced.json()["effective"] is None  # unpriced again: the fallback applies

    log = await gateway.client.get("/openai/v1/audit-log", headers=ADMIN)
    entries = [(e["action"], e["target_type"], e["target_id"]) for e in log.json()["data"]]
    assert entries[:4] == [
        ("price.deleted", "price", SPEECH_MODEL),
        ("price.deleted", "price", MODEL),
        ("price.set", "price", MODEL),
        ("price.set", "price", SPEECH_MODEL),
    ]
    first_set = log.json()["data"][3]
    assert first_set["before"] is None
    assert first_set["after"]["price"] == {"per_million_characters": "22"}


async def test_only_a_full_admin_changes_prices_and_bad_prices_are_refused(
    gateway: LocalGateway,
) -> None:
    created = await gateway.client.post(
        "/openai/v1/admin-keys", json={"name": "dashboards", "role": "read_only"}, headers=ADMIN
    )
    read_only = {"authorization": f"Bearer {created.json()['key']}"}
    assert (await gateway.client.get("/openai/v1/prices", headers=read_only)).status_code == 200
    refused = await gateway.client.put(
        f"/openai/v1/prices/{MODEL}", json={"per_audio_hour": "1"}, headers=read_only
    )
    assert refused.status_code == 403
    for bad in (
        {},  # prices nothing
        {"input_per_million": "1"},  # half a token price
        {"input_per_million": "-1", "output_per_million": "1"},
        {"per_audio_hour": "1", "surprise": "1"},
        {"per_audio_hour": "abc"},
    ):
        response = await gateway.client.put(f"/openai/v1/prices/{MODEL}", json=bad, headers=ADMIN)
        assert response.status_code in (400, 422), (bad, response.text)
        assert "error" in response.json()
    bad_id = await gateway.client.put(
        "/openai/v1/prices/-bad id", json={"per_audio_hour": "1"}, headers=ADMIN
    )
    assert bad_id.status_code in (400, 404, 422)
    log = await gateway.client.get("/openai/v1/audit-log", headers=ADMIN)
    assert not [e for e in log.json()["data"] if e["target_type"] == "price"]


# -- a price change reaches the proxy -------------------------------------------------------


async def test_a_price_change_reaches_the_proxy_within_the_refresh_interval(
    gateway: LocalGateway,
) -> None:
    refresh = 0.3
    settings = gateway.settings.model_copy(update={"price_refresh_seconds": refresh})
    app = create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=gateway.simulator))
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(1))
    characters = len(SPEECH["input"])
    async with proxy_client(gateway, app) as client:
        assert (await speech(client, plaintext)).status_code == 200  # unpriced: the fallback
        put = await gateway.client.put(
            f"/openai/v1/prices/{SPEECH_MODEL}",
            json={"per_million_characters": "10"},
            headers=ADMIN,
        )
        assert put.status_code == 200
        changed_at = time.monotonic()
        await anyio.sleep(refresh)
        # The first request after the interval is priced with the copy it finds, and its
        # response refreshes the copy; every later one pays the new price.
        await speech(client, plaintext)
        assert (await speech(client, plaintext)).status_code == 200
        assert time.monotonic() - changed_at < refresh + 5
    used = usage_today(gateway, key.key_id)[SPEECH_MODEL]
    fallback = math.ceil(SPEECH_FALLBACK_PER_MILLION * characters)
    operator = math.ceil(Decimal(10) * characters)
    # The first two at the fallback (the second found the copy loaded at init), the third at
    # the operator's price.
    assert (used.requests, used.unpriced_requests) == (3, 2)
    assert used.cost_micros == 2 * fallback + operator


async def test_concurrent_price_changes_leave_an_unbroken_audit_chain(
    gateway: LocalGateway,
) -> None:
    async def put(n: int) -> httpx.Response:
        return await gateway.client.put(
            f"/openai/v1/prices/{SPEECH_MODEL}",
            json={"per_million_characters": str(n)},
            headers=ADMIN,
        )

    async with anyio.create_task_group() as group:
        for n in range(1, 9):
            group.start_soon(put, n)
    log = await gateway.client.get(
        "/openai/v1/audit-log", params={"target": SPEECH_MODEL}, headers=ADMIN
    )
    entries = list(reversed(log.json()["data"]))  # oldest first
    assert entries
    assert entries[0]["before"] is None
    for earlier, later in itertools.pairwise(entries):
        assert later["before"] == earlier["after"]  # no change lost between two entries
    stored = gateway.store.prices.get(SPEECH_MODEL)
    assert stored is not None
    assert entries[-1]["after"]["price"] == {
        "per_million_characters": str(stored.price.per_million_characters)
    }


async def test_the_proxy_keeps_its_prices_when_the_table_cannot_be_read(
    gateway: LocalGateway,
) -> None:
    now = [1000.0]
    books: list[PriceBook] = []
    shipped = PriceBook.load(overrides="")
    unreadable = LivePrices(
        shipped,
        GatewayStore("no-such-table", gateway.store.table.client),
        refresh_seconds=60,
        on_change=books.append,
        clock=lambda: now[0],
    )
    unreadable.load()
    assert unreadable.book is shipped
    assert not unreadable.stale  # the next try is one interval later, not after every response
    now[0] += 60
    assert unreadable.stale

    price = OperatorPrice(
        model=SPEECH_MODEL,
        price=ModelPrice(per_million_characters=Decimal(22)),
        updated_at=utcnow(),
        updated_by="ops",
    )
    gateway.store.table.call(
        "transact_write_items", TransactItems=[gateway.store.prices.put(price, replacing=None)]
    )
    readable = LivePrices(
        shipped, gateway.store, refresh_seconds=60, on_change=books.append, clock=lambda: now[0]
    )
    readable.load()
    [book] = books
    assert book.speech_cost(SPEECH_MODEL, 1000).micros == 22_000
    readable.load()
    assert len(books) == 1  # unchanged prices: no new book


async def test_a_change_committed_while_another_took_its_time_keeps_the_chain_in_order(
    gateway: LocalGateway,
) -> None:
    """The race behind a flaky chain: A takes its time, B changes the price, A then reads B's
    price and writes after it. A's entry must not sort before B's (A's time is taken after
    its read)."""
    start = utcnow()
    actor = Actor("bootstrap", "bootstrap-admin")
    shipped = PriceBook.load(overrides="")
    b = PriceService(gateway.store, shipped, now=lambda: start + timedelta(seconds=2))
    b_done: list[bool] = []

    def a_clock() -> Any:
        if not b_done:  # B commits between A's clock and whatever A does next
            b_done.append(True)
            b.set(SPEECH_MODEL, ModelPrice(per_million_characters=Decimal(2)), actor)
            return start + timedelta(seconds=1)
        return start + timedelta(seconds=3)

    a = PriceService(gateway.store, shipped, now=a_clock)
    a.set(SPEECH_MODEL, ModelPrice(per_million_characters=Decimal(3)), actor)

    log = await gateway.client.get(
        "/openai/v1/audit-log", params={"target": SPEECH_MODEL}, headers=ADMIN
    )
    entries = list(reversed(log.json()["data"]))  # oldest first
    assert [e["after"]["price"]["per_million_characters"] for e in entries] == ["2", "3"]
    assert entries[1]["before"] == entries[0]["after"]
