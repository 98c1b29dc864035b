"""The Powertools Logger and Metrics every function shares (names from template.yaml).
Never log a key, a prompt or a completion: ids, names, counts and sizes only.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "groq-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GroqGateway/local")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
