"""The Powertools Logger, Metrics and Tracer shared by every function.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (set in template.yaml). Nothing logged here may contain a key,
a prompt or a completion: log ids, names, counts and sizes only.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "groq-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GroqGateway/local")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
