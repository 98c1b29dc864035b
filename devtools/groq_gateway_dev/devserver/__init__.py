"""The local run of the whole gateway (``groq-gateway dev``), built from template.yaml: the
functions' real code, AWS's parts played locally.
See docs/architecture.md#the-local-run-groq-gateway-dev.
"""
