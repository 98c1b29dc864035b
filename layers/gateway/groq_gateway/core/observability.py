"""The Powertools Logger and Metrics every function shares (names from template.yaml).
Never log a key, a prompt or a completion: ids, names, counts and sizes only.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "groq-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GroqGateway/local")


def _configured_level() -> int | None:
    """POWERTOOLS_LOG_LEVEL as a number, None when unset or not a level name."""
    level = logging.getLevelName(os.environ.get("POWERTOOLS_LOG_LEVEL", "").strip().upper())
    return level if isinstance(level, int) else None


logger = Logger(service=SERVICE)

# template.yaml keeps Lambda's ApplicationLogLevel (AWS_LAMBDA_LOG_LEVEL) at INFO or below: Lambda
# counts the EMF metric lines, which carry no level, as INFO and would drop them under WARN. But
# Powertools prefers AWS_LAMBDA_LOG_LEVEL to POWERTOOLS_LOG_LEVEL, so a stricter configured level
# (WARNING, ERROR) is applied here, where Powertools does the filtering itself.
_level = _configured_level()
if _level is not None and _level > logger.log_level:
    logging.getLogger(logger.name).setLevel(_level)

metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
