"""Bad admin input is the caller's mistake: a 400 naming the field (or a 422), never a 500 or a
503. Every record the admin schemas admit fits DynamoDB's 400 KB item limit with room to spare,
its audit entry (the record twice, before and after) included; names and descriptions carry no
characters a terminal would act on; JSON is taken as typed, never coerced."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse

from groq_gateway.admin.app import create_app as create_admin_app
from groq_gateway.admin.schemas import (
    MAX_ALIASES,
    MAX_CIDRS,
    MAX_MODEL_ID_LENGTH,
    MAX_MODELS,
)
from groq_gateway.store import GatewayStore
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway
from tests.integration.test_admin_audit import every_item

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
DYNAMODB_ITEM_LIMIT = 400 * 1024
# The widest character a name may hold: 4 bytes in UTF-8, 12 in the audit entry's JSON.
WIDE = "\U0001f600"


def model_ids(count: int, prefix: str = "m") -> list[str]:
    """``count`` distinct model ids of the longest length allowed."""
    return [f"{prefix}{n:06d}".ljust(MAX_MODEL_ID_LENGTH, "x") for n in range(count)]


def cidrs(count: int) -> list[str]:
    """``count`` distinct IPv6 blocks whose text is as long as a normalised one can be."""
    return [f"1111:2222:3333:4444:5555:6666:7777:{0x1000 + n:x}/128" for n in range(count)]


def attribute_size(value: dict[str, Any]) -> int:
    """An attribute value's size by DynamoDB's rules (rounded up where they are fuzzy)."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner) // 2 + 2
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: element}) for element in inner)
    raise AssertionError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


async def post(gateway: LocalGateway, path: str, body: dict[str, Any]) -> Any:
    return await gateway.client.post(f"/openai/v1/{path}", json=body, headers=ADMIN)


async def patch(gateway: LocalGateway, path: str, body: dict[str, Any]) -> Any:
    return await gateway.client.patch(f"/openai/v1/{path}", json=body, headers=ADMIN)


def assert_refused(response: Any, status: int, param: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert (error["param"], error["type"]) == (param, "invalid_request_error")
    return error


# -- finding 9: overflow and item size -------------------------------------------------------


async def test_an_expiry_beyond_the_calendar_in_utc_is_a_400(gateway: LocalGateway) -> None:
    for expires_at in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        created = await post(gateway, "api-keys", {"name": "k", "expires_at": expires_at})
        error = assert_refused(created, 400, "expires_at")
        assert "out of range" in error["message"]
    key = await gateway.create_key(name="k")
    changed = await patch(
        gateway, f"api-keys/{key['id']}", {"expires_at": "9999-12-31T23:59-23:59"}
    )
    assert_refused(changed, 400, "expires_at")


async def test_the_largest_records_the_schemas_admit_fit_in_dynamodb_with_room(
    gateway: LocalGateway,
) -> None:
    """Every list at its bound, every string at its longest in the widest characters; then
    changed whole, so that the audit entry holds two such records."""
    models = model_ids(MAX_MODELS)
    aliases = dict(zip(model_ids(MAX_ALIASES, "a"), models, strict=False))
    team = {
        "id": "t" * 63,
        "description": WIDE * 1024,
        "allowed_models": models,
        "model_aliases": aliases,
        "requests_per_minute": 1_000_000_000,
        "tokens_per_minute": 1_000_000_000,
        "monthly_budget_usd": "999999999.999999",
    }
    assert (await post(gateway, "teams", team)).status_code == 201
    key = {
        "name": WIDE * 128,
        "team": team["id"],
        "description": WIDE * 1024,
        "allowed_models": models,
        "allowed_endpoints": ["chat", "responses", "models", "audio", "files", "batches"],
        "allowed_cidrs": cidrs(MAX_CIDRS),
        "monthly_budget_usd": "999999999.999999",
        "requests_per_minute": 1_000_000_000,
        "tokens_per_minute": 1_000_000_000,
        "expires_at": "9999-12-31T00:00:00Z",
        "rotation_period_days": 3650,
    }
    created = await post(gateway, "api-keys", key)
    assert created.status_code == 201, created.text
    admin_key = {"name": WIDE * 128, "role": "read_only", "description": WIDE * 1024}
    assert (await post(gateway, "admin-keys", admin_key)).status_code == 201
    others = list(reversed(models))
    team_change = {
        "description": "\U0001f601" * 1024,
        "allowed_models": others,
        "model_aliases": dict(zip(model_ids(MAX_ALIASES, "b"), others, strict=False)),
    }
    assert (await patch(gateway, f"teams/{team['id']}", team_change)).status_code == 200
    key_change = {"name": "\U0001f601" * 128, "description": "\U0001f601" * 1024}
    changed = await patch(gateway, f"api-keys/{created.json()['id']}", key_change)
    assert changed.status_code == 200, changed.text
    raw = gateway.store.table.client.scan(TableName=gateway.store.table.name)["Items"]
    sizes = {f"{item['pk']['S']} {item['sk']['S'][:20]}": item_size(item) for item in raw}
    largest = max(sizes.values())
    assert largest < DYNAMODB_ITEM_LIMIT / 2, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    assert len(every_item(gateway)) == len(raw)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("teams", {"id": "t", "allowed_models": model_ids(MAX_MODELS + 1)}, "allowed_models"),
        (
            "teams",
            {"id": "t", "model_aliases": dict.fromkeys(model_ids(MAX_ALIASES + 1), "x")},
            "model_aliases",
        ),
        (
            "teams",
            {"id": "t", "allowed_models": ["m" * (MAX_MODEL_ID_LENGTH + 1)]},
            "allowed_models.0",
        ),
        ("teams", {"id": "t", "description": "d" * 1025}, "description"),
        ("api-keys", {"name": "k", "allowed_models": model_ids(MAX_MODELS + 1)}, "allowed_models"),
        ("api-keys", {"name": "k", "allowed_cidrs": cidrs(MAX_CIDRS + 1)}, "allowed_cidrs"),
        ("api-keys", {"name": "k", "allowed_endpoints": ["chat"] * 50}, "allowed_endpoints"),
        ("api-keys", {"name": "n" * 129}, "name"),
        ("admin-keys", {"name": "k", "role": "full", "description": "d" * 1025}, "description"),
        # What the issue found: ten thousand long model ids made a 503 "store is unavailable".
        (
            "teams",
            {"id": "t", "allowed_models": [f"{n}".ljust(250, "m") for n in range(10_000)]},
            "allowed_models",
        ),
    ],
)
async def test_a_record_over_the_bounds_is_a_400_naming_the_field(
    gateway: LocalGateway, path: str, body: dict[str, Any], param: str
) -> None:
    error = assert_refused(await post(gateway, path, body), 400, param)
    assert error["code"] == "invalid_value"
    assert every_item(gateway) == []


def refusing_store(table_name: str, message: str) -> GatewayStore:
    """A store whose DynamoDB refuses every transaction as invalid, as it refuses an item over
    400 KB (a bound the schemas missed, or a record that grew by other means)."""
    client = boto3.client("dynamodb")

    def refuse(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if not target.endswith("TransactWriteItems"):
            return None
        error = {"__type": "com.amazon.coral.validate#ValidationException", "message": message}
        body = json.dumps(error).encode()
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "refused"}, _Raw(body))

    client.meta.events.register("before-send.dynamodb", refuse)
    return GatewayStore(table_name, client)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


async def test_a_record_dynamodb_refuses_as_too_large_is_a_422_not_a_503(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    store = refusing_store(
        local_aws["GatewayTable"], "Item size has exceeded the maximum allowed size"
    )
    app = create_admin_app(gateway.settings, store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin.test"
    ) as client:
        response = await client.post("/openai/v1/teams", json={"id": "t"}, headers=ADMIN)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "record_too_large"
    assert "400 KB" in error["message"]
    assert every_item(gateway) == []


# -- finding 14: characters a terminal acts on -----------------------------------------------

UNPRINTABLE = [
    "\x1b[2J\x1b[H",  # clear the screen (C0 escape)
    "ok\rgone",  # carriage return: overwrites the line
    "tab\there",
    "line\nbreak",
    "\x9b2J",  # C1 control sequence introducer
    "\u202egnp.exe",  # right-to-left override (Cf)
    "zero\u200bwidth",  # zero-width space (Cf)
    "para\u2029graph",  # paragraph separator (Zp)
]


@pytest.mark.parametrize("text", UNPRINTABLE)
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("api-keys", {"name": "k"}, "name"),
        ("api-keys", {"name": "k"}, "description"),
        ("teams", {"id": "t"}, "description"),
        ("admin-keys", {"name": "k", "role": "full"}, "name"),
        ("admin-keys", {"name": "k", "role": "full"}, "description"),
    ],
)
async def test_control_and_format_characters_are_refused_in_names_and_descriptions(
    gateway: LocalGateway, path: str, body: dict[str, Any], field: str, text: str
) -> None:
    error = assert_refused(await post(gateway, path, {**body, field: text}), 400, field)
    assert "control" in error["message"]
    assert every_item(gateway) == []


async def test_control_characters_are_refused_in_changes_reasons_and_model_ids(
    gateway: LocalGateway,
) -> None:
    key = await gateway.create_key(name="k")
    assert (await post(gateway, "teams", {"id": "t"})).status_code == 201
    for path, body, param in [
        (f"api-keys/{key['id']}", {"name": "\x1b[31mred"}, "name"),
        (f"api-keys/{key['id']}", {"status": "paused", "paused_reason": "a\x07"}, "paused_reason"),
        ("teams/t", {"description": "\x1b]0;title\x07"}, "description"),
        ("teams/t", {"allowed_models": ["llama\x1b[2J"]}, "allowed_models.0"),
        ("teams/t", {"model_aliases": {"a b": "llama"}}, "model_aliases.a b.[key]"),
    ]:
        assert_refused(await patch(gateway, path, body), 400, param)


async def test_names_in_any_script_are_kept(gateway: LocalGateway) -> None:
    name = "Équipe données, 数据团队 😀"
    created = await gateway.create_key(name=name, description="ligne unique, «guillemets»")
    assert created["name"] == name


# -- finding 16 (admin): JSON is taken as typed ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("api-keys", {"name": "k", "requests_per_minute": "5"}, "requests_per_minute"),
        ("api-keys", {"name": "k", "requests_per_minute": True}, "requests_per_minute"),
        ("api-keys", {"name": "k", "tokens_per_minute": 5.0}, "tokens_per_minute"),
        ("api-keys", {"name": "k", "rotation_period_days": "30"}, "rotation_period_days"),
        ("api-keys", {"name": "k", "grace_period_hours": False}, "grace_period_hours"),
        ("api-keys", {"name": "k", "deliver_to_secret": "true"}, "deliver_to_secret"),
        ("api-keys", {"name": "k", "deliver_to_secret": 1}, "deliver_to_secret"),
        ("api-keys", {"name": "k", "expires_at": 4102444800}, "expires_at"),
        ("api-keys", {"name": "k", "monthly_budget_usd": True}, "monthly_budget_usd"),
        ("teams", {"id": "t", "requests_per_minute": "5"}, "requests_per_minute"),
        ("teams", {"id": "t", "tokens_per_minute": True}, "tokens_per_minute"),
    ],
)
async def test_numbers_and_booleans_are_not_coerced(
    gateway: LocalGateway, path: str, body: dict[str, Any], param: str
) -> None:
    assert_refused(await post(gateway, path, body), 400, param)
    assert every_item(gateway) == []


async def test_patches_are_not_coerced_either(gateway: LocalGateway) -> None:
    key = await gateway.create_key(name="k")
    for body, param in [
        ({"requests_per_minute": "5"}, "requests_per_minute"),
        ({"deliver_to_secret": "false"}, "deliver_to_secret"),
    ]:
        assert_refused(await patch(gateway, f"api-keys/{key['id']}", body), 400, param)


async def test_what_the_api_documents_as_text_still_works(gateway: LocalGateway) -> None:
    """Money as a decimal string or a number, times as ISO 8601, enums by their names."""
    created = await gateway.create_key(
        name="k",
        monthly_budget_usd="12.50",
        expires_at="2099-01-01T08:00:00+02:00",
        allowed_endpoints=["chat", "files"],
        requests_per_minute=5,
        deliver_to_secret=False,
    )
    assert Decimal(str(created["monthly_budget_usd"])) == Decimal("12.5")
    assert created["expires_at"].startswith("2099-01-01T06:00:00")
    assert (
        await post(gateway, "teams", {"id": "t", "monthly_budget_usd": 7.25})
    ).status_code == 201
