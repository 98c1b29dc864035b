"""Batches and files through `groq-gateway dev` with the official openai SDK, as issue #18 tried
them (findings 1 and 6): forbidden models and budgets hold for batches, a batch is metered from
its output, and a key sees only its own files and batches."""

from __future__ import annotations

import json
import time

import openai
import pytest

from groq_gateway.core.batches import BatchState
from tests.e2e.conftest import DevGateway
from tests.e2e.test_sdks_through_dev_gateway import create_key, openai_client
from tests.e2e.test_streaming_and_faults import key_id_of, today

SMALL = "llama-3.1-8b-instant"
LARGE = "openai/gpt-oss-120b"
RIGHTS = ["chat", "files", "batches"]


def batch_file(model: str, lines: int, max_tokens: int = 16) -> bytes:
    return b"".join(
        json.dumps(
            {
                "custom_id": f"r{n}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": model,
                    "messages": [{"role": "user", "content": f"Say hello {n}"}],
                    "max_tokens": max_tokens,
                },
            }
        ).encode()
        + b"\n"
        for n in range(lines)
    )


def upload_and_create(client: openai.OpenAI, content: bytes) -> str:
    uploaded = client.files.create(file=("batch.jsonl", content), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    return batch.id


def test_a_batch_for_a_forbidden_model_raises_permission_denied(dev_gateway: DevGateway) -> None:
    """The issue's case: a key allowed only the small model, budget $0, 20 lines of the large."""
    key = create_key(
        dev_gateway, allowed_models=[SMALL], allowed_endpoints=RIGHTS, monthly_budget_usd="0"
    )
    with pytest.raises(openai.PermissionDeniedError) as refused:
        upload_and_create(openai_client(dev_gateway, key), batch_file(LARGE, 20))
    assert refused.value.code == "model_not_available"
    assert dev_gateway.store().batches.batches_of(key_id_of(key)) == {}


def test_a_batch_over_the_budget_raises_the_final_cap_error(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway, allowed_endpoints=RIGHTS, monthly_budget_usd="0.01")
    with pytest.raises(openai.RateLimitError) as capped:
        upload_and_create(openai_client(dev_gateway, key), batch_file(LARGE, 300, 32_000))
    assert capped.value.code == "spending_cap_reached"
    assert capped.value.response.headers["x-should-retry"] == "false"


def test_a_batch_is_metered_and_private_to_its_key(dev_gateway: DevGateway) -> None:
    owner_key = create_key(dev_gateway, allowed_endpoints=RIGHTS, monthly_budget_usd="5")
    other_key = create_key(dev_gateway, allowed_endpoints=RIGHTS)
    owner, other = openai_client(dev_gateway, owner_key), openai_client(dev_gateway, other_key)
    batch_id = upload_and_create(owner, batch_file(SMALL, 3))

    batch = owner.batches.retrieve(batch_id)

    assert batch.status == "completed"
    assert batch.output_file_id is not None
    output = owner.files.content(batch.output_file_id).content
    assert len(output.splitlines()) == 3
    store = dev_gateway.store()
    deadline = time.monotonic() + 10  # metered after the response
    record = store.batches.batch(key_id_of(owner_key), batch_id)
    while record is not None and record.state is not BatchState.METERED:
        assert time.monotonic() < deadline, record
        time.sleep(0.1)
        record = store.batches.batch(key_id_of(owner_key), batch_id)
    usage = list(store.usage.for_key(key_id_of(owner_key), today(), today()))
    assert [(u.model, u.requests) for u in usage] == [(SMALL, 3)]
    assert usage[0].cost_micros > 0

    # Another key: its lists hold none of the owner's; the owner's ids are 404s.
    assert [b.id for b in other.batches.list()] == []
    assert [f.id for f in other.files.list()] == []
    with pytest.raises(openai.NotFoundError):
        other.batches.retrieve(batch_id)
    with pytest.raises(openai.NotFoundError):
        other.files.content(batch.output_file_id)
    with pytest.raises(openai.NotFoundError):
        other.files.delete(batch.input_file_id)
    assert {f.id for f in owner.files.list()} == {batch.input_file_id, batch.output_file_id}
    assert [b.id for b in owner.batches.list()] == [batch_id]
