"""Usage poller Lambda: runs on an EventBridge Scheduler schedule (every 5 minutes by default)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from groq_gateway.observability import logger, metrics
from groq_gateway.usage_poller import handle_poll_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_poll_event(event)
