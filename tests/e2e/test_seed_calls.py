"""The seed's three admin calls against `groq-gateway dev`, only the host changed.

The seed (``seed-groq-enterprise-rbac.txt``) creates two keys with ``curl -X POST ... -d``,
reads usage through ``jq '.usage_by_key[] | {key_name, requests_today, tokens_today,
estimated_cost_usd}'`` and revokes a key with ``curl -X DELETE``. Its JSON bodies are kept
as written, without the stray comments. curl sends ``-d`` data as
``application/x-www-form-urlencoded``, so the httpx requests here do too; the last test runs
the seed's own shell lines with curl and jq.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import openai
import pytest

from tests.e2e.conftest import DevGateway

CHATBOT_BODY = """{
"name": "chatbot-prod",
"allowed_models": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
"requests_per_minute": 500,
"tokens_per_minute": 100000
}"""
BATCH_BODY = """{
"name": "batch-processor",
"allowed_models": ["llama-3.1-8b-instant"],
"requests_per_minute": 60,
"tokens_per_minute": 500000
}"""
JQ_FILTER = ".usage_by_key[] | {key_name, requests_today, tokens_today, estimated_cost_usd}"
MESSAGES = [{"role": "user", "content": "Hello from the seed"}]


def curl_headers(gateway: DevGateway) -> dict[str, str]:
    """What ``curl -H "Authorization: Bearer $GROQ_ADMIN_KEY" -d '...'`` sends."""
    return {
        "authorization": f"Bearer {gateway.admin_key}",
        "content-type": "application/x-www-form-urlencoded",
        "user-agent": "curl/8.5.0",
        "accept": "*/*",
    }


def create(gateway: DevGateway, body: str) -> dict[str, object]:
    response = httpx.post(
        f"{gateway.base_url}/openai/v1/api-keys", content=body, headers=curl_headers(gateway)
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def chat(gateway: DevGateway, key: object, model: str) -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(
        base_url=f"{gateway.base_url}/openai/v1", api_key=str(key), max_retries=0
    )
    return client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]


def usage_rows(gateway: DevGateway) -> dict[str, dict[str, object]]:
    response = httpx.get(
        f"{gateway.base_url}/openai/v1/usage",
        headers={"authorization": f"Bearer {gateway.admin_key}"},
    )
    assert response.status_code == 200, response.text
    return {str(row["key_id"]): row for row in response.json()["usage_by_key"]}


def test_the_seeds_calls_create_use_report_and_revoke(dev_gateway: DevGateway) -> None:
    chatbot = create(dev_gateway, CHATBOT_BODY)
    batch = create(dev_gateway, BATCH_BODY)
    assert (chatbot["name"], chatbot["requests_per_minute"]) == ("chatbot-prod", 500)
    assert (batch["name"], batch["tokens_per_minute"]) == ("batch-processor", 500000)
    assert batch["allowed_models"] == ["llama-3.1-8b-instant"]
    assert str(chatbot["key"]).startswith(f"ggw_{chatbot['id']}_")

    completions = [
        chat(dev_gateway, chatbot["key"], "llama-3.3-70b-versatile"),
        chat(dev_gateway, chatbot["key"], "llama-3.1-8b-instant"),
    ]
    tokens = sum(c.usage.total_tokens for c in completions if c.usage)

    rows = usage_rows(dev_gateway)
    seen = {
        field: rows[str(chatbot["id"])][field]
        for field in ("key_name", "requests_today", "tokens_today")
    }
    assert seen == {"key_name": "chatbot-prod", "requests_today": 2, "tokens_today": tokens}
    cost = rows[str(chatbot["id"])]["estimated_cost_usd"]
    assert isinstance(cost, float)
    assert cost > 0
    assert rows[str(batch["id"])]["requests_today"] == 0

    deleted = httpx.delete(
        f"{dev_gateway.base_url}/openai/v1/api-keys/{batch['id']}",
        headers={"authorization": f"Bearer {dev_gateway.admin_key}"},
    )
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError):  # never used before: no cached record
        chat(dev_gateway, batch["key"], "llama-3.1-8b-instant")
    unknown = httpx.delete(
        f"{dev_gateway.base_url}/openai/v1/api-keys/OLD_KEY_ID",
        headers={"authorization": f"Bearer {dev_gateway.admin_key}"},
    )
    assert unknown.status_code == 404


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("jq") is None, reason="needs curl and jq"
)
def test_the_seeds_shell_lines_with_curl_and_jq(dev_gateway: DevGateway) -> None:
    host = dev_gateway.base_url
    create_script = f"""set -euo pipefail
curl -sS -X POST {host}/openai/v1/api-keys \\
-H "Authorization: Bearer $GROQ_ADMIN_KEY" \\
-d '{CHATBOT_BODY}'
"""
    environment = {"GROQ_ADMIN_KEY": dev_gateway.admin_key, "PATH": "/usr/bin:/bin"}
    created = subprocess.run(
        ["bash", "-c", create_script], env=environment, capture_output=True, text=True, check=True
    )
    key_id = json.loads(created.stdout)["id"]

    usage_script = f"""set -euo pipefail
curl -sS {host}/openai/v1/usage \\
-H "Authorization: Bearer $GROQ_ADMIN_KEY" | \\
jq '{JQ_FILTER}'
"""
    report = subprocess.run(
        ["bash", "-c", usage_script], env=environment, capture_output=True, text=True, check=True
    )
    objects = json.loads("[" + report.stdout.replace("}\n{", "},{") + "]")
    assert objects
    assert all(
        set(o) == {"key_name", "requests_today", "tokens_today", "estimated_cost_usd"}
        for o in objects
    )
    assert {"key_name": "chatbot-prod", "requests_today": 0} in [
        {"key_name": o["key_name"], "requests_today": o["requests_today"]} for o in objects
    ]

    delete_script = f"""set -euo pipefail
curl -sS -X DELETE "{host}/openai/v1/api-keys/{key_id}" \\
-H "Authorization: Bearer $GROQ_ADMIN_KEY"
"""
    revoked = subprocess.run(
        ["bash", "-c", delete_script], env=environment, capture_output=True, text=True, check=True
    )
    assert json.loads(revoked.stdout)["status"] == "revoked"
    shown = httpx.get(
        f"{host}/openai/v1/api-keys/{key_id}",
        headers={"authorization": f"Bearer {dev_gateway.admin_key}"},
    )
    assert shown.json()["status"] == "revoked"
    assert key_id not in usage_rows(dev_gateway)  # revoked and never used: nothing to report
