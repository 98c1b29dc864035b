from __future__ import annotations

import pytest

from tests.unit.template.sam import REGION


@pytest.fixture(autouse=True)
def _aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """The translator reads the region (AWS::Region, the partition) from the boto3 session."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
