"""The admin API: gateway keys, teams, usage and the audit log (``/openai/v1/api-keys`` ...)."""
