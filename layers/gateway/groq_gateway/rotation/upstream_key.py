"""The upstream Groq key's rotation: Secrets Manager's four steps promote the first key an
operator staged in the secret; with none staged, an ``upstream_key_needed`` alert asks for one.
See docs/architecture.md and docs/operations.md.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import boto3
import httpx
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from groq_gateway.alert_outbox import publish_outbox
from groq_gateway.core.events import UpstreamKeyNeededEvent
from groq_gateway.core.metric_names import MetricName
from groq_gateway.core.observability import logger, metrics
from groq_gateway.core.settings import Settings
from groq_gateway.store.notices import NoticeStore


class RotationStep(BaseModel):
    Step: Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
    SecretId: str
    ClientRequestToken: str


class NoStagedKeyError(Exception):
    """The secret holds no staged key to promote."""


class RejectedKeyError(Exception):
    """Groq refused the key about to become active."""


def promoted(current: dict[str, Any]) -> dict[str, Any]:
    """The secret's next value: the first staged key becomes active."""
    staged = [key for key in current.get("staged", []) if isinstance(key, str) and key]
    if not staged:
        raise NoStagedKeyError("no staged upstream key to promote")
    return {"active": staged[0], "staged": staged[1:], "previous": current.get("active", "")}


def rotate_upstream_key(
    step: RotationStep, settings: Settings, notices: NoticeStore, now: datetime
) -> None:
    """Run one rotation step; each may run more than once, and a repeat finds its work done.

    * ``createSecret``: write the promoted value (:func:`promoted`) as ``AWSPENDING``; with no
      key staged, ask for one and write the current value unchanged, so the later steps find
      nothing to do (a fresh stack's secret holds no key at all);
    * ``setSecret``: nothing to register at Groq (keys are made in its console);
    * ``testSecret``: ``GET /openai/v1/models`` with the pending key; Groq must accept it. With
      no new key pending (no value, an empty key, or the active one) Groq is not called;
    * ``finishSecret``: move ``AWSCURRENT`` to the pending version; if that would change
      nothing, take ``AWSPENDING`` off it instead, so the next rotation can start.
    """
    sm = boto3.client("secretsmanager")
    stages = sm.describe_secret(SecretId=step.SecretId).get("VersionIdsToStages", {})
    if "AWSCURRENT" in stages.get(step.ClientRequestToken, []):
        logger.info("rotation already finished", extra={"step": step.Step})
        return
    if step.Step == "createSecret":
        create_pending(sm, step, settings, notices, now)
    elif step.Step == "setSecret":
        logger.info("setSecret: Groq keys are registered in Groq's console; nothing to do")
    elif step.Step == "testSecret":
        test_pending(sm, step, settings)
    else:
        finish(sm, step, stages)


def secret_value(sm: Any, secret_id: str, **version: str) -> Any:
    """A version's parsed value; None if it has none (Secrets Manager creates the pending
    version's id before the rotation function writes its value)."""
    try:
        return json.loads(sm.get_secret_value(SecretId=secret_id, **version)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        return None


def create_pending(
    sm: Any, step: RotationStep, settings: Settings, notices: NoticeStore, now: datetime
) -> None:
    pending = secret_value(
        sm, step.SecretId, VersionId=step.ClientRequestToken, VersionStage="AWSPENDING"
    )
    if pending is not None:
        return  # created by an earlier run of this step
    current_string = sm.get_secret_value(SecretId=step.SecretId, VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    try:
        pending_string = json.dumps(promoted(json.loads(current_string)))
    except NoStagedKeyError:
        logger.warning("no staged upstream key to promote; asking for one")
        ask_for_a_staged_key(settings, notices, step.SecretId, now)
        pending_string = current_string
    sm.put_secret_value(
        SecretId=step.SecretId,
        ClientRequestToken=step.ClientRequestToken,
        SecretString=pending_string,
        VersionStages=["AWSPENDING"],
    )


def test_pending(sm: Any, step: RotationStep, settings: Settings) -> None:
    pending = secret_value(
        sm, step.SecretId, VersionId=step.ClientRequestToken, VersionStage="AWSPENDING"
    )
    current = secret_value(sm, step.SecretId, VersionStage="AWSCURRENT")
    key = pending.get("active") if isinstance(pending, dict) else None
    active = current.get("active") if isinstance(current, dict) else None
    if not key or key == active:
        logger.info("testSecret: no new upstream key pending; nothing to test")
        return
    response = httpx.get(
        f"{settings.upstream_root}/openai/v1/models",
        headers={"authorization": f"Bearer {key}"},
        timeout=10.0,
    )
    if response.status_code != 200:
        metrics.add_metric(name=MetricName.ROTATION_FAILURES, unit=MetricUnit.Count, value=1)
        raise RejectedKeyError(f"Groq answered {response.status_code} to the staged key")


def finish(sm: Any, step: RotationStep, stages: dict[str, list[str]]) -> None:
    pending = secret_value(sm, step.SecretId, VersionId=step.ClientRequestToken)
    if pending is None or pending == secret_value(sm, step.SecretId, VersionStage="AWSCURRENT"):
        if "AWSPENDING" in stages.get(step.ClientRequestToken, []):
            sm.update_secret_version_stage(
                SecretId=step.SecretId,
                VersionStage="AWSPENDING",
                RemoveFromVersionId=step.ClientRequestToken,
            )
        logger.info("no staged upstream key was promoted; AWSCURRENT unchanged")
        return
    current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    sm.update_secret_version_stage(
        SecretId=step.SecretId,
        VersionStage="AWSCURRENT",
        MoveToVersionId=step.ClientRequestToken,
        RemoveFromVersionId=current,
    )
    logger.info("upstream key rotated")


def ask_for_a_staged_key(
    settings: Settings, notices: NoticeStore, secret_id: str, now: datetime
) -> None:
    """Queue an ``upstream_key_needed`` event and publish the outbox; an event SNS refuses
    stays queued for the next publishing run."""
    notices.commit([notices.outbox_put(UpstreamKeyNeededEvent(secret_id=secret_id), now)])
    published = publish_outbox(settings, notices, now)
    if published.refusal is not None:
        logger.warning(
            "upstream_key_needed alert queued; SNS refused it",
            extra={"error": str(published.refusal)},
        )
