"""The usage poller function: one module per step of its scheduled run (:mod:`.run`).

See docs/architecture.md.
"""
