"""The command line's team roles: admin keys with teams, IAM principals' roles and whoami,
against a fake gateway (httpx's MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from groq_gateway_dev.cli.main import build_parser, run_admin_command

URL = "http://gateway.test"
KEY = "test-admin-key"
ARN = "arn:aws:iam::123456789012:role/ChatbotLead"


class Recorder:
    """Answers every request with ``answer`` and records (method, raw path, body)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.raw_path.decode(), body))
        return httpx.Response(200, json=self.answer)


def run(argv: list[str], recorder: Recorder) -> int:
    args = build_parser().parse_args(["--url", URL, "--admin-key", KEY, *argv])
    return run_admin_command(args, httpx.MockTransport(recorder))


def test_a_team_admin_key_names_its_teams(capsys: pytest.CaptureFixture[str]) -> None:
    created = {
        "id": "0123456789abcdef",
        "name": "chatbot-lead",
        "role": "team_admin",
        "teams": ["analytics", "chatbot"],
        "key": "ggwadm_secret",
    }
    recorder = Recorder(created)
    argv = ["admin-keys", "create", "chatbot-lead", "--role", "team_admin"]
    assert run([*argv, "--team", "chatbot", "--team", "analytics"], recorder) == 0
    assert recorder.requests == [
        (
            "POST",
            "/openai/v1/admin-keys",
            {
                "name": "chatbot-lead",
                "role": "team_admin",
                "description": "",
                "teams": ["chatbot", "analytics"],
            },
        )
    ]
    assert "team_admin (analytics, chatbot) admin key chatbot-lead" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["admin-keys", "create", "x", "--role", "team_viewer"], "needs --team"),
        (["admin-keys", "create", "x", "--role", "full", "--team", "a"], "give no --team"),
        (["iam-principals", "set", ARN, "--role", "team_admin"], "needs --team"),
    ],
)
def test_team_options_must_match_the_role(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder({})
    assert run(argv, recorder) == 2
    assert recorder.requests == []
    assert message in capsys.readouterr().err


def test_iam_principal_roles_are_set_listed_and_deleted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    mapped = {
        "arn": ARN,
        "role": "team_viewer",
        "teams": ["chatbot"],
        "updated_by": "bootstrap",
        "updated_at": "2026-12-05T08:00:00Z",
    }
    recorder = Recorder(mapped)
    assert (
        run(["iam-principals", "set", ARN, "--role", "team_viewer", "--team", "chatbot"], recorder)
        == 0
    )
    recorder.answer = {"object": "list", "data": [mapped]}
    assert run(["iam-principals", "list"], recorder) == 0
    recorder.answer = {"arn": ARN, "deleted": True}
    assert run(["iam-principals", "delete", ARN], recorder) == 0
    path = f"/openai/v1/admin/iam-principals/{ARN}"
    assert recorder.requests == [
        ("PUT", path, {"role": "team_viewer", "teams": ["chatbot"]}),
        ("GET", "/openai/v1/admin/iam-principals", None),
        ("DELETE", path, None),
    ]
    out = capsys.readouterr().out
    assert f"{ARN} is team_viewer (chatbot)" in out
    assert "team_viewer (chatbot)" in out.splitlines()[2]


def test_whoami_shows_the_role_and_teams(capsys: pytest.CaptureFixture[str]) -> None:
    me = {"actor": "0123456789abcdef", "name": "lead", "role": "team_admin", "teams": ["chatbot"]}
    recorder = Recorder(me)
    assert run(["whoami"], recorder) == 0
    assert recorder.requests == [("GET", "/openai/v1/admin/me", None)]
    assert capsys.readouterr().out.strip() == "lead (0123456789abcdef): team_admin (chatbot)"
