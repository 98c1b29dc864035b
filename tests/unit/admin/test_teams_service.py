"""How a team's model aliases are checked before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from groq_gateway.admin.services.teams import check_aliases
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import Team

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def team(**fields: Any) -> Team:
    return Team(team_id="analytics", created_at=NOW, updated_at=NOW, **fields)


def test_aliases_must_lead_somewhere_allowed() -> None:
    check_aliases(team(model_aliases={"old": "new"}))
    check_aliases(team(allowed_models=["new"], model_aliases={"old": "new"}))
    for bad in (
        team(model_aliases={"same": "same"}),
        team(allowed_models=["a"], model_aliases={"old": "new"}),
    ):
        with pytest.raises(GatewayError) as raised:
            check_aliases(bad)
        assert (raised.value.status, raised.value.param) == (422, "model_aliases")
