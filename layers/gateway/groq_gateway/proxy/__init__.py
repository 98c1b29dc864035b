"""The request proxy: authenticates gateway keys, checks allowlists and forwards to Groq."""
