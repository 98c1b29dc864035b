"""The notifier function: SNS alerts to a Slack-compatible chat webhook (:mod:`.webhook`).

See docs/architecture.md.
"""
