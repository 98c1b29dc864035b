"""The ``groq-gateway`` console script."""
