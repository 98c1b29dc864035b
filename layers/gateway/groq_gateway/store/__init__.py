"""The DynamoDB adapter: the only module that knows item layouts and key schemas.

See docs/architecture.md for the table design and every access pattern.
"""

from groq_gateway.store.dynamodb import ConditionFailedError, GatewayStore, StoreUnavailableError

__all__ = ["ConditionFailedError", "GatewayStore", "StoreUnavailableError"]
