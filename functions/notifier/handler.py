"""Notifier Lambda: turns SNS alerts (CloudWatch alarms, gateway events) into chat messages."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from groq_gateway.core.observability import logger, metrics
from groq_gateway.notifier.webhook import handle_sns_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_sns_event(event)
