"""The `groq-gateway` console script against `groq-gateway dev`, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import openai

from groq_gateway_dev.devserver.iam import LOCAL_IAM
from groq_gateway_dev.devserver.local_aws import LOCAL_USER_ARN, free_port
from tests.e2e.conftest import ROOT, DevGateway, groq_gateway_command

SEED_TEAMS = {
    "chatbot": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
    "analytics": ["llama-3.1-8b-instant"],
    "research": ["llama-3.3-70b-versatile", "mixtral-8x7b-32768", "gemma2-9b-it"],
}


def cli(
    gateway: DevGateway, *args: str, admin_key: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the console script with --url and --admin-key, as a separate process."""
    done = subprocess.run(
        [
            *groq_gateway_command(),
            *args,
            "--url",
            gateway.base_url,
            "--admin-key",
            admin_key or gateway.admin_key,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    if ok:
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1
    assert done.stderr.startswith("groq-gateway: ")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


def test_teams_apply_is_idempotent(dev_gateway: DevGateway) -> None:
    first = cli(dev_gateway, "teams", "apply", "examples/teams.yaml")
    assert first.stdout.split("\n")[:3] == [
        "created   chatbot",
        "created   analytics",
        "created   research",
    ]
    second = cli(dev_gateway, "teams", "apply", "examples/teams.yaml", "--json")
    assert as_json(second) == [
        {"id": team_id, "outcome": "unchanged", "fields": []} for team_id in SEED_TEAMS
    ]
    teams = {t["id"]: t for t in as_json(cli(dev_gateway, "teams", "list", "--json"))}
    assert {team_id: teams[team_id]["allowed_models"] for team_id in SEED_TEAMS} == SEED_TEAMS
    entries = as_json(cli(dev_gateway, "audit", "--action", "team.created", "--json"))
    assert sorted(e["target_id"] for e in entries) == sorted(SEED_TEAMS)  # once each
    assert as_json(cli(dev_gateway, "audit", "--action", "team.updated", "--json")) == []


def test_keys_from_creation_to_revocation(dev_gateway: DevGateway) -> None:
    cli(
        dev_gateway,
        "teams",
        "create",
        "support",
        "--models",
        "llama-3.1-8b-instant",
        "--rpm",
        "600",
    )
    created = as_json(
        cli(
            dev_gateway,
            "keys",
            "create",
            "support-bot",
            "--team",
            "support",
            "--rpm",
            "500",
            "--tpm",
            "100000",
            "--budget",
            "25",
            "--json",
        )
    )
    key_id, plaintext = created["id"], created["key"]
    client = openai.OpenAI(
        base_url=f"{dev_gateway.base_url}/openai/v1", api_key=plaintext, max_retries=0
    )
    reply = client.chat.completions.create(
        model="llama-3.1-8b-instant",
        messages=[{"role": "user", "content": "Hi"}],  # type: ignore[list-item]
    )
    assert reply.choices[0].message.content

    listed = cli(dev_gateway, "keys", "list", "--team", "support")
    assert "support-bot" in listed.stdout
    assert created["prefix"] in listed.stdout
    shown = cli(dev_gateway, "keys", "show", key_id)
    assert "monthly_budget_usd" in shown.stdout
    assert "$25.00" in shown.stdout
    for output in (listed.stdout, shown.stdout):
        assert plaintext not in output

    too_fast = cli(dev_gateway, "keys", "update", key_id, "--rpm", "1000", ok=False)
    assert_one_line_error(too_fast, "above team 'support' (600)", "HTTP 422, exceeds_team")
    paused = as_json(
        cli(
            dev_gateway,
            "keys",
            "update",
            key_id,
            "--status",
            "paused",
            "--reason",
            "test",
            "--json",
        )
    )
    assert (paused["status"], paused["paused_reason"]) == ("paused", "test")

    usage = cli(dev_gateway, "usage", "--team", "support")
    assert "support-bot" in usage.stdout
    assert "of $25.00" in usage.stdout  # what is left of the key's budget
    (row,) = as_json(cli(dev_gateway, "usage", "--key", key_id, "--json"))["usage_by_key"]
    assert (row["key_name"], row["requests_today"]) == ("support-bot", 1)

    in_use = cli(dev_gateway, "teams", "delete", "support", ok=False)
    assert_one_line_error(in_use, "still has 1 key(s)", "HTTP 409, team_has_keys")
    revoked = cli(dev_gateway, "keys", "revoke", key_id)
    assert revoked.stdout == f"Revoked key support-bot ({key_id}).\n"
    assert cli(dev_gateway, "teams", "delete", "support").stdout == "Deleted team support.\n"

    history = as_json(cli(dev_gateway, "audit", "--target", key_id, "--json"))
    assert [e["action"] for e in history] == [
        "api_key.revoked",
        "api_key.updated",
        "api_key.created",
    ]
    table = cli(dev_gateway, "audit", "--target", key_id).stdout
    assert "status: paused -> revoked" in table


def test_admin_keys_and_their_roles(dev_gateway: DevGateway) -> None:
    reader = as_json(
        cli(dev_gateway, "admin-keys", "create", "dashboards", "--role", "read_only", "--json")
    )
    assert cli(dev_gateway, "keys", "list", admin_key=reader["key"]).returncode == 0
    refused = cli(dev_gateway, "keys", "create", "x", admin_key=reader["key"], ok=False)
    assert_one_line_error(refused, "needs the role full", "this caller is read_only", "HTTP 403")
    listed = cli(dev_gateway, "admin-keys", "list").stdout
    assert "dashboards" in listed
    assert reader["key"] not in listed
    cli(dev_gateway, "admin-keys", "revoke", reader["id"])
    gone = cli(dev_gateway, "keys", "list", admin_key=reader["key"], ok=False)
    assert_one_line_error(gone, "Invalid API Key", "HTTP 401")


def test_errors_are_one_line_with_a_non_zero_exit(dev_gateway: DevGateway) -> None:
    wrong_key = cli(dev_gateway, "teams", "list", admin_key="not-an-admin-key", ok=False)
    assert_one_line_error(wrong_key, "Invalid API Key (HTTP 401, invalid_api_key)")
    missing = cli(dev_gateway, "keys", "show", "0123456789abcdef", ok=False)
    assert_one_line_error(missing, "No API key with id '0123456789abcdef'", "HTTP 404")
    nowhere = subprocess.run(
        [*groq_gateway_command(), "teams", "list", "--url", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GROQ_GATEWAY_ADMIN_KEY": dev_gateway.admin_key},
    )
    assert_one_line_error(nowhere, "cannot reach the gateway")
    no_key = subprocess.run(
        [*groq_gateway_command(), "teams", "list", "--url", dev_gateway.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert no_key.returncode == 2
    assert no_key.stderr == (
        "groq-gateway: give an admin key with --admin-key or $GROQ_GATEWAY_ADMIN_KEY\n"
    )


def test_the_dev_gateway_serves_the_openapi_document(dev_gateway: DevGateway) -> None:
    response = httpx.get(f"{dev_gateway.base_url}/openai/v1/admin/openapi.json")
    assert response.status_code == 200
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert response.json() == committed


# --- IAM (SigV4) -----------------------------------------------------------------------------


def cli_sigv4(
    gateway: DevGateway, *args: str, secret: str = LOCAL_IAM.secret_access_key, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the console script with --sigv4 and the local credentials from the environment
    (no shared AWS files, no instance metadata)."""
    done = subprocess.run(
        [*groq_gateway_command(), *args, "--url", gateway.base_url, "--sigv4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": LOCAL_IAM.access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_REGION": LOCAL_IAM.region,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    if ok:
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    return done


def test_the_cli_with_sigv4_manages_keys_as_the_local_iam_user(dev_gateway: DevGateway) -> None:
    created = as_json(cli_sigv4(dev_gateway, "keys", "create", "iam-bot", "--rpm", "10", "--json"))
    key_id = created["id"]
    listed = cli_sigv4(dev_gateway, "keys", "list")
    assert "iam-bot" in listed.stdout
    assert created["key"] not in listed.stdout
    assert as_json(cli_sigv4(dev_gateway, "keys", "show", key_id, "--json"))["name"] == "iam-bot"
    cli_sigv4(dev_gateway, "keys", "revoke", key_id)
    # The audit log names the IAM principal, read with an admin key and over IAM alike.
    history = as_json(cli(dev_gateway, "audit", "--target", key_id, "--json"))
    assert [(e["action"], e["actor_id"], e["actor_name"]) for e in history] == [
        ("api_key.revoked", LOCAL_USER_ARN, "user/local"),
        ("api_key.created", LOCAL_USER_ARN, "user/local"),
    ]
    by_actor = as_json(cli_sigv4(dev_gateway, "audit", "--actor", LOCAL_USER_ARN, "--json"))
    assert {e["target_id"] for e in by_actor} >= {key_id}


def test_iam_routes_refuse_unsigned_bearer_and_wrongly_signed_requests(
    dev_gateway: DevGateway,
) -> None:
    url = f"{dev_gateway.base_url}/iam/openai/v1/api-keys"
    unsigned = httpx.post(url, json={"name": "x"})
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (404, "unknown_url")
    bearer = httpx.post(
        url, json={"name": "x"}, headers={"authorization": f"Bearer {dev_gateway.admin_key}"}
    )
    assert (bearer.status_code, bearer.json()["error"]["code"]) == (403, "INCOMPLETE_SIGNATURE")
    wrong = cli_sigv4(dev_gateway, "keys", "create", "x", secret="not-the-secret", ok=False)
    assert_one_line_error(wrong, "does not match", "HTTP 403, INVALID_SIGNATURE")
    assert "not-the-secret" not in wrong.stderr
    names = [k["name"] for k in as_json(cli(dev_gateway, "keys", "list", "--json"))]
    assert "x" not in names
