"""groq_gateway: the domain of the Groq access gateway, shared by every Lambda function.

The package holds what the functions have in common: key format and hashing, the pydantic
models, the DynamoDB store, pricing, errors and settings. AWS services sit behind small
adapters (``store``, ``secrets``) so the domain can be tested without AWS.
"""

__version__ = "0.1.0"
