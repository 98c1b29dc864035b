"""`python -m groq_gateway_dev.simulator`: serve the Groq API simulator with uvicorn."""

from __future__ import annotations

import argparse

from .app import create_app
from .config import SimulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m groq_gateway_dev.simulator", description="Serve a simulated Groq API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="before every response")
    parser.add_argument("--chunk-interval-ms", type=float, default=0.0, help="between chunks")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="0 to 1")
    parser.add_argument("--failure-status", type=int, default=503)
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this key (repeatable); by default any bearer token is accepted",
    )
    parser.add_argument("--requests-per-day", type=int, default=14_400)
    parser.add_argument("--tokens-per-minute", type=int, default=18_000)
    parser.add_argument("--seed", type=int, default=None, help="for reproducible failures")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        latency_ms=args.latency_ms,
        chunk_interval_ms=args.chunk_interval_ms,
        failure_rate=args.failure_rate,
        failure_status=args.failure_status,
        api_keys=None if args.api_keys is None else frozenset(args.api_keys),
        requests_per_day=args.requests_per_day,
        tokens_per_minute=args.tokens_per_minute,
        seed=args.seed,
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    args = parse_args(argv)
    app = create_app(config_from_args(args))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
