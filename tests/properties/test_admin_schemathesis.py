"""schemathesis against the admin API's own OpenAPI document: whatever the document allows,
for every operation, the admin API answers without a 500, without a stack trace, and never
with an upstream key or a hash.

(schemathesis' own pytest plugin does not run under this pytest version, so each operation's
cases are drawn from its Hypothesis strategy directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from groq_gateway.admin.app import create_app as create_admin_app
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY
from tests.integration.conftest import gateway_settings
from tests.reliability_report import RELIABILITY


def check(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert status < 500, text
    assert "Traceback" not in text
    assert UPSTREAM_KEY not in text
    assert "secret_hash" not in text
    if status >= 400:
        assert response.json()["error"]["message"]  # type: ignore[attr-defined]


def test_every_admin_operation_answers_cleanly(local_aws: dict[str, str]) -> None:
    app = create_admin_app(gateway_settings(local_aws))
    schema = schemathesis.openapi.from_asgi("/openai/v1/admin/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            RELIABILITY.count_input("admin API: schemathesis cases")
            check(case.call(headers={"authorization": f"Bearer {ADMIN_KEY}"}))

        try:
            run()
        except Exception as error:  # name the operation that failed
            pytest.fail(f"{operation.method.upper()} {operation.path}: {error}")
