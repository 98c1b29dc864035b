"""Files and batches through the proxy, in-process against moto's server and the simulator's own
process (which the usage poller reaches too): issue #18 findings 1 (batches escaped the
allowlist, the caps and metering) and 6 (every key saw every key's files and batches)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from groq_gateway.admin.app import create_app as create_admin_app
from groq_gateway.core.batches import BatchState
from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.pricing import default_price_book
from groq_gateway.core.records import EndpointGroup, GatewayKey
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.store import GatewayStore
from groq_gateway.usage_poller.batch_settlement import settle_ended_batches
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY
from tests.integration.conftest import gateway_settings
from tests.integration.test_store import new_key_with_plaintext

pytestmark = pytest.mark.anyio

GPT = "openai/gpt-oss-120b"
SMALL = "openai/gpt-oss-20b"
LLAMA = "llama-3.1-8b-instant"
BATCH_RIGHTS = ["chat", "models", "files", "batches"]


@dataclass
class BatchWorld:
    """The proxy on its own, forwarding to the simulator process; the poller reaches it too."""

    client: httpx.AsyncClient
    simulator: httpx.AsyncClient
    admin: httpx.AsyncClient
    settings: Settings
    store: GatewayStore

    def key(self, **fields: Any) -> tuple[GatewayKey, str]:
        fields.setdefault("allowed_endpoints", BATCH_RIGHTS)
        key, plaintext = new_key_with_plaintext(**fields)
        self.store.keys.create(key)
        return key, plaintext

    async def upload(self, plaintext: str, lines: list[Any] | bytes) -> httpx.Response:
        content = (
            lines
            if isinstance(lines, bytes)
            else b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        )
        return await self.client.post(
            "/openai/v1/files",
            files={"file": ("batch.jsonl", content, "application/jsonl")},
            data={"purpose": "batch"},
            headers=auth(plaintext),
        )

    async def create(
        self, plaintext: str, file_id: str, endpoint: str = "/v1/chat/completions"
    ) -> httpx.Response:
        body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"}
        return await self.client.post("/openai/v1/batches", json=body, headers=auth(plaintext))

    async def batch_at_groq(self, plaintext: str, lines: list[Any]) -> dict[str, Any]:
        """A batch created through the gateway, admitted."""
        uploaded = await self.upload(plaintext, lines)
        assert uploaded.status_code == 200, uploaded.text
        created = await self.create(plaintext, uploaded.json()["id"])
        assert created.status_code == 200, created.text
        batch: dict[str, Any] = created.json()
        return batch

    async def upstream_paths(self) -> list[str]:
        calls = (await self.simulator.get("/_simulator/requests")).json()
        return [f"{call['method']} {call['path']}" for call in calls]

    def poll(self) -> int:
        return settle_ended_batches(self.settings, self.store, default_price_book(), utcnow())

    def month(self, scope: Scope, scope_id: str) -> tuple[int, int]:
        spend = self.store.counters.month_spend(scope, scope_id, month_of(utcnow()))
        return spend.committed_micros, spend.spent_micros

    def usage(self, key: GatewayKey) -> dict[str, Any]:
        today = utcnow().date().isoformat()
        return {u.model: u for u in self.store.usage.for_key(key.key_id, today, today)}


def auth(plaintext: str) -> dict[str, str]:
    return {"authorization": f"Bearer {plaintext}"}


def chat_line(n: int, model: str, max_tokens: int | None = 16, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": f"hi {n}"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return {"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions", "body": body}


@pytest.fixture
async def world(local_aws: dict[str, str], simulator_url: str) -> AsyncIterator[BatchWorld]:
    settings = gateway_settings(local_aws, upstream_base_url=simulator_url)
    async with (
        httpx.AsyncClient(base_url=simulator_url) as simulator,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_proxy_app(settings)),
            base_url="http://gateway.test",
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_admin_app(settings)),
            base_url="http://gateway.test",
            headers={"authorization": f"Bearer {ADMIN_KEY}"},
        ) as admin,
    ):
        (await simulator.post("/_simulator/reset")).raise_for_status()
        store = GatewayStore(settings.table_name)
        yield BatchWorld(client, simulator, admin, settings, store)


# -- finding 1: batches are checked, capped and metered -----------------------------------


async def test_a_batch_for_a_model_the_key_may_not_use_never_reaches_groq(
    world: BatchWorld,
) -> None:
    """The issue's case: a key allowed only the small model, with a $0 budget."""
    key, plaintext = world.key(allowed_models=[LLAMA], monthly_budget_usd=Decimal(0))
    uploaded = await world.upload(plaintext, [chat_line(n, GPT) for n in range(20)])
    assert uploaded.status_code == 200, uploaded.text

    created = await world.create(plaintext, uploaded.json()["id"])

    assert created.status_code == 403, created.text
    assert created.json()["error"]["code"] == "model_not_available"
    assert f"`{GPT}`" in created.json()["error"]["message"]
    assert "POST /openai/v1/batches" not in await world.upstream_paths()
    assert world.month(Scope.KEY, key.key_id) == (0, 0)


async def test_a_batch_over_the_budget_is_refused_with_the_cap_error(world: BatchWorld) -> None:
    """The issue's second case: $0.01, 300 lines at max_tokens 32,000."""
    key, plaintext = world.key(monthly_budget_usd=Decimal("0.01"))
    uploaded = await world.upload(plaintext, [chat_line(n, GPT, 32_000) for n in range(300)])

    created = await world.create(plaintext, uploaded.json()["id"])

    assert created.status_code == 429, created.text
    assert created.json()["error"]["code"] == "spending_cap_reached"
    assert created.headers["x-should-retry"] == "false"
    assert "POST /openai/v1/batches" not in await world.upstream_paths()
    assert world.month(Scope.KEY, key.key_id) == (0, 0)


async def test_a_batch_line_for_an_endpoint_the_key_may_not_use_is_refused(
    world: BatchWorld,
) -> None:
    _key, plaintext = world.key()  # chat, not responses
    body = {"model": SMALL, "input": "hi", "max_output_tokens": 16}
    line = {"custom_id": "r", "url": "/v1/responses", "body": body}
    uploaded = await world.upload(plaintext, [chat_line(0, SMALL), line])

    created = await world.create(plaintext, uploaded.json()["id"])

    assert created.status_code == 403, created.text
    assert created.json()["error"]["code"] == "endpoint_not_allowed"
    assert "POST /openai/v1/batches" not in await world.upstream_paths()


@pytest.mark.parametrize(
    ("third_line", "reason"),
    [
        (b"not json", "line 3: it cannot be read: The request body is not valid JSON"),
        (b'["a list"]', "line 3: it cannot be read: The request body must be a JSON object"),
        # Parsers disagree on which of two same-named keys counts: Groq could run the other.
        (
            b'{"url": "/v1/chat/completions", "body": {"model": "openai/gpt-oss-120b", '
            b'"model": "openai/gpt-oss-20b", "max_tokens": 5}}',
            "line 3: it cannot be read: The request body names 'model' more than once",
        ),
        (b'{"url": "/v1/chat/completions", "body": {}}', "line 3: it has no `body` object"),
        (b'{"url": "/v1/embeddings", "body": {"model": "x"}}', "line 3: its `url` must be"),
        (
            b'{"url": "/v1/chat/completions", "body": {"model": "openai/gpt-oss-20b", '
            b'"max_tokens": 0}}',
            "line 3: its body is refused",
        ),
    ],
)
async def test_a_line_the_gateway_cannot_check_is_refused_naming_it(
    world: BatchWorld, third_line: bytes, reason: str
) -> None:
    _key, plaintext = world.key()
    good = json.dumps(chat_line(0, SMALL)).encode()
    uploaded = await world.upload(plaintext, b"\n".join([good, good, third_line, good]))

    created = await world.create(plaintext, uploaded.json()["id"])

    assert created.status_code == 400, created.text
    error = created.json()["error"]
    assert error["code"] == "invalid_batch_file"
    assert reason in error["message"]
    assert "POST /openai/v1/batches" not in await world.upstream_paths()


async def test_an_admitted_batch_reserves_its_worst_case_on_key_team_and_org(
    world: BatchWorld,
) -> None:
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    lines = [chat_line(n, GPT, 100) for n in range(3)] + [chat_line(9, SMALL, 50)]

    batch = await world.batch_at_groq(plaintext, lines)

    record = world.store.batches.batch(key.key_id, batch["id"])
    assert record is not None
    assert record.state is BatchState.OPEN
    prices = default_price_book()
    assert record.reserved_micros > prices.token_cost(GPT, 0, 300, batch=True).micros
    assert {r.scope for r in record.reservations} == {Scope.KEY, Scope.ORG}
    assert world.month(Scope.KEY, key.key_id) == (record.reserved_micros, 0)
    assert world.month(Scope.ORG, "org")[0] >= record.reserved_micros


async def test_the_client_seeing_the_end_meters_it_per_model_once(world: BatchWorld) -> None:
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    lines = [chat_line(n, GPT, 100) for n in range(3)] + [chat_line(9, SMALL, 50)]
    batch = await world.batch_at_groq(plaintext, lines)

    shown = await world.client.get(f"/openai/v1/batches/{batch['id']}", headers=auth(plaintext))
    assert shown.status_code == 200
    assert shown.json()["status"] == "completed"

    usage = world.usage(key)
    assert {model: u.requests for model, u in usage.items()} == {GPT: 3, SMALL: 1}
    prices = default_price_book()
    for model, used in usage.items():
        price = prices.token_cost(model, used.prompt_tokens, used.completion_tokens, batch=True)
        assert used.cost_micros == price.micros > 0
    actual = sum(u.cost_micros for u in usage.values())
    assert world.month(Scope.KEY, key.key_id) == (actual, actual)
    record = world.store.batches.batch(key.key_id, batch["id"])
    assert record is not None
    assert record.state is BatchState.METERED
    assert record.cost_micros == actual
    assert record.lines_metered == 4

    # Seen again, by the client and by the poller: nothing more is metered.
    await world.client.get(f"/openai/v1/batches/{batch['id']}", headers=auth(plaintext))
    assert world.poll() == 0
    assert {m: u.requests for m, u in world.usage(key).items()} == {GPT: 3, SMALL: 1}
    assert world.month(Scope.KEY, key.key_id) == (actual, actual)


async def test_the_poller_meters_a_batch_no_client_looked_at(world: BatchWorld) -> None:
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    batch = await world.batch_at_groq(plaintext, [chat_line(n, LLAMA) for n in range(5)])

    assert world.poll() == 1

    usage = world.usage(key)
    assert usage[LLAMA].requests == 5
    committed, spent = world.month(Scope.KEY, key.key_id)
    assert committed == spent == usage[LLAMA].cost_micros > 0
    shown = await world.client.get(f"/openai/v1/batches/{batch['id']}", headers=auth(plaintext))
    assert shown.json()["status"] == "completed"
    assert world.usage(key)[LLAMA].requests == 5
    assert world.poll() == 0


@pytest.mark.parametrize(("end", "ran"), [("cancelled", 2), ("expired", 1), ("failed", 0)])
async def test_a_batch_cut_short_meters_what_it_ran_and_gives_back_the_rest(
    world: BatchWorld, end: str, ran: int
) -> None:
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    batch = await world.batch_at_groq(plaintext, [chat_line(n, GPT, 200) for n in range(4)])
    reserved = world.month(Scope.KEY, key.key_id)[0]
    ended = await world.simulator.post(
        f"/_simulator/batches/{batch['id']}/end", json={"status": end, "lines": ran}
    )
    assert ended.status_code == 200, ended.text

    shown = await world.client.get("/openai/v1/batches", headers=auth(plaintext))

    assert [b["status"] for b in shown.json()["data"]] == [end]
    usage = world.usage(key)
    assert (usage[GPT].requests if ran else 0) == ran
    actual = usage[GPT].cost_micros if ran else 0
    assert world.month(Scope.KEY, key.key_id) == (actual, actual)
    assert actual < reserved
    assert world.poll() == 0


# -- finding 6: a key sees, reads, cancels and deletes only its own --------------------------


async def test_files_and_batches_are_seen_only_by_the_key_that_owns_them(
    world: BatchWorld,
) -> None:
    owner, owner_key = world.key()
    _, other_key = world.key()
    batch = await world.batch_at_groq(owner_key, [chat_line(0, SMALL)])
    file_id = batch["input_file_id"]

    for path in (
        f"/openai/v1/files/{file_id}",
        f"/openai/v1/files/{file_id}/content",
        f"/openai/v1/batches/{batch['id']}",
    ):
        refused = await world.client.get(path, headers=auth(other_key))
        assert refused.status_code == 404, path
        assert refused.json()["error"]["code"] == "not_found"
    for method, path in (
        ("DELETE", f"/openai/v1/files/{file_id}"),
        ("POST", f"/openai/v1/batches/{batch['id']}/cancel"),
    ):
        refused = await world.client.request(method, path, headers=auth(other_key))
        assert refused.status_code == 404, path
    # The other key's lists hold none of the owner's; its own lists hold them.
    for path in ("/openai/v1/files", "/openai/v1/batches"):
        assert (await world.client.get(path, headers=auth(other_key))).json()["data"] == []
    paths = await world.upstream_paths()
    assert f"GET /openai/v1/files/{file_id}" not in paths
    assert f"DELETE /openai/v1/files/{file_id}" not in paths
    assert f"GET /openai/v1/batches/{batch['id']}" not in paths

    own = await world.client.get(f"/openai/v1/batches/{batch['id']}", headers=auth(owner_key))
    output = own.json()["output_file_id"]
    files = await world.client.get("/openai/v1/files", headers=auth(owner_key))
    assert {f["id"] for f in files.json()["data"]} == {file_id, output}
    content = await world.client.get(f"/openai/v1/files/{output}/content", headers=auth(owner_key))
    assert content.status_code == 200
    assert b'"usage"' in content.content
    assert (
        await world.client.get(f"/openai/v1/files/{output}/content", headers=auth(other_key))
    ).status_code == 404
    deleted = await world.client.delete(f"/openai/v1/files/{file_id}", headers=auth(owner_key))
    assert deleted.status_code == 200
    gone = await world.client.get(f"/openai/v1/files/{file_id}", headers=auth(owner_key))
    assert gone.status_code == 404
    assert world.store.batches.file(owner.key_id, file_id) is None


async def test_a_file_not_uploaded_through_the_gateway_cannot_start_a_batch(
    world: BatchWorld,
) -> None:
    _, plaintext = world.key()
    direct = await world.simulator.post(
        "/openai/v1/files",
        files={"file": ("b.jsonl", json.dumps(chat_line(0, SMALL)).encode())},
        data={"purpose": "batch"},
        headers={"authorization": f"Bearer {UPSTREAM_KEY}"},
    )
    assert direct.status_code == 200, direct.text

    created = await world.create(plaintext, direct.json()["id"])

    assert created.status_code == 404
    assert created.json()["error"]["code"] == "not_found"
    assert "POST /openai/v1/batches" not in await world.upstream_paths()


async def test_a_key_without_the_batches_group_cannot_create_one(world: BatchWorld) -> None:
    _, plaintext = world.key(allowed_endpoints=[EndpointGroup.CHAT, EndpointGroup.FILES])
    uploaded = await world.upload(plaintext, [chat_line(0, SMALL)])

    created = await world.create(plaintext, uploaded.json()["id"])

    assert created.status_code == 403
    assert created.json()["error"]["code"] == "endpoint_not_allowed"


async def test_a_batch_groq_refuses_gives_its_reservation_back(world: BatchWorld) -> None:
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    uploaded = await world.upload(plaintext, [chat_line(0, SMALL)])
    body = {
        "input_file_id": uploaded.json()["id"],
        "endpoint": "/v1/chat/completions",
        "completion_window": "1h",  # Groq's window is 24h to 7d
    }

    refused = await world.client.post("/openai/v1/batches", json=body, headers=auth(plaintext))

    assert refused.status_code == 400
    assert world.month(Scope.KEY, key.key_id) == (0, 0)
    assert world.store.batches.batches_of(key.key_id) == {}


async def test_a_reservation_is_counted_in_the_month_the_batch_was_created(
    world: BatchWorld,
) -> None:
    """The batch ends in a later month: its real cost lands in its reservation's month."""
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    batch = await world.batch_at_groq(plaintext, [chat_line(0, SMALL)])
    record = world.store.batches.batch(key.key_id, batch["id"])
    assert record is not None
    later = utcnow() + timedelta(days=40)

    assert settle_ended_batches(world.settings, world.store, default_price_book(), later) == 1

    committed, spent = world.month(Scope.KEY, key.key_id)
    assert committed == spent > 0
    next_month = month_of(later)
    assert world.store.counters.month_spend(Scope.KEY, key.key_id, next_month).spent_micros == 0


async def test_an_admin_sees_every_keys_batches_and_files_with_their_owners(
    world: BatchWorld,
) -> None:
    first, first_key = world.key()
    second, second_key = world.key(monthly_budget_usd=Decimal(5))
    open_batch = await world.batch_at_groq(first_key, [chat_line(0, SMALL)])
    done_batch = await world.batch_at_groq(second_key, [chat_line(0, GPT), chat_line(1, GPT)])
    assert world.poll() == 2  # both end at the simulator's first look
    await world.client.get(f"/openai/v1/batches/{done_batch['id']}", headers=auth(second_key))
    third = await world.batch_at_groq(first_key, [chat_line(2, SMALL)])

    listed = (await world.admin.get("/openai/v1/admin/batches")).json()

    owners = {b["id"]: (b["key_id"], b["state"]) for b in listed["data"]}
    assert owners == {
        third["id"]: (first.key_id, "open"),
        open_batch["id"]: (first.key_id, "metered"),
        done_batch["id"]: (second.key_id, "metered"),
    }
    assert listed["data"][0]["id"] == third["id"]  # open ones first
    done = next(b for b in listed["data"] if b["id"] == done_batch["id"])
    assert Decimal(done["cost_usd"]) > 0
    assert done["lines_metered"] == 2
    assert Decimal(done["reserved_usd"]) >= Decimal(done["cost_usd"])
    only_open = (await world.admin.get("/openai/v1/admin/batches?state=open")).json()
    assert [b["id"] for b in only_open["data"]] == [third["id"]]
    paged = (await world.admin.get("/openai/v1/admin/batches?limit=2")).json()
    rest = await world.admin.get(f"/openai/v1/admin/batches?after={paged['next_cursor']}")
    assert [b["id"] for b in paged["data"] + rest.json()["data"]] == [
        b["id"] for b in listed["data"]
    ]

    files = (await world.admin.get("/openai/v1/admin/files")).json()["data"]
    by_id = {f["id"]: f for f in files}
    assert by_id[open_batch["input_file_id"]]["key_id"] == first.key_id
    assert by_id[done_batch["input_file_id"]]["models"] == [GPT]
    assert by_id[done_batch["input_file_id"]]["lines"] == 2
    outputs = [f for f in files if f["purpose"] == "batch_output"]
    assert [(f["key_id"], f["batch_id"]) for f in outputs] == [(second.key_id, done_batch["id"])]


async def test_a_list_page_of_other_keys_files_is_followed_to_the_keys_own(
    world: BatchWorld,
) -> None:
    """The SDKs stop at an empty page: the gateway reads on while Groq has more."""
    _, other_key = world.key()
    _, owner_key = world.key()
    for _ in range(3):
        assert (await world.upload(other_key, [chat_line(0, SMALL)])).status_code == 200
    own = (await world.upload(owner_key, [chat_line(0, SMALL)])).json()["id"]

    page = await world.client.get("/openai/v1/files?limit=1", headers=auth(owner_key))

    assert [f["id"] for f in page.json()["data"]] == [own]
    assert page.json()["has_more"] is False


async def test_a_batch_groq_forgot_gives_its_reservation_back_only_past_its_window(
    world: BatchWorld,
) -> None:
    key, plaintext = world.key(monthly_budget_usd=Decimal(5))
    batch = await world.batch_at_groq(plaintext, [chat_line(0, SMALL)])
    reserved = world.month(Scope.KEY, key.key_id)[0]
    (await world.simulator.post("/_simulator/reset")).raise_for_status()  # Groq forgets it
    prices = default_price_book()

    soon = settle_ended_batches(world.settings, world.store, prices, utcnow() + timedelta(days=1))
    assert soon == 0
    assert world.month(Scope.KEY, key.key_id) == (reserved, 0)

    late = settle_ended_batches(world.settings, world.store, prices, utcnow() + timedelta(days=9))
    assert late == 1
    assert world.month(Scope.KEY, key.key_id) == (0, 0)
    record = world.store.batches.batch(key.key_id, batch["id"])
    assert record is not None
    assert (record.state, record.status) == (BatchState.METERED, "not_found")


async def test_a_batch_body_naming_its_input_file_twice_is_refused(world: BatchWorld) -> None:
    # The gateway would check one file and Groq could run the other (another key's).
    _mine, plaintext = world.key(monthly_budget_usd="5")
    _theirs, other = world.key(allowed_models=[SMALL])
    own = (await world.upload(plaintext, [chat_line(0, SMALL)])).json()["id"]
    theirs = (await world.upload(other, [chat_line(0, "openai/gpt-oss-120b")])).json()["id"]
    body = (
        f'{{"input_file_id": "{own}", "input_file_id": "{theirs}", '
        '"endpoint": "/v1/chat/completions", "completion_window": "24h"}'
    )

    created = await world.client.post(
        "/openai/v1/batches", content=body.encode(), headers=auth(plaintext)
    )

    assert created.status_code == 400, created.text
    assert created.json()["error"]["param"] == "input_file_id"
    assert "POST /openai/v1/batches" not in await world.upstream_paths()
