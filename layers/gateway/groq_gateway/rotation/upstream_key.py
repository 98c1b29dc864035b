"""Rotating the upstream Groq key with Secrets Manager's four steps.

Groq has no API that creates keys, so an operator stages replacement keys in the secret
(``{"active": "gsk_...", "staged": ["gsk_..."]}``) and rotation promotes the first staged key:

* ``createSecret``: write the promoted value as the ``AWSPENDING`` version;
* ``setSecret``: nothing to register at Groq (keys are made in its console);
* ``testSecret``: ``GET /openai/v1/models`` with the pending key; Groq must accept it;
* ``finishSecret``: move ``AWSCURRENT`` to the pending version.

Each step may run more than once; a repeat finds its work done and returns. With no staged
key the rotation fails cleanly and an ``upstream_key_needed`` alert asks for one. The proxy
picks the new key up within its cache lifetime, and at once after an upstream 401.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import boto3
import httpx
from pydantic import BaseModel

from groq_gateway.core.observability import logger, metrics
from groq_gateway.core.settings import Settings


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


def rotate_upstream_key(step: RotationStep, settings: Settings) -> None:
    sm = boto3.client("secretsmanager")
    stages = sm.describe_secret(SecretId=step.SecretId).get("VersionIdsToStages", {})
    if "AWSCURRENT" in stages.get(step.ClientRequestToken, []):
        logger.info("rotation already finished", extra={"step": step.Step})
        return
    if step.Step == "createSecret":
        create_pending(sm, step, settings)
    elif step.Step == "setSecret":
        logger.info("setSecret: Groq keys are registered in Groq's console; nothing to do")
    elif step.Step == "testSecret":
        test_pending(sm, step, settings)
    else:
        finish(sm, step, stages)


def create_pending(sm: Any, step: RotationStep, settings: Settings) -> None:
    try:
        sm.get_secret_value(
            SecretId=step.SecretId, VersionId=step.ClientRequestToken, VersionStage="AWSPENDING"
        )
        return  # created by an earlier run of this step
    except sm.exceptions.ResourceNotFoundException:
        pass
    current = json.loads(
        sm.get_secret_value(SecretId=step.SecretId, VersionStage="AWSCURRENT")["SecretString"]
    )
    try:
        pending = promoted(current)
    except NoStagedKeyError:
        publish_key_needed(settings, step.SecretId)
        metrics.add_metric(name="RotationFailures", unit="Count", value=1)
        raise
    sm.put_secret_value(
        SecretId=step.SecretId,
        ClientRequestToken=step.ClientRequestToken,
        SecretString=json.dumps(pending),
        VersionStages=["AWSPENDING"],
    )


def test_pending(sm: Any, step: RotationStep, settings: Settings) -> None:
    pending = json.loads(
        sm.get_secret_value(
            SecretId=step.SecretId, VersionId=step.ClientRequestToken, VersionStage="AWSPENDING"
        )["SecretString"]
    )
    response = httpx.get(
        f"{settings.upstream_root}/openai/v1/models",
        headers={"authorization": f"Bearer {pending['active']}"},
        timeout=10.0,
    )
    if response.status_code != 200:
        metrics.add_metric(name="RotationFailures", unit="Count", value=1)
        raise RejectedKeyError(f"Groq answered {response.status_code} to the staged key")


def finish(sm: Any, step: RotationStep, stages: dict[str, list[str]]) -> None:
    current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    sm.update_secret_version_stage(
        SecretId=step.SecretId,
        VersionStage="AWSCURRENT",
        MoveToVersionId=step.ClientRequestToken,
        RemoveFromVersionId=current,
    )
    logger.info("upstream key rotated")


def publish_key_needed(settings: Settings, secret_id: str) -> None:
    topic = settings.alerts_topic_arn
    if not topic:
        return
    boto3.client("sns").publish(
        TopicArn=topic,
        Subject="Groq gateway: stage a new upstream key",
        Message=json.dumps({"kind": "upstream_key_needed", "secret_id": secret_id}),
    )
