"""``make bench``: what the gateway adds, measured side by side on one machine.

``python -m bench.run --help`` lists the options; docs/performance.md explains the figures.
"""
