"""``groq-gateway dev``: the whole gateway on one port, with local AWS and an optional simulator;
with ``--front-door function-url`` the proxy also on a second port, as its function URL.
See docs/architecture.md#the-local-run-groq-gateway-dev.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import uvicorn

from groq_gateway_dev.devserver.function_url import FunctionUrlDoor
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
API_GATEWAY, FUNCTION_URL = "api-gateway", "function-url"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--front-door",
        choices=[API_GATEWAY, FUNCTION_URL],
        default=API_GATEWAY,
        help="the template's ProxyFrontDoor: function-url also serves the proxy as its "
        "function URL on --function-url-port (the admin API stays on --port)",
    )
    parser.add_argument(
        "--function-url-port",
        type=int,
        help="the proxy's function URL port with --front-door function-url (default: --port + 1)",
    )
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
    function_urls = template.function_urls()
    if args.front_door == FUNCTION_URL and len(function_urls) != 1:
        print("groq-gateway dev: the template has no single AWS::Lambda::Url", file=sys.stderr)
        return 2
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
        web_apps: dict[str, ASGIApp] = {}
        jobs: list[ScheduledJob] = []
        for function in template.functions():
            if function.is_web_app:
                app = web_apps[function.logical_id] = load_web_app(function)
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
        server = uvicorn.Server(_config(ApiRouter(routes, iam=LOCAL_IAM), args.host, args.port))
        if args.front_door == API_GATEWAY:
            print(banner(base, admin_key, upstream_url, args.simulate, endpoint), flush=True)
            server.run()
            return 0
        (url,) = function_urls
        port = args.function_url_port or args.port + 1
        proxy_base = f"http://{args.host}:{port}"
        door = FunctionUrlDoor(web_apps[url.function], domain=f"{args.host}:{port}")
        print(
            banner(base, admin_key, upstream_url, args.simulate, endpoint, proxy_base=proxy_base),
            flush=True,
        )
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(_serve_both(server, _SecondServer(_config(door, args.host, port))))
    return 0


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    # The event loop and HTTP parser functions/proxy/run.sh names, so the apps run here as in
    # Lambda (uvloop has no Windows build: asyncio's own loop there).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio" if sys.platform == "win32" else "uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


class _SecondServer(uvicorn.Server):
    """A server that leaves the signals to the first one, which stops it when it stops."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve_both(first: uvicorn.Server, second: uvicorn.Server) -> None:
    serving = asyncio.create_task(second.serve())
    try:
        await first.serve()
    finally:
        second.should_exit = True
        await serving


def banner(
    base: str,
    admin_key: str,
    upstream: str,
    simulated: bool,
    endpoint: str,
    *,
    proxy_base: str | None = None,
) -> str:
    """What the user needs first; ``proxy_base`` is the proxy's function URL, if served."""
    source = f"the built-in Groq simulator at {upstream}" if simulated else upstream
    proxy = proxy_base or base
    door = (
        f"\nProxy function URL: {proxy_base}/   (front door: function-url)\n" if proxy_base else ""
    )
    return f"""
Groq gateway running on {base}   (upstream: {source}; local AWS: {endpoint})
{door}
Admin key: {admin_key}
The admin API with IAM (SigV4) instead, as {LOCAL_IAM.user_arn} (the local credentials):
  AWS_ACCESS_KEY_ID={LOCAL_IAM.access_key_id} AWS_SECRET_ACCESS_KEY={LOCAL_IAM.secret_access_key} \\
    groq-gateway keys list --url {base} --sigv4 --region {LOCAL_IAM.region}

Create a gateway key:
  curl -s {base}/openai/v1/api-keys \\
    -H "Authorization: Bearer {admin_key}" -H "Content-Type: application/json" \\
    -d '{{"name": "chatbot-prod", "allowed_models": ["openai/gpt-oss-20b"]}}'

Then point the openai SDK at {proxy}/openai/v1 (or the groq SDK at {proxy}) with that key.
"""
