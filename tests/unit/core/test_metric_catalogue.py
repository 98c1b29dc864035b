"""template.yaml's alarms and dashboard against the metric catalogue, and the catalogue against
what the code emits.

Three links, each checked:

* every alarm and dashboard series in the gateway's namespace is a catalogued series (name
  and exact dimension set, ``service`` being the functions' ``POWERTOOLS_SERVICE_NAME``);
* every ``add_metric`` in the package names a catalogued metric, and every catalogued
  metric is emitted somewhere;
* the proxy's telemetry emits exactly its catalogued series, with the catalogued units (the
  poller's series are checked the same way by its integration tests).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from groq_gateway.core.metric_names import CATALOGUE, Dimension, MetricName, MetricsBatch, series_of
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway_dev.devserver.template import load_template

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "layers" / "gateway" / "groq_gateway"
STACK = "groq-gateway-test"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def namespace(template: dict[str, Any]) -> dict[str, str]:
    return template["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]


@pytest.fixture(scope="module")
def service(template: dict[str, Any]) -> str:
    value: str = template["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    return value


def render(text: str) -> str:
    """A ``Fn::Sub`` string with the pseudo parameters filled in (resource refs left as x)."""
    text = text.replace("${AWS::StackName}", STACK).replace("${AWS::Region}", REGION)
    return re.sub(r"\$\{[^}]+\}", "x", text)


# -- alarms ---------------------------------------------------------------------------------


def alarm_metrics(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(alarm logical id, metric) for each metric an alarm reads, single or in metric math."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        if "MetricName" in properties:
            yield logical_id, properties
        for query in properties.get("Metrics", []):
            if "MetricStat" in query:
                yield logical_id, query["MetricStat"]["Metric"]


def test_every_alarm_on_a_gateway_metric_watches_a_catalogued_series(
    template: dict[str, Any], namespace: dict[str, str], service: str
) -> None:
    checked = set()
    for logical_id, metric in alarm_metrics(template):
        if isinstance(metric["Namespace"], str) and metric["Namespace"].startswith("AWS/"):
            continue
        assert metric["Namespace"] == namespace, logical_id
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        assert dimensions.get("service") == service, f"{logical_id}: alarms match exactly"
        series = series_of(metric["MetricName"], dimensions)
        assert series is not None, f"{logical_id}: {metric['MetricName']} {sorted(dimensions)}"
        checked.add(logical_id)
    assert checked >= {
        "OrgSpend80Alarm",
        "OrgSpend100Alarm",
        "TeamBudgetExhaustedAlarm",
        "Proxy5xxAlarm",
        "Upstream429Alarm",
        "RotationFailuresAlarm",
        "PollerMissingDataAlarm",
        "PollerStepFailuresAlarm",
    }


def test_alarms_on_aws_metrics_watch_this_stacks_resources(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    for logical_id, metric in alarm_metrics(template):
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        if metric["Namespace"] == "AWS/Lambda":
            function = dimensions["FunctionName"]["Ref"]
            assert function in resources, logical_id
            if "Resource" in dimensions:
                # An alias's metrics: Resource is <function name>:<alias>, and only for an alias
                # the function really has (alarms match dimensions exactly).
                alias = resources[function]["Properties"]["AutoPublishAlias"]
                assert dimensions == {
                    "FunctionName": {"Ref": function},
                    "Resource": {"Fn::Sub": f"${{{function}}}:{alias}"},
                }, logical_id
            else:
                assert set(dimensions) == {"FunctionName"}, logical_id
        elif metric["Namespace"] == "AWS/ApiGateway":
            # REST API metrics per stage: the API's Name and the stage's name.
            api = resources["GatewayApi"]["Properties"]
            assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}, logical_id


def test_failures_outside_the_app_are_alarmed(template: dict[str, Any]) -> None:
    """Crashes, timeouts, throttles and API Gateway's own 5xx never reach Gateway5xx."""
    watched = {
        (metric["Namespace"], metric["MetricName"], json.dumps(metric["Dimensions"]))
        for _, metric in alarm_metrics(template)
        if isinstance(metric["Namespace"], str)
    }
    names = {(namespace, name) for namespace, name, _ in watched}
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Count"),
    } <= names
    proxy_alias = json.dumps(
        [
            {"Name": "FunctionName", "Value": {"Ref": "ProxyFunction"}},
            {"Name": "Resource", "Value": {"Fn::Sub": "${ProxyFunction}:live"}},
        ]
    )
    assert ("AWS/Lambda", "Errors", proxy_alias) in watched
    assert ("AWS/Lambda", "Throttles", proxy_alias) in watched


# -- the dashboard --------------------------------------------------------------------------


def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["GatewayDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    document: dict[str, Any] = json.loads(render(body))
    return document


_SEARCH = re.compile(
    r"SEARCH\('\{\"(?P<ns>[^\"]+)\",(?P<dims>[^}]*)\} MetricName=\"(?P<name>\w+)\""
)


def dashboard_series(document: dict[str, Any]) -> Iterator[tuple[str, str, set[str]]]:
    """(namespace, metric name, dimension names) of every series a widget reads."""
    for widget in document["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            if isinstance(row[0], str):
                namespace, name, *rest = row
                pairs = [part for part in rest if isinstance(part, str)]
                yield namespace, name, set(pairs[0::2])
            else:
                expression = row[0].get("expression", "")
                for match in _SEARCH.finditer(expression):
                    dims = {d for d in match["dims"].split(",") if d}
                    yield match["ns"], match["name"], dims


def test_every_dashboard_series_is_catalogued(template: dict[str, Any]) -> None:
    document = dashboard(template)
    series = list(dashboard_series(document))
    namespace = f"GroqGateway/{STACK}"
    names = set()
    for ns, name, dimensions in series:
        if ns in AWS_SERIES:
            # AWS's own metrics: failures outside the app (test_the_dashboard_shows_aws_failures).
            assert (name, frozenset(dimensions)) in AWS_SERIES[ns], (ns, name, sorted(dimensions))
            continue
        assert ns == namespace, name
        assert series_of(name, dimensions) is not None, f"{name} {sorted(dimensions)}"
        names.add(name)
    # What the issue asks the dashboard to show.
    assert names >= {
        MetricName.TEAM_MONTH_TO_DATE_SPEND_USD,
        MetricName.TEAM_BUDGET_UTILIZATION_PERCENT,
        MetricName.ORG_BUDGET_UTILIZATION_PERCENT,
        MetricName.REQUESTS,
        MetricName.PROMPT_TOKENS,
        MetricName.COMPLETION_TOKENS,
        MetricName.REJECTIONS,
        MetricName.UPSTREAM_LATENCY_MS,
        MetricName.GATEWAY_OVERHEAD_MS,
    }


AWS_SERIES = {
    "AWS/Lambda": {
        ("Errors", frozenset({"FunctionName", "Resource"})),
        ("Throttles", frozenset({"FunctionName", "Resource"})),
    },
    "AWS/ApiGateway": {("5XXError", frozenset({"ApiName", "Stage"}))},
}


def test_the_dashboard_shows_aws_failures(template: dict[str, Any]) -> None:
    body = template["Resources"]["GatewayDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for metric in ("Errors", "Throttles"):
        row = (
            f'"AWS/Lambda", "{metric}", "FunctionName", "${{ProxyFunction}}", '
            '"Resource", "${ProxyFunction}:live"'
        )
        assert row in body, metric
    assert (
        '"AWS/ApiGateway", "5XXError", "ApiName", "${AWS::StackName}-api", "Stage", "${Stage}"'
        in body
    )
    shown = {(ns, name) for ns, name, _ in dashboard_series(dashboard(template))}
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "5XXError"),
    } <= shown


def test_the_dashboard_shows_every_alarm(template: dict[str, Any]) -> None:
    body = template["Resources"]["GatewayDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    shown = set(re.findall(r"\$\{(\w+)\.Arn\}", body))
    alarms = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert shown == alarms


# -- the code -------------------------------------------------------------------------------


def calls(method: str) -> Iterator[tuple[Path, ast.Call]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == method
            ):
                yield path, node


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def enum_member(node: ast.expr | None, enum: str) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == enum
    ):
        return node.attr
    return None


def test_the_code_emits_metrics_only_by_catalogued_names() -> None:
    catalogued = {series.name.value for series in CATALOGUE}
    found = 0
    for path, call in calls("add_metric"):
        if path.name == "metric_names.py":
            continue  # MetricsBatch: checks each name against the catalogue when called
        name = keyword(call, "name")
        member = enum_member(name, "MetricName")
        if member is not None:
            assert member in MetricName.__members__, f"{path.name}:{call.lineno}"
        else:
            assert isinstance(name, ast.Constant), f"{path.name}:{call.lineno}: dynamic name"
            assert name.value in catalogued, f"{path.name}:{call.lineno}: {name.value}"
        found += 1
    for path, call in calls("add_dimension"):
        if path.name == "metric_names.py":
            continue
        name = keyword(call, "name")
        assert enum_member(name, "Dimension") in Dimension.__members__, f"{path.name}:{call.lineno}"
    # The proxy writes its EMF document itself: each MetricDefinition names a member, literally
    # or through a variable (what it emits is checked by test_the_proxy_emits_exactly_...).
    for path, definition in metric_definitions():
        keys = [key.value if isinstance(key, ast.Constant) else None for key in definition.keys]
        value = definition.values[keys.index("Name")]
        if isinstance(value, ast.Name):
            continue
        assert enum_member(value, "MetricName") in MetricName.__members__, f"{path.name}"
        found += 1
    assert found >= 10


def metric_definitions() -> Iterator[tuple[Path, ast.Dict]]:
    """``{"Name": ...}`` literals: EMF MetricDefinitions written by hand."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict) and any(
                isinstance(key, ast.Constant) and key.value == "Name" for key in node.keys
            ):
                yield path, node


def test_every_catalogued_metric_is_emitted_somewhere() -> None:
    used = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "metric_names.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            member = enum_member(node, "MetricName") if isinstance(node, ast.expr) else None
            if member is not None:
                used.add(MetricName[member])
            if isinstance(node, ast.Constant) and node.value in MetricName._value2member_map_:
                used.add(MetricName(node.value))
    assert set(MetricName) - used == set()


def emf(output: str) -> set[tuple[str, frozenset[str], str]]:
    """(name, dimension names, unit) of every metric in the EMF lines of ``output``."""
    found = set()
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    # EMF's default unit is "None".
                    unit = metric.get("Unit", "None")
                    found.add((metric["Name"], frozenset(dimension_set), unit))
    return found


def test_every_series_names_the_code_that_emits_it() -> None:
    for series in CATALOGUE:
        where = PACKAGE / series.emitted_by
        files = sorted(where.rglob("*.py")) if series.emitted_by.endswith("/") else [where]
        assert files, series.emitted_by
        assert all(path.is_file() for path in files), series.emitted_by
        member = f"MetricName.{MetricName(series.name).name}"
        assert any(member in path.read_text() for path in files), (series.name, where)


def catalogued(emitted_by: str) -> set[tuple[str, frozenset[str], str]]:
    return {
        (s.name.value, frozenset(d.value for d in s.dimensions), s.unit.value)
        for s in CATALOGUE
        if s.emitted_by == emitted_by
    }


def publish_every_kind_of_request() -> None:
    """One line of each shape the proxy writes: forwarded with a model, refused, failing."""
    RequestTelemetry(
        path="/openai/v1/chat/completions",
        key_id="k7w2m9q4x1c8v5b3",
        team_id="chatbot",
        model="openai/gpt-oss-20b",
        status=200,
        prompt_tokens=12,
        completion_tokens=3,
        cost_micros=7,
        upstream_ms=40.0,
        total_ms=43.5,
    ).publish()
    RequestTelemetry(path="/openai/v1/models", status=401, rejection="invalid_api_key").publish()
    RequestTelemetry(  # the counters the alarms read appear only when not zero
        path="/openai/v1/chat/completions", status=503, upstream_429=1, upstream_5xx=1
    ).publish()
    RequestTelemetry(  # ... and with a model, they keep to service alone
        path="/openai/v1/chat/completions",
        model="openai/gpt-oss-20b",
        status=200,
        upstream_429=1,
        upstream_attempts=2,
        upstream_ms=900.0,
        total_ms=903.0,
    ).publish()
    failed = RequestTelemetry(path="/openai/v1/chat/completions")
    failed.failed(RuntimeError("a gateway bug"))
    failed.publish()


def test_the_proxy_emits_exactly_its_catalogued_series(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    publish_every_kind_of_request()
    assert emf(capsys.readouterr().out) == catalogued("proxy/telemetry.py")


def template_series(template: dict[str, Any]) -> set[tuple[str, frozenset[str]]]:
    """(name, dimension names) of every gateway series an alarm or a dashboard widget reads."""
    read: set[tuple[str, frozenset[str]]] = set()
    for _, metric in alarm_metrics(template):
        if isinstance(metric["Namespace"], str) and metric["Namespace"].startswith("AWS/"):
            continue
        read.add((metric["MetricName"], frozenset(d["Name"] for d in metric.get("Dimensions", []))))
    for namespace, name, widget_dimensions in dashboard_series(dashboard(template)):
        if namespace not in AWS_SERIES:
            read.add((name, frozenset(widget_dimensions)))
    return read


def test_every_proxy_series_the_template_reads_is_still_emitted(
    template: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """What the proxy really prints, not only what the catalogue says: an alarm or widget on a
    series the proxy stopped writing would sit in INSUFFICIENT_DATA or show nothing."""
    read = template_series(template)
    proxy = {
        (name, dimensions)
        for name, dimensions, _ in catalogued("proxy/telemetry.py")
        if (name, dimensions) in read
    }
    # What the alarms and the dashboard read from the proxy (Proxy5xxAlarm, Upstream429Alarm,
    # the per-model, rejection, latency and health widgets).
    assert proxy >= {
        ("Requests", frozenset({"service"})),
        ("Gateway5xx", frozenset({"service"})),
        ("Upstream429", frozenset({"service"})),
        ("Requests", frozenset({"model", "service"})),
        ("PromptTokens", frozenset({"model", "service"})),
        ("CompletionTokens", frozenset({"model", "service"})),
        ("Rejections", frozenset({"reason", "service"})),
        ("UpstreamLatencyMs", frozenset({"service"})),
        ("GatewayOverheadMs", frozenset({"service"})),
    }
    capsys.readouterr()
    publish_every_kind_of_request()
    emitted = {(name, dimensions) for name, dimensions, _ in emf(capsys.readouterr().out)}
    assert proxy <= emitted, sorted(proxy - emitted)
    # Every other series read is catalogued with another emitter (the poller's and the
    # rotation's are checked by their own tests), never a proxy series it no longer writes.
    for name, dimensions in read - proxy:
        series = series_of(name, dimensions)
        assert series is not None, (name, sorted(dimensions))
        assert series.emitted_by != "proxy/telemetry.py", (name, sorted(dimensions))


def test_the_runbooks_logs_insights_query_reads_fields_the_line_has(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/operations.md's Logs Insights example names fields of the proxy's request line."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    query = text.split("a key's slowest requests, for example:", 1)[1].split("```")[1]
    # Without string literals and CloudWatch's own fields (@timestamp, @message, ...).
    names = re.sub(r'"[^"]*"|@\w+', " ", query)
    keywords = {"fields", "filter", "ispresent", "and", "or", "not", "sort", "desc", "asc", "limit"}
    fields = set(re.findall(r"[A-Za-z_]\w*", names)) - keywords
    capsys.readouterr()
    RequestTelemetry(
        path="chat/completions",
        key_id="k7w2m9q4x1c8v5b3",
        model="openai/gpt-oss-20b",
        status=200,
        upstream_ms=40.0,
        total_ms=43.5,
    ).publish()
    document = json.loads(capsys.readouterr().out)
    assert fields, query
    assert fields <= set(document), sorted(fields - set(document))


def test_a_batch_refuses_what_the_catalogue_does_not_hold(
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch = MetricsBatch()
    with pytest.raises(ValueError, match="not in the catalogue"):
        batch.add(MetricName.POLLER_RUNS, 1, {Dimension.TEAM: "chatbot"})
    batch.add(MetricName.TEAM_BUDGET_UTILIZATION_PERCENT, 80, {Dimension.TEAM: "chatbot"})
    batch.add(MetricName.POLLER_RUNS, 1)
    batch.flush()
    assert emf(capsys.readouterr().out) == {
        ("TeamBudgetUtilizationPercent", frozenset({"service", "team"}), "Percent"),
        ("PollerRuns", frozenset({"service"}), "Count"),
    }
