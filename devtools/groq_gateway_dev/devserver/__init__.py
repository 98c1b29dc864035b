"""The local run of the whole gateway (``groq-gateway dev``), built from template.yaml itself.

Nothing here is deployed: the Lambda functions run their real code, while this package plays
the parts AWS plays in the cloud (API Gateway's routing, the scheduler's timer) and starts
moto's server for DynamoDB and Secrets Manager.
"""
