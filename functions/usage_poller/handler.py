"""Usage poller Lambda: runs on an EventBridge Scheduler schedule (every 5 minutes by default).

The run writes its own metrics (one EMF document per dimension set) when it ends.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from groq_gateway.core.observability import logger
from groq_gateway.usage_poller.run import handle_poll_event


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_poll_event(event)
