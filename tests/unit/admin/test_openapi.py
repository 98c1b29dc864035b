"""docs/openapi.json is the admin API's document exactly as the app serves it."""

from __future__ import annotations

import json
from pathlib import Path

from groq_gateway.admin.openapi import document, main, render

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "openapi.json"
REGENERATE = "python -m groq_gateway.admin.openapi docs/openapi.json"


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(document()), (
        f"docs/openapi.json is stale: run {REGENERATE}"
    )


def test_the_check_fails_for_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text(json.dumps({"openapi": "3.1.0"}), encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert json.loads(stale.read_text(encoding="utf-8")) == document()


def test_every_admin_route_is_documented_and_needs_the_admin_key() -> None:
    paths = document()["paths"]
    operations = {
        (method.upper(), path): operation
        for path, methods in paths.items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("POST", "/openai/v1/api-keys"),
        ("GET", "/openai/v1/api-keys"),
        ("GET", "/openai/v1/api-keys/{key_id}"),
        ("PATCH", "/openai/v1/api-keys/{key_id}"),
        ("DELETE", "/openai/v1/api-keys/{key_id}"),
        ("POST", "/openai/v1/api-keys/{key_id}/rotate"),
        ("POST", "/openai/v1/teams"),
        ("GET", "/openai/v1/teams"),
        ("GET", "/openai/v1/teams/{team_id}"),
        ("PATCH", "/openai/v1/teams/{team_id}"),
        ("DELETE", "/openai/v1/teams/{team_id}"),
        ("POST", "/openai/v1/admin-keys"),
        ("GET", "/openai/v1/admin-keys"),
        ("GET", "/openai/v1/admin-keys/{key_id}"),
        ("DELETE", "/openai/v1/admin-keys/{key_id}"),
        ("GET", "/openai/v1/usage"),
        ("GET", "/openai/v1/usage/history"),
        ("GET", "/openai/v1/audit-log"),
        ("GET", "/openai/v1/prices"),
        ("PUT", "/openai/v1/prices/{model}"),
        ("DELETE", "/openai/v1/prices/{model}"),
        ("GET", "/openai/v1/admin/batches"),
        ("GET", "/openai/v1/admin/files"),
        ("GET", "/openai/v1/admin/iam-principals"),
        ("PUT", "/openai/v1/admin/iam-principals/{arn}"),
        ("DELETE", "/openai/v1/admin/iam-principals/{arn}"),
        ("GET", "/openai/v1/admin/me"),
    }
    for (method, path), operation in operations.items():
        assert operation["security"] == [{"AdminKey": []}], path
        assert "400" in operation["responses"], path
        # Any route may refuse a role (insufficient_permissions): docs/admin-api.md#roles.
        assert "403" in operation["responses"], (method, path)
        assert "HTTPValidationError" not in json.dumps(operation)
