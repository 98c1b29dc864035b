"""The gateway serves the committed OpenAPI document on the template's route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


async def test_the_served_document_is_the_committed_one(gateway: LocalGateway) -> None:
    response = await gateway.client.get("/openai/v1/admin/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert response.json()["components"]["securitySchemes"]["AdminKey"]["scheme"] == "bearer"
