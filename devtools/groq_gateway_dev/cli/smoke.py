"""``groq-gateway smoke``: check a deployment end to end with a short-lived key, one line per
check (docs/operations.md#checking-a-deployment).

Example::

    groq-gateway smoke --url "$STAGE_URL" --sigv4 --region eu-west-1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from groq_gateway_dev.cli.client import AdminClient, ApiError, CliError, path_id
from groq_gateway_dev.cli.keys import KEYS_PATH

if TYPE_CHECKING:
    import openai

SMOKE_HELP = "check a deployment end to end with a short-lived key (run it after every deploy)"
DEFAULT_MODEL = "llama-3.1-8b-instant"
KEY_LIFETIME = timedelta(minutes=15)
BUDGET_USD = "0.05"
MAX_TOKENS = 16
PROMPT = "Say hello in three words."
REQUEST_TIMEOUT_SECONDS = 30.0
# Metering happens after the response; a revocation reaches every proxy instance within the key
# cache's bound (KEY_CACHE_SECONDS, at most 5 s). Both are polled for a while.
USAGE_WAIT_SECONDS = 20.0
REFUSAL_WAIT_SECONDS = 15.0
POLL_SECONDS = 0.5
# The requests the usage check expects to find metered: the plain and the streamed completion.
EXPECTED_REQUESTS = 2
OPENAI_MISSING = (
    "`groq-gateway smoke` calls the gateway with the openai package, which is not installed: "
    "pip install openai"
)

FIRST_DEPLOYMENT = "docs/operations.md#first-deployment"
PROXY_LOG = "the proxy's log (log group /aws/lambda/<stack>/proxy)"
ADMIN_LOG = "the admin API's log (log group /aws/lambda/<stack>/admin)"


class CheckFailed(Exception):
    """A check that did not pass: what happened and where to look."""

    def __init__(self, what: str, look_at: str) -> None:
        super().__init__(what)
        self.what = what
        self.look_at = look_at


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    smoke = commands.add_parser(
        "smoke",
        parents=[common],
        help=SMOKE_HELP,
        description="Create a short-lived key, make a chat completion and a streamed one with "
        "the openai package, check their usage is metered, revoke the key and check the proxy "
        "refuses it. One line per check; exit code 1 at the first failure, with what to look "
        "at. The key is revoked whatever happens.",
    )
    smoke.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"the model to call, a small one (default: {DEFAULT_MODEL})",
    )
    smoke.set_defaults(handler=run_smoke)


def import_openai() -> Any:
    """The ``openai`` package, imported only when the command runs; :class:`CliError` (exit code
    2) with the one-line hint when it is missing."""
    try:
        import openai
    except ImportError:
        raise CliError(OPENAI_MISSING, exit_code=2) from None
    return openai


def report(line: str) -> None:
    print(line, flush=True)


def run_smoke(args: argparse.Namespace, client: AdminClient) -> int:
    sdk = import_openai()
    smoke = Smoke(client, sdk, model=args.model)
    return smoke.run()


class Smoke:
    """The checks, in order, against one gateway; :meth:`run` prints a line per check."""

    def __init__(
        self,
        admin: AdminClient,
        sdk: Any,
        *,
        model: str = DEFAULT_MODEL,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        usage_wait: float = USAGE_WAIT_SECONDS,
        refusal_wait: float = REFUSAL_WAIT_SECONDS,
        http_client: Any = None,
    ) -> None:
        self.admin = admin
        self.sdk = sdk
        self.model = model
        self.now = now
        self.sleep = sleep
        self.usage_wait = usage_wait
        self.refusal_wait = refusal_wait
        self.http_client = http_client
        self.proxy_url = f"{admin.base_url}/openai/v1"
        self.key_id: str | None = None
        self.key_name: str | None = None
        self.revoked = False
        self._proxy: openai.OpenAI | None = None

    def run(self) -> int:
        checks: list[tuple[str, Callable[[], str]]] = [
            ("create key", self.create_key),
            ("chat completion", self.chat_completion),
            ("streamed chat completion", self.streamed_chat_completion),
            ("usage metered", self.usage_metered),
            ("revoke key", self.revoke_key),
            ("revoked key refused", self.revoked_key_refused),
        ]
        try:
            for label, check in checks:
                try:
                    detail = check()
                except CheckFailed as failure:
                    report(f"FAIL {label}: {failure.what} — look at {failure.look_at}")
                    return 1
                report(f"ok   {label}: {detail}")
            return 0
        finally:
            self.clean_up()

    # --- the checks ----------------------------------------------------------------------------

    def create_key(self) -> str:
        started = self.now()
        name = f"smoke-{started:%Y%m%dT%H%M%SZ}"
        expires_at = (started + KEY_LIFETIME).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {
            "name": name,
            "description": "groq-gateway smoke: revoked by the command when it ends",
            "allowed_models": [self.model],
            "allowed_endpoints": ["chat", "models"],
            "monthly_budget_usd": BUDGET_USD,
            "expires_at": expires_at,
        }
        try:
            created = self.admin.post(KEYS_PATH, body)
        except ApiError as error:
            raise CheckFailed(f"the admin API answered {error}", admin_hint(error)) from None
        except CliError as error:
            raise CheckFailed(str(error), "--url: the stage URL (the ApiUrl output)") from None
        self.key_id, self.key_name = created["id"], created["name"]
        self._proxy = self.sdk.OpenAI(
            base_url=self.proxy_url,
            api_key=created["key"],
            max_retries=0,
            timeout=REQUEST_TIMEOUT_SECONDS,
            http_client=self.http_client,
        )
        return (
            f"{name} ({self.key_id}), {self.model} only, ${BUDGET_USD} a month, "
            f"expires {expires_at}"
        )

    def chat_completion(self) -> str:
        started = time.monotonic()
        reply = self._call(
            lambda proxy: proxy.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": PROMPT}],
                max_tokens=MAX_TOKENS,
            )
        )
        elapsed = time.monotonic() - started
        content = reply.choices[0].message.content if reply.choices else None
        if not content:
            raise CheckFailed("the answer holds no message", PROXY_LOG)
        tokens = reply.usage.total_tokens if reply.usage else "?"
        return f"{self.model} answered in {elapsed * 1000:.0f} ms, {tokens} tokens"

    def streamed_chat_completion(self) -> str:
        started = time.monotonic()

        def stream(proxy: Any) -> tuple[int, str, float | None]:
            chunks, text, first = 0, "", None
            with proxy.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": PROMPT}],
                max_tokens=MAX_TOKENS,
                stream=True,
            ) as events:
                for event in events:
                    chunks += 1
                    if first is None:
                        first = time.monotonic() - started
                    for choice in event.choices:
                        text += choice.delta.content or ""
            return chunks, text, first

        chunks, text, first = self._call(stream)
        if not text:
            raise CheckFailed(f"the stream ended after {chunks} chunk(s) without text", PROXY_LOG)
        elapsed = time.monotonic() - started
        first_ms = (first or 0.0) * 1000
        return f"{chunks} chunks, the first after {first_ms:.0f} ms, all in {elapsed * 1000:.0f} ms"

    def usage_metered(self) -> str:
        """The admin API's usage history for the key (``GET /openai/v1/usage/history``), read
        until both completions are in it; metering runs after each response."""
        assert self.key_id is not None
        deadline = time.monotonic() + self.usage_wait
        today = self.now().date()
        while True:
            requests, tokens = self._metered(today - timedelta(days=1), today)
            if requests >= EXPECTED_REQUESTS:
                return f"{requests} requests, {tokens} tokens for the key"
            if time.monotonic() >= deadline:
                raise CheckFailed(
                    f"after {self.usage_wait:.0f} s the usage history shows {requests} of "
                    f"{EXPECTED_REQUESTS} requests for the key",
                    f"{PROXY_LOG}: settlement errors after the response "
                    "(docs/operations.md#latency-settlement-and-what-the-proxy-does-after-a-response)",
                )
            self.sleep(POLL_SECONDS)

    def revoke_key(self) -> str:
        assert self.key_id is not None
        key = self._revoke()
        if key.get("status") != "revoked":
            raise CheckFailed(
                f"the admin API answered status {key.get('status')!r}, not 'revoked'", ADMIN_LOG
            )
        return f"{self.key_name} ({self.key_id})"

    def revoked_key_refused(self) -> str:
        """The proxy refuses the revoked key with 401 within the key cache's bound; asked with
        ``GET /openai/v1/models``, which costs nothing if the key still passes."""
        assert self._proxy is not None
        proxy = self._proxy
        started = time.monotonic()
        while True:
            try:
                proxy.models.list()
            except self.sdk.AuthenticationError:
                return f"401 after {time.monotonic() - started:.1f} s"
            except self.sdk.APIError as error:
                what, look_at = describe_sdk_error(self.sdk, error, self.proxy_url, self.model)
                raise CheckFailed(f"{what} instead of 401", look_at) from None
            if time.monotonic() - started >= self.refusal_wait:
                raise CheckFailed(
                    f"the proxy still accepts the key {self.refusal_wait:.0f} s after its "
                    "revocation (the key cache holds a record at most 5 s)",
                    f"{PROXY_LOG} and KEY_CACHE_SECONDS (docs/operations.md#revoking-a-key)",
                )
            self.sleep(POLL_SECONDS)

    # --- helpers -------------------------------------------------------------------------------

    def _call(self, request: Callable[[Any], Any]) -> Any:
        """A request through the SDK; its errors become :class:`CheckFailed` with a hint."""
        assert self._proxy is not None
        try:
            return request(self._proxy)
        except self.sdk.APIError as error:
            what, look_at = describe_sdk_error(self.sdk, error, self.proxy_url, self.model)
            raise CheckFailed(what, look_at) from None

    def _metered(self, start: date, end: date) -> tuple[int, int]:
        try:
            history = self.admin.get(
                "/openai/v1/usage/history",
                {"start": start.isoformat(), "end": end.isoformat(), "key_id": self.key_id},
            )
        except CliError as error:
            raise CheckFailed(f"the usage history: {error}", ADMIN_LOG) from None
        results = [result for bucket in history["data"] for result in bucket["results"]]
        return (
            sum(int(result["requests"]) for result in results),
            sum(int(result["total_tokens"]) for result in results),
        )

    def _revoke(self) -> dict[str, Any]:
        try:
            key: dict[str, Any] = self.admin.delete(f"{KEYS_PATH}/{path_id(self.key_id or '')}")
        except CliError as error:
            raise CheckFailed(
                f"revoking the key: {error}",
                f"{ADMIN_LOG}; revoke it by hand: groq-gateway keys revoke {self.key_id}",
            ) from None
        self.revoked = True
        return key

    def clean_up(self) -> None:
        """Revoke the key if a check ended the run before it was; never raises."""
        if self._proxy is not None:
            self._proxy.close()
        if self.key_id is None or self.revoked:
            return
        try:
            self._revoke()
        except CheckFailed as failure:
            report(f"FAIL clean up: {failure.what} — look at {failure.look_at}")
            return
        report(f"ok   clean up: revoked {self.key_name} ({self.key_id})")


def admin_hint(error: ApiError) -> str:
    """Where to look when the admin API refuses to create the key."""
    if error.status == 401:
        return f"the admin key (--admin-key or $GROQ_GATEWAY_ADMIN_KEY; {FIRST_DEPLOYMENT})"
    if error.status == 403:
        return "the caller's rights: the key needs a full admin (docs/admin-api.md#admin-keys)"
    if error.status == 404:
        return "--url: the stage URL (the ApiUrl output), nothing after the stage"
    if error.status == 422:
        return "--model: a model the gateway's teams and catalogue allow"
    return ADMIN_LOG


def describe_sdk_error(sdk: Any, error: Any, proxy_url: str, model: str) -> tuple[str, str]:
    """What an error from the ``openai`` package means for a deployment, and where to look."""
    if isinstance(error, sdk.APITimeoutError):
        return (
            f"no answer from {proxy_url} within {REQUEST_TIMEOUT_SECONDS:.0f} s",
            f"{PROXY_LOG} and the function's timeout",
        )
    if isinstance(error, sdk.APIConnectionError):
        return f"cannot reach {proxy_url}: {error}", "--url: the stage URL (the ApiUrl output)"
    status = getattr(error, "status_code", None)
    body = getattr(error, "body", None)
    detail = body.get("error", body) if isinstance(body, dict) else None
    code = detail.get("code") if isinstance(detail, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    message = str(message or getattr(error, "message", error))
    what = f"the proxy answered {status}" + (f" {code}" if code else "") + f": {message}"
    if status == 503 and "upstream" in message.lower():
        return what, f"is the upstream Groq key stored? see {FIRST_DEPLOYMENT}"
    if status == 503:
        return what, f"{PROXY_LOG}: DynamoDB and Secrets Manager"
    if status in (502, 504):
        return what, f"{PROXY_LOG}: the proxy could not get an answer from Groq"
    if status == 401:
        return what, (
            "the upstream Groq key if Groq refused it (docs/operations.md#rotating-the-upstream-"
            f"groq-key), else {PROXY_LOG}"
        )
    if status == 403:
        return what, f"the key's allowlists and its team: groq-gateway keys show <id>; {PROXY_LOG}"
    if status in (400, 404) and code in ("model_not_found", "model_decommissioned"):
        return (
            what,
            f"--model: Groq does not serve {model} (GET /openai/v1/models lists what it does)",
        )
    if status == 429:
        return (
            what,
            "the organisation cap and Groq's limits (docs/operations.md#budgets-and-pauses)",
        )
    return what, PROXY_LOG
