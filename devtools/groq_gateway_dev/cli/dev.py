"""``groq-gateway dev``: the whole gateway on one port, with local AWS and an optional simulator.
See docs/architecture.md#the-local-run-groq-gateway-dev.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

import uvicorn

from groq_gateway_dev.devserver.functions import load_handler, load_web_app
from groq_gateway_dev.devserver.iam import LOCAL_IAM
from groq_gateway_dev.devserver.local_aws import (
    LOCAL_AWS_ENV,
    free_port,
    function_environment,
    moto_server,
    provision,
    spawn,
)
from groq_gateway_dev.devserver.routing import ApiRouter, ASGIApp
from groq_gateway_dev.devserver.scheduler import LocalScheduler, ScheduledJob, rate_seconds
from groq_gateway_dev.devserver.template import ApiRoute, TemplateModel, find_template

UPSTREAM_SECRET = "UpstreamKeySecret"  # noqa: S105 - a logical id, not a secret
ADMIN_SECRET = "AdminKeySecret"  # noqa: S105 - a logical id, not a secret


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    upstream = parser.add_mutually_exclusive_group()
    upstream.add_argument(
        "--simulate", action="store_true", help="use the built-in Groq simulator upstream"
    )
    upstream.add_argument(
        "--upstream-url", help="host root of the upstream, e.g. https://api.groq.com"
    )
    parser.add_argument(
        "--upstream-key",
        default=os.environ.get("GROQ_API_KEY"),
        help="the upstream Groq key (default: $GROQ_API_KEY)",
    )
    parser.add_argument("--admin-key", help="the bootstrap admin key (default: a new random one)")
    parser.add_argument("--template", type=Path, help="template.yaml (default: found upward)")
    parser.add_argument(
        "--simulator-latency-ms", type=float, default=0.0, help="simulated upstream latency"
    )
    parser.add_argument(
        "--simulator-chunk-interval-ms",
        type=float,
        default=0.0,
        help="simulated time between streamed chunks",
    )
    parser.add_argument(
        "--schedule-speedup",
        type=float,
        default=1.0,
        help="run scheduled functions this many times faster than their rate",
    )


class _StopRequested(Exception):
    """SIGINT or SIGTERM arrived: unwind, stopping every child process on the way out."""


def _request_stop(signum: int, frame: object) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    # uvicorn handles the signals while it serves and raises them again when it has shut
    # down; these handlers turn that (or a signal during start-up) into an orderly unwind.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _request_stop)
    try:
        return _run(args)
    except _StopRequested:
        return 0


def _run(args: argparse.Namespace) -> int:
    template = TemplateModel.load(args.template or find_template())
    admin_key = args.admin_key or f"ggwlocal-{secrets.token_urlsafe(24)}"
    if not args.simulate and not args.upstream_url:
        if not args.upstream_key:
            print(
                "groq-gateway dev: give --simulate, or --upstream-url with --upstream-key "
                "(or GROQ_API_KEY)",
                file=sys.stderr,
            )
            return 2
        args.upstream_url = "https://api.groq.com"
    if args.upstream_url and not args.upstream_key:
        print("groq-gateway dev: --upstream-url needs --upstream-key", file=sys.stderr)
        return 2

    os.environ.update(LOCAL_AWS_ENV)
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server(args.host))
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        upstream_url, upstream_key = args.upstream_url, args.upstream_key
        if args.simulate:
            upstream_key = f"gsk_simulated_{secrets.token_hex(16)}"
            port = free_port(args.host)
            upstream_url = f"http://{args.host}:{port}"
            simulator = spawn(
                [
                    sys.executable,
                    "-m",
                    "groq_gateway_dev.simulator",
                    "--host",
                    args.host,
                    "--port",
                    str(port),
                    "--api-key",
                    upstream_key,
                    "--latency-ms",
                    str(args.simulator_latency_ms),
                    "--chunk-interval-ms",
                    str(args.simulator_chunk_interval_ms),
                ],
                upstream_url,
                "/_simulator/stats",
            )
            stack.callback(simulator.stop)
        physical = provision(
            template,
            endpoint,
            secret_values={
                UPSTREAM_SECRET: {"active": upstream_key},
                ADMIN_SECRET: {"admin_key": admin_key},
            },
        )
        os.environ.update(function_environment(template, physical))
        os.environ["UPSTREAM_BASE_URL"] = upstream_url

        routes: list[tuple[ApiRoute, ASGIApp]] = []
        jobs: list[ScheduledJob] = []
        for function in template.functions():
            if function.is_web_app:
                app = load_web_app(function)
                routes += [(route, app) for route in function.routes]
            for schedule in function.schedules:
                interval = rate_seconds(schedule.expression)
                if interval is None:
                    print(f"note: {function.logical_id} {schedule.expression} is not run locally")
                    continue
                jobs.append(
                    ScheduledJob(
                        function.logical_id, load_handler(function), interval, schedule.input
                    )
                )
        scheduler = LocalScheduler(jobs, speedup=args.schedule_speedup)
        scheduler.start()
        stack.callback(scheduler.stop)

        base = f"http://{args.host}:{args.port}"
        print(banner(base, admin_key, upstream_url, args.simulate, endpoint), flush=True)
        server = uvicorn.Server(
            uvicorn.Config(
                ApiRouter(routes, iam=LOCAL_IAM),
                host=args.host,
                port=args.port,
                lifespan="on",
                log_level="warning",
                timeout_graceful_shutdown=5,
            )
        )
        server.run()
    return 0


def banner(base: str, admin_key: str, upstream: str, simulated: bool, endpoint: str) -> str:
    source = f"the built-in Groq simulator at {upstream}" if simulated else upstream
    return f"""
Groq gateway running on {base}   (upstream: {source}; local AWS: {endpoint})

Admin key: {admin_key}
The admin API with IAM (SigV4) instead, as {LOCAL_IAM.user_arn} (the local credentials):
  AWS_ACCESS_KEY_ID={LOCAL_IAM.access_key_id} AWS_SECRET_ACCESS_KEY={LOCAL_IAM.secret_access_key} \\
    groq-gateway keys list --url {base} --sigv4 --region {LOCAL_IAM.region}

Create a gateway key:
  curl -s {base}/openai/v1/api-keys \\
    -H "Authorization: Bearer {admin_key}" -H "Content-Type: application/json" \\
    -d '{{"name": "chatbot-prod", "allowed_models": ["openai/gpt-oss-20b"]}}'

Then point the openai SDK at {base}/openai/v1 (or the groq SDK at {base}) with that key.
"""
