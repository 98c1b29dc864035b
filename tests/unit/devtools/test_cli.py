"""The command line: admin commands against a fake gateway (httpx's MockTransport), and
`groq-gateway dev` without the local extra."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from groq_gateway_dev.cli import main as cli_main
from groq_gateway_dev.cli.main import build_parser, run_admin_command
from groq_gateway_dev.devserver.iam import LOCAL_IAM, SignatureRefused, SignedRequest

URL = "http://gateway.test"
KEY = "test-admin-key"

Handler = Callable[[httpx.Request], httpx.Response]


def run(argv: list[str], handler: Handler) -> int:
    args = build_parser().parse_args(argv)
    return run_admin_command(args, httpx.MockTransport(handler))


def error(status: int, message: str, code: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None}}
    body["error"]["code"] = code
    return httpx.Response(status, json=body)


class FakeTeams:
    """Just enough of /openai/v1/teams for apply; records every request."""

    def __init__(self, teams: dict[str, dict[str, Any]] | None = None) -> None:
        self.teams = teams or {}
        self.requests: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        assert request.headers["authorization"] == f"Bearer {KEY}"
        team_id = request.url.path.removeprefix("/openai/v1/teams").strip("/")
        if request.method == "GET":
            if team_id not in self.teams:
                return error(404, f"No team with id '{team_id}'.", "not_found")
            return httpx.Response(200, json=self.teams[team_id])
        if request.method == "POST":
            self.teams[body["id"]] = {"allowed_models": None, "model_aliases": {}} | body
            return httpx.Response(201, json=self.teams[body["id"]])
        assert request.method == "PATCH"
        self.teams[team_id] |= body
        return httpx.Response(200, json=self.teams[team_id])


def test_options_work_before_or_after_the_command_and_update_sends_only_what_is_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "k" * 16, "name": "k", "monthly_budget_usd": 5})

    argv = ["keys", "update", "k" * 16, "--rpm", "none", "--models", "a,b", "--budget", "$5.50"]
    assert run(["--url", URL, "--admin-key", KEY, *argv], handler) == 0
    assert run([*argv, "--url", f"{URL}/openai/v1/", "--admin-key", KEY, "--json"], handler) == 0
    for request in seen:
        assert request.method == "PATCH"
        assert str(request.url) == f"{URL}/openai/v1/api-keys/{'k' * 16}"
        assert json.loads(request.content) == {
            "requests_per_minute": None,
            "allowed_models": ["a", "b"],
            "monthly_budget_usd": "5.50",
        }
    output = capsys.readouterr().out
    assert "$5.00" in output
    assert json.loads(output[output.index("{") :])["name"] == "k"


def test_a_gateway_error_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error(
            409, "Team 'chatbot' still has 1 key(s) that are not revoked.", "team_has_keys"
        )

    status = run(["--url", URL, "--admin-key", KEY, "teams", "delete", "chatbot"], handler)
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert captured.err == (
        "groq-gateway: Team 'chatbot' still has 1 key(s) that are not revoked. "
        "(HTTP 409, team_has_keys)\n"
    )


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("connection refused"), "cannot reach the gateway at"),
        (httpx.ReadTimeout("slow"), "did not answer within"),
    ],
)
def test_an_unreachable_gateway_is_one_line(
    capsys: pytest.CaptureFixture[str], failure: Exception, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    assert run(["--url", URL, "--admin-key", KEY, "keys", "list"], handler) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_non_json_answer_and_a_missing_option_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>not the gateway</html>")

    assert run(["--url", URL, "--admin-key", KEY, "usage"], html) == 1
    assert "is --url right?" in capsys.readouterr().err
    monkeypatch.delenv("GROQ_GATEWAY_URL", raising=False)
    assert run(["--admin-key", KEY, "usage"], html) == 2
    assert "--url or $GROQ_GATEWAY_URL" in capsys.readouterr().err
    assert run(["--url", URL, "--admin-key", KEY, "keys", "update", "k" * 16], html) == 2
    assert "nothing to change" in capsys.readouterr().err


def test_the_environment_supplies_url_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_GATEWAY_URL", URL)
    monkeypatch.setenv("GROQ_GATEWAY_ADMIN_KEY", KEY)
    fake = FakeTeams()
    assert run(["teams", "show", "x"], fake) == 1
    assert fake.requests == [("GET", "/openai/v1/teams/x", None)]


def test_apply_creates_then_changes_only_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "teams.yaml"
    spec.write_text(
        "teams:\n"
        "  - id: chatbot\n"
        "    allowed_models: [a, b]\n"
        "    monthly_budget_usd: 50.0\n"
        "  - id: analytics\n"
        "    allowed_models: [a]\n",
        encoding="utf-8",
    )
    fake = FakeTeams({"analytics": {"id": "analytics", "allowed_models": ["b"], "x": 1}})
    apply = ["--url", URL, "--admin-key", KEY, "teams", "apply", str(spec)]
    assert run(apply, fake) == 0
    assert capsys.readouterr().out == "created   chatbot\nupdated   analytics (allowed_models)\n"
    assert ("PATCH", "/openai/v1/teams/analytics", {"allowed_models": ["a"]}) in fake.requests
    created = [r for r in fake.requests if r[0] == "POST"]
    assert created == [
        (
            "POST",
            "/openai/v1/teams",
            {"id": "chatbot", "allowed_models": ["a", "b"], "monthly_budget_usd": "50.0"},
        )
    ]

    fake.teams["chatbot"]["monthly_budget_usd"] = 50  # as the API shows it: a JSON number
    fake.requests.clear()
    assert run(apply, fake) == 0
    assert capsys.readouterr().out == "unchanged chatbot\nunchanged analytics\n"
    assert [method for method, _, _ in fake.requests] == ["GET", "GET"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teams:\n  - id: Bad Id\n", "teams[0].id"),
        ("teams:\n  - id: a\n  - id: a\n", "team a appears more than once"),
        ("teams:\n  - id: a\n    colour: red\n", "teams[0].colour"),
        ("- id: a\n", "expected a top-level 'teams' list"),
        ("teams: [\n", "is not valid YAML"),
    ],
)
def test_apply_checks_the_whole_file_before_sending_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    spec = tmp_path / "teams.yaml"
    spec.write_text(text, encoding="utf-8")
    fake = FakeTeams()
    assert run(["--url", URL, "--admin-key", KEY, "teams", "apply", str(spec)], fake) == 1
    assert message in capsys.readouterr().err
    assert fake.requests == []


def test_apply_reads_json_and_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "teams.json"
    spec.write_text(json.dumps({"teams": [{"id": "chatbot"}]}), encoding="utf-8")
    fake = FakeTeams()
    assert run(["--url", URL, "--admin-key", KEY, "teams", "apply", str(spec), "--json"], fake) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"id": "chatbot", "outcome": "created", "fields": []}
    ]
    missing = tmp_path / "nope.yaml"
    assert run(["--url", URL, "--admin-key", KEY, "teams", "apply", str(missing)], fake) == 1
    assert f"cannot read {missing}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create", "k", "--rpm", "0"], "'0' must be at least 1"),
        (["keys", "create", "k", "--tpm", "many"], "'many' is not a whole number"),
        (["keys", "create", "k", "--budget", "lots"], "'lots' is not an amount in USD"),
        (["teams", "create", "t", "--aliases", "no-equals"], "'no-equals' is not REQUESTED="),
        (["usage", "--start", "yesterday"], "'yesterday' is not a date"),
    ],
)
def test_bad_option_values_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# --- --sigv4 -------------------------------------------------------------------------------

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
)  # fmt: skip


@pytest.fixture
def aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An AWS credential chain that holds only the local credentials, from the environment;
    no shared files and no instance metadata (nothing leaves the machine)."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_IAM.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_IAM.secret_access_key)
    monkeypatch.setenv("AWS_REGION", LOCAL_IAM.region)
    return monkeypatch


def as_signed(request: httpx.Request) -> SignedRequest:
    return SignedRequest(
        request.method, str(request.url), list(request.headers.items()), request.content
    )


def test_sigv4_signs_every_request_for_the_iam_routes_and_sends_no_admin_key(
    aws_chain: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(201, json={"id": "k" * 16, "name": "bot", "key": "ggw_x"})
        return httpx.Response(200, json={"data": [], "has_more": False, "next_cursor": None})

    aws_chain.setenv("GROQ_GATEWAY_ADMIN_KEY", KEY)  # present, but not what --sigv4 sends
    aws_chain.setenv("AWS_SESSION_TOKEN", "session-token-0123456789")
    assert run(["--url", f"{URL}/prod", "--sigv4", "keys", "list", "--team", "a b"], handler) == 0
    assert run(["keys", "create", "bot", "--rpm", "5", "--url", URL, "--sigv4"], handler) == 0
    listed, created = seen
    assert (listed.method, listed.url.path) == ("GET", "/prod/iam/openai/v1/api-keys")
    assert (created.method, created.url.path) == ("POST", "/iam/openai/v1/api-keys")
    for request in seen:
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/us-east-1/execute-api/aws4_request" in request.headers["authorization"]
        assert KEY not in str(request.headers)
        # API Gateway (here its local copy) accepts what the CLI signed.
        LOCAL_IAM.verify(as_signed(request), now=datetime.now(UTC))
    assert listed.url.query == b"team=a%20b&limit=100"  # sent as signed: SigV4's encoding
    tampered = as_signed(created)
    tampered = SignedRequest(tampered.method, tampered.url, tampered.headers, b'{"name": "x"}')
    with pytest.raises(SignatureRefused):
        LOCAL_IAM.verify(tampered, now=datetime.now(UTC))
    captured = capsys.readouterr()
    for secret in (LOCAL_IAM.secret_access_key, "session-token-0123456789"):
        assert secret not in captured.out + captured.err


def test_sigv4_takes_the_region_from_the_option_first(aws_chain: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "has_more": False, "next_cursor": None})

    aws_chain.delenv("AWS_REGION")
    aws_chain.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert run(["--url", URL, "--sigv4", "teams", "list"], handler) == 0
    assert run(["--url", URL, "--sigv4", "--region", "eu-west-1", "teams", "list"], handler) == 0
    regions = [r.headers["authorization"].split("/")[2] for r in seen]
    assert regions == ["ap-south-1", "eu-west-1"]


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "--sigv4 found no AWS credentials"),
        (("AWS_REGION",), "give the gateway's AWS region with --region"),
    ],
)
def test_sigv4_without_credentials_or_region_is_one_line_and_exit_2(
    aws_chain: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    unset: tuple[str, ...],
    message: str,
) -> None:
    for name in unset:
        aws_chain.delenv(name)

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    assert run(["--url", URL, "--sigv4", "teams", "list"], handler) == 2
    err = capsys.readouterr().err
    assert err.startswith("groq-gateway: ")
    assert message in err
    assert err.count("\n") == 1


def test_usage_shows_what_budget_leases_hold_of_the_organisation_cap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def budget(cap: float, committed: float, leased: float) -> dict[str, Any]:
        remaining = cap - committed
        return {
            "monthly_budget_usd": cap,
            "committed_usd": committed,
            "leased_usd": leased,
            "remaining_usd": remaining,
            "resets_at": "2026-12-01T00:00:00Z",
        }

    def row(**extra: Any) -> dict[str, Any]:
        return {
            "requests_today": 2,
            "tokens_today": 30,
            "estimated_cost_usd": 0.25,
            "month_to_date": {"cost_usd": 0.5},
        } | extra

    summary = {
        "date": "2026-11-27",
        "month": "2026-11",
        "resets_at": "2026-12-01T00:00:00Z",
        "usage_by_key": [
            row(key_name="app", key_id="k" * 16, team=None, budget=budget(10, 0.5, 0))
        ],
        "usage_by_team": [],
        "organization": row(budget=budget(1000, 2.5, 2)),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/openai/v1/usage"
        return httpx.Response(200, json=summary)

    assert run(["--url", URL, "--admin-key", KEY, "usage"], handler) == 0
    out = capsys.readouterr().out
    key_line = next(line for line in out.splitlines() if line.startswith("app"))
    org_line = next(line for line in out.splitlines() if line.startswith("all keys"))
    assert "held by budget leases" not in key_line
    assert org_line.endswith("$997.50 of $1,000.00 ($2.00 held by budget leases)"), org_line


@pytest.mark.parametrize("absent", ["moto", "flask"])
def test_dev_without_the_local_extra_says_in_one_line_what_to_install(
    absent: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == absent else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert cli_main.main(["dev", "--simulate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'groq-gateway[local]'" in err
    assert "Traceback" not in err


def test_the_local_extra_is_what_dev_checks_for() -> None:
    """The modules `dev` looks for are those the local extra installs, and all are here."""
    assert cli_main.missing_local_extra() is None
