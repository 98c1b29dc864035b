"""Publishing the alerts outbox to the SNS alerts topic (the usage poller and the rotation
function both run it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from groq_gateway.core.observability import logger
from groq_gateway.core.settings import Settings
from groq_gateway.store.notices import NoticeStore

SNS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3})
# How long a run holds an outbox entry it is publishing (longer than the function's timeout).
PUBLISH_LEASE = timedelta(minutes=5)


@dataclass
class OutboxResult:
    published: int = 0
    # What SNS answered to the event it refused; the events after it wait for the next run.
    refusal: ClientError | BotoCoreError | None = None


def publish_outbox(settings: Settings, notices: NoticeStore, now: datetime) -> OutboxResult:
    """Publish queued events to the alerts topic, oldest first.

    The first refusal stops the step (SNS is likely refusing all of them); the refused event
    is given back and published by a later run. Without an alerts topic (some local runs)
    events are dropped with a log line.
    """
    result = OutboxResult()
    sns = boto3.client("sns", config=SNS_CONFIG) if settings.alerts_topic_arn else None
    for entry in notices.pending():
        if not notices.claim(entry, now, PUBLISH_LEASE):
            continue
        if sns is None:
            logger.info("no alerts topic configured; event dropped", extra={"kind": entry.kind})
            notices.delete(entry)
            continue
        try:
            sns.publish(
                TopicArn=settings.alerts_topic_arn,
                Subject=entry.subject,
                MessageStructure="json",
                Message=json.dumps({"default": entry.event_json, "email": entry.email_text}),
                MessageAttributes={"kind": {"DataType": "String", "StringValue": entry.kind}},
            )
        except (ClientError, BotoCoreError) as error:
            notices.release(entry)
            result.refusal = error
            return result
        notices.delete(entry)
        result.published += 1
    return result
