"""The rotation function: the scheduled run over gateway keys (:mod:`.run`) and the upstream
Groq key's Secrets Manager rotation (:mod:`.upstream_key`). See docs/architecture.md.
"""
