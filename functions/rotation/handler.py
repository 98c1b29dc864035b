"""Rotation Lambda: scheduled gateway-key rotation and the upstream key's Secrets Manager rotation.

Two event sources reach it: the EventBridge Scheduler schedule (gateway keys that are due) and
Secrets Manager's four rotation steps for the upstream Groq key secret.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from groq_gateway.core.observability import logger, metrics
from groq_gateway.rotation.run import handle_rotation_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_rotation_event(event)
