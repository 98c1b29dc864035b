"""Static checks of template.yaml, samconfig.toml and events/*.json.

The template is read with a small YAML loader that understands CloudFormation's short tags
(``!Ref``, ``!Sub``, ``!GetAtt`` ...) and turns them into their long forms, so these tests need
neither AWS nor the groq_gateway package. When groq_gateway's own template loader is importable,
one test checks that it reads the template exactly as this loader does (``groq-gateway dev`` builds
the local table, secrets and routes from that reading).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

ALERTS_TOPIC = {"Ref": "AlertsTopic"}
NAMESPACE = {"Fn::Sub": "GroqGateway/${AWS::StackName}"}
SERVICE_DIMENSION = [{"Name": "service", "Value": "groq-gateway"}]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that maps CloudFormation short-form tags to their long forms."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_cfn_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_cfn_yaml(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return template["Resources"]


def of_type(resources: dict[str, dict[str, Any]], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in resources.items() if res["Type"] == resource_type}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def props(resources: dict[str, dict[str, Any]], logical_id: str) -> dict[str, Any]:
    return resources[logical_id].get("Properties", {})


# --------------------------------------------------------------------------------------------
# Shape of the template
# --------------------------------------------------------------------------------------------

EXPECTED_RESOURCES = {
    "GatewayLayer", "GatewayApi", "ProxyFunction", "AdminFunction", "RotationFunction",
    "UsagePollerFunction", "NotifierFunction", "GatewayTable", "UpstreamKeySecret",
    "AdminKeySecret", "AlertWebhookSecret", "UpstreamKeyRotationSchedule", "AlertsTopic",
    "AlertsEmailSubscription", "ScheduledFunctionsDLQ", "OrgSpend80Alarm", "OrgSpend100Alarm",
    "TeamBudgetExhaustedAlarm", "Proxy5xxAlarm", "Upstream429Alarm", "RotationFailuresAlarm",
    "RotationFunctionErrorsAlarm", "ScheduledFunctionsDLQDepthAlarm", "PollerFailuresAlarm",
    "PollerMissingDataAlarm", "ProxyErrorsAlarm", "ProxyThrottlesAlarm", "Api5xxAlarm",
    "GatewayDashboard",
}  # fmt: skip


def test_is_a_sam_template(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"


def test_contract_resources_exist(resources: dict[str, dict[str, Any]]) -> None:
    missing = EXPECTED_RESOURCES - set(resources)
    assert not missing, f"missing logical ids: {sorted(missing)}"


def test_every_resource_has_an_explaining_comment() -> None:
    """serverless-patterns style: a comment naming each resource and saying why precedes it."""
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    start = lines.index("Resources:")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^\S", lines[i]))
    undocumented = []
    for index in range(start + 1, end):
        match = re.match(r"^  ([A-Za-z0-9]+):\s*$", lines[index])
        if not match:
            continue
        logical_id = match.group(1)
        block: list[str] = []
        cursor = index - 1
        while cursor > start and lines[cursor].startswith("  #"):
            block.append(lines[cursor])
            cursor -= 1
        if not any(f"# {logical_id}:" in line for line in block):
            undocumented.append(logical_id)
    assert not undocumented, f"resources without a '# <LogicalId>: why' comment: {undocumented}"


def test_parameters_and_defaults(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["Stage"]["Default"] == "dev"
    assert params["Stage"]["AllowedValues"] == ["dev", "staging", "prod"]
    assert params["AlertEmail"]["Default"] == ""
    assert params["OrgMonthlyCapUSD"]["Type"] == "Number"
    assert params["OrgMonthlyCapUSD"]["Default"] == 1000
    assert params["RotationScheduleExpression"]["Default"] == "rate(1 hour)"
    assert params["UsagePollScheduleExpression"]["Default"] == "rate(5 minutes)"
    assert params["UpstreamKeyRotationExpression"]["Default"] == "rate(30 days)"
    assert params["UpstreamBaseUrl"]["Default"] == "https://api.groq.com"
    assert params["LogLevel"]["Default"] == "INFO"
    # No parameter may carry a credential: parameter values stay visible in stack history.
    for name in params:
        assert not re.search(r"(ApiKey|Secret|Password|Token)$", name), name


def test_globals_give_every_function_the_contract_environment(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert function_globals["LoggingConfig"]["LogFormat"] == "JSON"
    env = function_globals["Environment"]["Variables"]
    assert env == {
        "TABLE_NAME": {"Ref": "GatewayTable"},
        "POWERTOOLS_SERVICE_NAME": "groq-gateway",
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
        "STAGE": {"Ref": "Stage"},
        "UPSTREAM_BASE_URL": {"Ref": "UpstreamBaseUrl"},
        "UPSTREAM_KEY_SECRET_ID": {"Ref": "UpstreamKeySecret"},
        "ORG_MONTHLY_CAP_USD": {"Ref": "OrgMonthlyCapUSD"},
        "ORG_LEASE_USD": {"Ref": "OrgBudgetLeaseUSD"},
        "ORG_LEASE_SECONDS": "60",
        "ORG_LEASE_GRACE_SECONDS": "600",
        "ALERTS_TOPIC_ARN": ALERTS_TOPIC,
        "PRICE_OVERRIDES": {"Ref": "PriceOverrides"},
        "UNPRICED_MODELS": {"Ref": "UnpricedModels"},
        "UNPRICED_FALLBACK_PRICES": {"Ref": "UnpricedFallbackPrices"},
        "BILLING_TIMEZONE": {"Ref": "BillingTimezone"},
    }


def environment_variables(template: dict[str, Any], function: dict[str, Any]) -> set[str]:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    own = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
    return set(shared) | set(own)


# Read by the runtimes and libraries, not by the gateway's code.
READ_BY_LIBRARIES = re.compile(r"^(AWS_|POWERTOOLS_|PYTHON|PORT$|READINESS_CHECK)")


def test_every_environment_variable_a_function_gets_is_read_by_the_code(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    """A variable nothing reads is drift: it hides what a function really depends on."""
    package = ROOT / "layers" / "gateway" / "groq_gateway"
    code = "\n".join(path.read_text() for path in sorted(package.rglob("*.py")))
    code += "\n".join(
        path.read_text()
        for path in sorted((ROOT / "functions").rglob("*"))
        if path.suffix in {".py", ".sh"}
    )
    functions = of_type(resources, "AWS::Serverless::Function")
    for logical_id, function in functions.items():
        for name in sorted(environment_variables(template, function)):
            if READ_BY_LIBRARIES.match(name):
                continue
            assert f'"{name}"' in code or f"${name}" in code or f"${{{name}}}" in code, (
                f"{logical_id} gets {name}, which no code reads"
            )


def test_no_function_may_invoke_another(resources: dict[str, dict[str, Any]]) -> None:
    """Every function does its own work; the admin's "rotate now" runs in the admin function."""
    for logical_id, function in of_type(resources, "AWS::Serverless::Function").items():
        for policy in as_list(function["Properties"].get("Policies", [])):
            statements = policy.get("Statement", []) if isinstance(policy, dict) else []
            for statement in statements:
                actions = as_list(statement.get("Action", []))
                assert "lambda:InvokeFunction" not in actions, (logical_id, statement.get("Sid"))


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    "ProxyFunction": ("functions/proxy", "run.sh"),
    "AdminFunction": ("functions/admin", "run.sh"),
    "RotationFunction": ("functions/rotation", "handler.lambda_handler"),
    "UsagePollerFunction": ("functions/usage_poller", "handler.lambda_handler"),
    "NotifierFunction": ("functions/notifier", "handler.lambda_handler"),
}


def test_functions_are_exactly_the_contract(resources: dict[str, dict[str, Any]]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    for logical_id, (code_uri, handler) in FUNCTIONS.items():
        assert props(resources, logical_id)["CodeUri"] == code_uri, logical_id
        assert props(resources, logical_id)["Handler"] == handler, logical_id


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_code_uri_holds_the_handler(resources: dict[str, dict[str, Any]], logical_id: str) -> None:
    properties = props(resources, logical_id)
    code_dir = ROOT / properties["CodeUri"]
    assert code_dir.is_dir(), f"{logical_id}: {code_dir} does not exist"
    handler = properties["Handler"]
    if handler.endswith(".sh"):
        script = code_dir / handler
        assert script.is_file(), f"{logical_id}: {script} missing"
        # The Web Adapter's /opt/bootstrap executes the script: without +x nothing starts.
        assert os.access(script, os.X_OK), f"{logical_id}: {script} is not executable"
        assert (code_dir / "app.py").is_file(), f"{logical_id}: app.py (the ASGI app) missing"
    else:
        module, _, function = handler.rpartition(".")
        source = code_dir / f"{module.replace('.', '/')}.py"
        assert source.is_file(), f"{logical_id}: {source} missing"
        assert re.search(rf"^def {function}\(", source.read_text(encoding="utf-8"), re.M), (
            f"{logical_id}: {source} defines no {function}()"
        )
    layers = properties["Layers"]
    assert {"Ref": "GatewayLayer"} in layers, f"{logical_id} lacks the shared layer"


@pytest.mark.parametrize("logical_id", ["ProxyFunction", "AdminFunction"])
def test_web_apps_run_behind_the_lambda_web_adapter(
    resources: dict[str, dict[str, Any]], logical_id: str
) -> None:
    properties = props(resources, logical_id)
    adapter = properties["Layers"][0]["Fn::Sub"]
    assert re.fullmatch(
        r"arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:753240598075:layer:"
        r"LambdaAdapterLayerArm64:\d+",  # written out: see tests/unit/template/test_versions.py
        adapter,
    ), adapter
    env = properties["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_PORT"] == "8080"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"


def test_proxy_route_streams(resources: dict[str, dict[str, Any]]) -> None:
    properties = props(resources, "ProxyFunction")
    assert properties["Environment"]["Variables"]["AWS_LWA_INVOKE_MODE"] == "response_stream"
    api_events = [e["Properties"] for e in properties["Events"].values() if e["Type"] == "Api"]
    assert len(api_events) == 1
    route = api_events[0]
    assert route["Path"] == "/openai/v1/{proxy+}"
    assert route["Method"] == "ANY"
    assert route["RestApiId"] == {"Ref": "GatewayApi"}
    # SAM accepts BUFFERED | RESPONSE_STREAM; anything else silently stays buffered.
    assert route["ResponseTransferMode"] == "RESPONSE_STREAM"
    # Streamed integrations may run up to 15 minutes; the function must outlive the route.
    timeout_ms = route["TimeoutInMillis"]
    assert 29_000 < timeout_ms <= 900_000
    assert properties["Timeout"] * 1000 > timeout_ms


BEARER_ADMIN_ROUTES = {
    ("/openai/v1/api-keys", "ANY"),
    ("/openai/v1/api-keys/{proxy+}", "ANY"),
    ("/openai/v1/admin-keys", "ANY"),
    ("/openai/v1/admin-keys/{proxy+}", "ANY"),
    ("/openai/v1/teams", "ANY"),
    ("/openai/v1/teams/{proxy+}", "ANY"),
    ("/openai/v1/usage", "GET"),
    ("/openai/v1/usage/{proxy+}", "GET"),
    ("/openai/v1/audit-log", "GET"),
    ("/openai/v1/prices", "GET"),
    ("/openai/v1/prices/{proxy+}", "ANY"),
    ("/openai/v1/admin/batches", "GET"),
    ("/openai/v1/admin/files", "GET"),
    ("/openai/v1/admin/me", "GET"),
    ("/openai/v1/admin/iam-principals", "GET"),
    ("/openai/v1/admin/iam-principals/{proxy+}", "ANY"),
    ("/openai/v1/admin/openapi.json", "GET"),
}
# The console's page, scripts and styles (docs/console.md): public, as they hold no data (every
# call the page makes is to a bearer route above, with the admin key the user signed in with),
# and without an /iam/ twin, since a browser cannot sign with SigV4.
CONSOLE_ROUTES = {("/console", "GET"), ("/console/{proxy+}", "GET")}
# API Gateway checks SigV4 on these; InvokeRole NONE keeps SAM's default (the caller's own
# credentials, which would need lambda:InvokeFunction) out of the integration.
IAM_AUTH = {"Authorizer": "AWS_IAM", "InvokeRole": "NONE"}


def test_admin_routes(resources: dict[str, dict[str, Any]]) -> None:
    events = props(resources, "AdminFunction")["Events"].values()
    routes = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events}
    assert all(e["Type"] == "Api" for e in events)
    assert all(e["Properties"]["RestApiId"] == {"Ref": "GatewayApi"} for e in events)
    assert all("ResponseTransferMode" not in e["Properties"] for e in events)
    assert routes == (
        BEARER_ADMIN_ROUTES
        | {(f"/iam{path}", m) for path, m in BEARER_ADMIN_ROUTES}
        | CONSOLE_ROUTES
    )
    env = props(resources, "AdminFunction")["Environment"]["Variables"]
    assert env["ADMIN_KEY_SECRET_ID"] == {"Ref": "AdminKeySecret"}
    assert env["ADMIN_IAM_FULL_ARNS"] == {"Ref": "AdminIamFullArns"}
    assert env["ADMIN_IAM_READ_ONLY_ARNS"] == {"Ref": "AdminIamReadOnlyArns"}


def test_every_iam_route_needs_aws_iam_and_mirrors_a_bearer_route(
    resources: dict[str, dict[str, Any]],
) -> None:
    """Two ways in, one set of routes: /iam/<route> with SigV4 for each bearer-key <route>."""
    api_events = [
        (logical_id, event["Properties"])
        for logical_id, resource in of_type(resources, "AWS::Serverless::Function").items()
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    ]
    iam = {(p["Path"], p["Method"]) for lid, p in api_events if p["Path"].startswith("/iam/")}
    admin = {(p["Path"], p["Method"]) for lid, p in api_events if lid == "AdminFunction"}
    bearer = admin - iam - CONSOLE_ROUTES
    assert bearer == BEARER_ADMIN_ROUTES
    assert iam == {(f"/iam{path}", method) for path, method in bearer}
    for logical_id, properties in api_events:
        if properties["Path"].startswith("/iam/"):
            assert logical_id == "AdminFunction", properties["Path"]
            assert properties.get("Auth") == IAM_AUTH, properties["Path"]
        else:
            assert "Auth" not in properties, properties["Path"]


def test_iam_admin_parameters(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    for name in ("AdminIamFullArns", "AdminIamReadOnlyArns"):
        parameter = params[name]
        assert (parameter["Type"], parameter["Default"]) == ("String", "")
        pattern = re.compile(parameter["AllowedPattern"])
        for good in (
            "",
            "arn:aws:iam::123456789012:role/Ops",
            "arn:aws:iam::123456789012:user/alice,arn:aws:iam::210987654321:root",
            "arn:aws-us-gov:sts::123456789012:assumed-role/Ops/alice@example.com",
        ):
            assert pattern.fullmatch(good), (name, good)
        for bad in ("*", "arn:aws:iam::123456789012:role/*", "alice", "arn:aws:iam::1:root"):
            assert not pattern.fullmatch(bad), (name, bad)


@pytest.mark.parametrize(
    ("logical_id", "parameter"),
    [
        ("RotationFunction", "RotationScheduleExpression"),
        ("UsagePollerFunction", "UsagePollScheduleExpression"),
    ],
)
def test_scheduled_functions(
    resources: dict[str, dict[str, Any]], logical_id: str, parameter: str
) -> None:
    properties = props(resources, logical_id)
    schedules = [
        e["Properties"] for e in properties["Events"].values() if e["Type"] == "ScheduleV2"
    ]
    assert len(schedules) == 1
    schedule = schedules[0]
    assert schedule["ScheduleExpression"] == {"Ref": parameter}
    assert schedule["OmitName"] is True  # two stacks in one account must not collide
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert schedule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ScheduledFunctionsDLQ", "Arn"]}
    assert json.loads(schedule["Input"])["job"]
    assert properties["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": {"Fn::GetAtt": ["ScheduledFunctionsDLQ", "Arn"]},
    }


def test_notifier_listens_to_the_alerts_topic(resources: dict[str, dict[str, Any]]) -> None:
    properties = props(resources, "NotifierFunction")
    events = list(properties["Events"].values())
    assert [e["Type"] for e in events] == ["SNS"]
    assert events[0]["Properties"]["Topic"] == ALERTS_TOPIC
    assert properties["Environment"]["Variables"]["WEBHOOK_SECRET_ID"] == {
        "Ref": "AlertWebhookSecret"
    }
    assert "DeadLetterQueue" in properties


# --------------------------------------------------------------------------------------------
# Least privilege
# --------------------------------------------------------------------------------------------

# Actions that support no resource-level permissions: "*" is unavoidable, a Condition must fence it.
RESOURCELESS_ACTIONS = {
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def _statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in properties["Policies"]:
        assert isinstance(policy, dict), f"use inline statements, not {policy!r}"
        assert "Statement" in policy, f"use inline statements so the scope is visible: {policy!r}"
        statements.extend(policy["Statement"])
    return statements


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_policies_are_scoped(resources: dict[str, dict[str, Any]], logical_id: str) -> None:
    properties = props(resources, logical_id)
    assert isinstance(properties.get("Policies"), list), logical_id
    assert properties["Policies"], logical_id
    for statement in _statements(properties):
        assert statement["Effect"] == "Allow"
        actions = as_list(statement["Action"])
        resources_ = as_list(statement["Resource"])
        for action in actions:
            assert action != "*", logical_id
            assert not action.endswith(":*"), f"{logical_id}: {action}"
            # dynamodb:TransactWriteItems is not an IAM action; transactions are authorised
            # per item action (PutItem, UpdateItem, DeleteItem, ConditionCheckItem).
            assert action != "dynamodb:TransactWriteItems", logical_id
        if "*" in resources_:
            assert set(actions) <= RESOURCELESS_ACTIONS, f"{logical_id}: Resource '*' on {actions}"
            assert statement.get("Condition"), f"{logical_id}: unfenced Resource '*'"
        for resource in resources_:
            text = json.dumps(resource)
            assert not re.search(r":(table|secret|function):\*", text), f"{logical_id}: {text}"


def test_proxy_reads_only_the_upstream_secret(resources: dict[str, dict[str, Any]]) -> None:
    statements = _statements(props(resources, "ProxyFunction"))
    secret_statements = [
        s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
    ]
    assert secret_statements
    for statement in secret_statements:
        assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
        assert as_list(statement["Resource"]) == [{"Ref": "UpstreamKeySecret"}]


def test_proxy_deletes_only_in_the_organisation_partition(
    resources: dict[str, dict[str, Any]],
) -> None:
    """Releasing an organisation budget lease is the proxy's only delete."""
    deleters = [
        s
        for s in _statements(props(resources, "ProxyFunction"))
        if "dynamodb:DeleteItem" in as_list(s["Action"])
    ]
    assert len(deleters) == 1
    assert as_list(deleters[0]["Action"]) == ["dynamodb:DeleteItem"]
    assert deleters[0]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["ORG"]}
    }


def test_per_key_secrets_are_confined_to_the_stack_prefix(
    resources: dict[str, dict[str, Any]],
) -> None:
    for logical_id in ("AdminFunction", "RotationFunction"):
        creators = [
            s
            for s in _statements(props(resources, logical_id))
            if "secretsmanager:CreateSecret" in as_list(s["Action"])
        ]
        assert creators, logical_id
        for statement in creators:
            for resource in as_list(statement["Resource"]):
                assert "secret:${AWS::StackName}/keys/*" in resource["Fn::Sub"], logical_id


def test_notifier_can_only_read_the_webhook(resources: dict[str, dict[str, Any]]) -> None:
    statements = _statements(props(resources, "NotifierFunction"))
    assert statements == [
        {
            "Sid": "ReadWebhook",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": "AlertWebhookSecret"},
        }
    ]


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


def test_table(resources: dict[str, dict[str, Any]]) -> None:
    table = resources["GatewayTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert "TableName" not in properties
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    attributes = {
        a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]
    }
    assert attributes == {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"}
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}


def test_secrets(resources: dict[str, dict[str, Any]]) -> None:
    upstream = props(resources, "UpstreamKeySecret")
    assert json.loads(upstream["SecretString"]) == {"active": "", "staged": []}
    webhook = props(resources, "AlertWebhookSecret")
    assert json.loads(webhook["SecretString"]) == {"url": ""}
    admin = props(resources, "AdminKeySecret")["GenerateSecretString"]
    assert json.loads(admin["SecretStringTemplate"]) == {}
    assert admin["GenerateStringKey"] == "admin_key"
    assert admin["PasswordLength"] >= 32
    assert admin["ExcludePunctuation"] is True


def test_upstream_key_rotation(resources: dict[str, dict[str, Any]]) -> None:
    schedule = resources["UpstreamKeyRotationSchedule"]
    assert schedule["Type"] == "AWS::SecretsManager::RotationSchedule"
    properties = schedule["Properties"]
    assert properties["SecretId"] == {"Ref": "UpstreamKeySecret"}
    assert properties["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
    assert properties["RotateImmediatelyOnUpdate"] is False
    assert properties["RotationRules"]["ScheduleExpression"] == {
        "Ref": "UpstreamKeyRotationExpression"
    }
    permissions = [
        p["Properties"]
        for p in of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"].get("Principal") == "secretsmanager.amazonaws.com"
    ]
    assert len(permissions) == 1
    assert permissions[0]["FunctionName"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
    assert permissions[0]["SourceAccount"] == {"Ref": "AWS::AccountId"}


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def test_api(resources: dict[str, dict[str, Any]]) -> None:
    properties = props(resources, "GatewayApi")
    assert properties["StageName"] == {"Ref": "Stage"}
    assert properties["EndpointConfiguration"] == {"Type": "REGIONAL"}
    assert properties["TracingEnabled"] is True
    assert "Auth" not in properties
    media = {m.replace("~1", "/") for m in properties["BinaryMediaTypes"]}
    assert media == {"multipart/form-data", "audio/*"}
    log_format = json.loads(properties["AccessLogSetting"]["Format"])
    assert "requestId" in log_format
    assert not any("body" in v.lower() or "authorization" in v.lower() for v in log_format.values())
    settings = properties["MethodSettings"][0]
    assert settings["DataTraceEnabled"] is False
    assert "ThrottlingRateLimit" in settings
    assert "ThrottlingBurstLimit" in settings


# --------------------------------------------------------------------------------------------
# Alerting
# --------------------------------------------------------------------------------------------

EXPECTED_ALARMS = {
    "OrgSpend80Alarm": ("OrgBudgetUtilizationPercent", 80),
    "OrgSpend100Alarm": ("OrgBudgetUtilizationPercent", 100),
    "TeamBudgetExhaustedAlarm": ("MaxTeamBudgetUtilizationPercent", 100),
    "Upstream429Alarm": ("Upstream429", None),
    "RotationFailuresAlarm": ("RotationFailures", 1),
    "PollerMissingDataAlarm": ("PollerRuns", 1),
}


def test_every_alarm_notifies_the_alerts_topic(resources: dict[str, dict[str, Any]]) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 10
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [ALERTS_TOPIC], logical_id
        assert properties["OKActions"] == [ALERTS_TOPIC], logical_id
        assert properties.get("AlarmDescription"), logical_id
        # Every alarm says what missing data means; "missing" only where INSUFFICIENT_DATA pages.
        treat = properties.get("TreatMissingData")
        assert treat in {"notBreaching", "breaching", "missing"}, logical_id
        if treat == "missing":
            assert properties.get("InsufficientDataActions") == [ALERTS_TOPIC], logical_id


@pytest.mark.parametrize(("logical_id", "expected"), sorted(EXPECTED_ALARMS.items()))
def test_custom_metric_alarms(
    resources: dict[str, dict[str, Any]], logical_id: str, expected: tuple[str, int | None]
) -> None:
    metric, threshold = expected
    properties = props(resources, logical_id)
    assert properties["Namespace"] == NAMESPACE
    assert properties["MetricName"] == metric
    assert properties["Dimensions"] == SERVICE_DIMENSION
    if threshold is not None:
        assert properties["Threshold"] == threshold


def test_poller_dead_mans_switch(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    properties = props(resources, "PollerMissingDataAlarm")
    # A new alarm starts in INSUFFICIENT_DATA and actions run on transitions only: with missing
    # data "missing" and the page on INSUFFICIENT_DATA, a fresh stack pages nobody before its
    # first poll (breaching would page at once), and a poller that stops later pages.
    assert properties["TreatMissingData"] == "missing"
    assert properties["InsufficientDataActions"] == [ALERTS_TOPIC]
    assert properties["OKActions"] == [ALERTS_TOPIC]
    assert properties["ComparisonOperator"] == "LessThanThreshold"
    assert properties["Threshold"] == 1
    # Pages only when every window of the evaluation is empty: a fresh stack's first poll (one
    # schedule interval after creation, plus Scheduler's retries within 4 minutes) or one late
    # run must not page, a poller that stopped must within 20 minutes.
    period, windows = properties["Period"], properties["EvaluationPeriods"]
    assert properties["DatapointsToAlarm"] == windows
    schedule = template["Parameters"]["UsagePollScheduleExpression"]["Default"]
    interval = int(re.fullmatch(r"rate\((\d+) minutes\)", schedule)[1]) * 60  # type: ignore[index]
    first_poll_latest = interval + 240
    assert period * windows > first_poll_latest + interval
    assert period * windows <= 1200
    # Every window can hold a run, so a healthy poller leaves none empty.
    assert period >= interval


def test_proxy_5xx_alarm_is_a_rate(resources: dict[str, dict[str, Any]]) -> None:
    properties = props(resources, "Proxy5xxAlarm")
    metrics = {m["Id"]: m for m in properties["Metrics"]}
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values() if "MetricStat" in m}
    assert names == {"Gateway5xx", "Requests"}
    returned = [m for m in metrics.values() if m.get("ReturnData")]
    assert len(returned) == 1
    assert "Expression" in returned[0]
    assert properties["Threshold"] == 5


@pytest.mark.parametrize(
    ("logical_id", "function"),
    [
        ("RotationFunctionErrorsAlarm", "RotationFunction"),
        ("PollerFailuresAlarm", "UsagePollerFunction"),
    ],
)
def test_lambda_error_alarms(
    resources: dict[str, dict[str, Any]], logical_id: str, function: str
) -> None:
    properties = props(resources, logical_id)
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", "Errors")
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]


def test_dlq(resources: dict[str, dict[str, Any]]) -> None:
    queue = props(resources, "ScheduledFunctionsDLQ")
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue
    alarm = props(resources, "ScheduledFunctionsDLQDepthAlarm")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["ScheduledFunctionsDLQ", "QueueName"]}


def test_alerts_topic(resources: dict[str, dict[str, Any]]) -> None:
    topic = props(resources, "AlertsTopic")
    # alias/aws/sns would silently stop CloudWatch alarms from publishing (fixed key policy).
    assert topic.get("KmsMasterKeyId") != "alias/aws/sns"
    subscription = resources["AlertsEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    policies = of_type(resources, "AWS::SNS::TopicPolicy").values()
    principals = [
        s.get("Principal", {}).get("Service")
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert "cloudwatch.amazonaws.com" in principals


def test_dashboard_body_is_valid_json(resources: dict[str, dict[str, Any]]) -> None:
    body = props(resources, "GatewayDashboard")["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{[^}]+\}", "x", body)
    dashboard = json.loads(rendered)
    text = json.dumps(dashboard)
    for metric in (
        "TeamMonthToDateSpendUSD", "OrgBudgetUtilizationPercent",
        "MaxTeamBudgetUtilizationPercent", "Requests", "PromptTokens", "CompletionTokens",
        "Rejections", "UpstreamLatencyMs", "GatewayOverheadMs",
    ):  # fmt: skip
        assert metric in text, metric
    assert "SEARCH(" in text


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for name in (
        "ApiUrl", "OpenAIBaseUrl", "GroqBaseUrl", "AdminKeySecretArn", "UpstreamKeySecretArn",
        "AlertsTopicArn", "TableName",
    ):  # fmt: skip
        assert name in outputs, name
    api_url = outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert api_url == "https://${GatewayApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
    assert outputs["OpenAIBaseUrl"]["Value"]["Fn::Sub"] == api_url + "/openai/v1"
    assert outputs["GroqBaseUrl"]["Value"]["Fn::Sub"] == api_url


# --------------------------------------------------------------------------------------------
# samconfig.toml and events
# --------------------------------------------------------------------------------------------


def test_samconfig() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    default, prod = config["default"], config["prod"]
    assert default["global"]["parameters"]["stack_name"] == "groq-gateway-dev"
    assert prod["global"]["parameters"]["stack_name"] == "groq-gateway-prod"
    assert default["validate"]["parameters"]["lint"] is True
    assert default["build"]["parameters"]["cached"] is True
    for env, stage in ((default, "dev"), (prod, "prod")):
        deploy = env["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert deploy["confirm_changeset"] is True
        assert f"Stage={stage}" in deploy["parameter_overrides"].split()


EXPECTED_EVENTS = {
    "proxy-chat-completion.json", "admin-create-key.json", "rotation-schedule.json",
    "usage-poll-schedule.json", "upstream-rotation-createSecret.json",
    "upstream-rotation-setSecret.json", "upstream-rotation-testSecret.json",
    "upstream-rotation-finishSecret.json", "notifier-alarm.json", "notifier-gateway-event.json",
}  # fmt: skip


def _event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_every_event_file_is_json() -> None:
    files = sorted(EVENTS.glob("*.json"))
    assert {f.name for f in files} >= EXPECTED_EVENTS
    for path in files:
        json.loads(path.read_text(encoding="utf-8"))  # raises on invalid JSON


def test_rest_events_match_routes() -> None:
    chat = _event("proxy-chat-completion.json")
    assert (chat["httpMethod"], chat["path"], chat["resource"]) == (
        "POST", "/openai/v1/chat/completions", "/openai/v1/{proxy+}")  # fmt: skip
    assert chat["headers"]["Authorization"].startswith("Bearer ggw_")
    body = json.loads(chat["body"])
    assert body["model"] == "openai/gpt-oss-20b"
    assert body["messages"]
    admin = _event("admin-create-key.json")
    assert (admin["httpMethod"], admin["path"]) == ("POST", "/openai/v1/api-keys")
    assert json.loads(admin["body"]) == {
        "name": "chatbot-prod",
        "allowed_models": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
        "requests_per_minute": 500,
        "tokens_per_minute": 100000,
    }


@pytest.mark.parametrize(
    ("event_file", "logical_id"),
    [
        ("rotation-schedule.json", "RotationFunction"),
        ("usage-poll-schedule.json", "UsagePollerFunction"),
    ],
)
def test_schedule_events_match_the_scheduler_input(
    resources: dict[str, dict[str, Any]], event_file: str, logical_id: str
) -> None:
    """The sample event is the template's Input with Scheduler's <aws.scheduler.*> filled in."""
    events = props(resources, logical_id)["Events"].values()
    template_input = json.loads(
        next(e for e in events if e["Type"] == "ScheduleV2")["Properties"]["Input"]
    )
    sample = _event(event_file)
    assert set(sample) == set(template_input)
    for key, value in template_input.items():
        if isinstance(value, str) and value.startswith("<aws.scheduler."):
            assert not str(sample[key]).startswith("<"), key
        else:
            assert sample[key] == value, key


@pytest.mark.parametrize("step", ["createSecret", "setSecret", "testSecret", "finishSecret"])
def test_rotation_step_events(step: str) -> None:
    event = _event(f"upstream-rotation-{step}.json")
    assert event["Step"] == step
    assert event["SecretId"].startswith("arn:aws:secretsmanager:")
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(uuid, event["ClientRequestToken"])
    assert re.fullmatch(uuid, event["RotationToken"])


def test_notifier_events() -> None:
    alarm_record = _event("notifier-alarm.json")["Records"][0]
    assert alarm_record["EventSource"] == "aws:sns"
    alarm = json.loads(alarm_record["Sns"]["Message"])
    assert alarm["NewStateValue"] == "ALARM"
    assert alarm["Trigger"]["MetricName"] == "OrgBudgetUtilizationPercent"
    assert alarm["AlarmName"].endswith("org-spend-80")
    gateway = json.loads(_event("notifier-gateway-event.json")["Records"][0]["Sns"]["Message"])
    assert gateway == {
        "kind": "budget_threshold",
        "scope": "team",
        "scope_id": "chatbot",
        "threshold_percent": 80,
        "spend_usd": "80.10",
        "budget_usd": "100.00",
        "period": "2026-11",
    }


# --------------------------------------------------------------------------------------------
# The package's own reading of the template (when it is importable)
# --------------------------------------------------------------------------------------------


def test_package_loader_reads_the_template_like_this_test(template: dict[str, Any]) -> None:
    sys.path.insert(0, str(ROOT / "layers" / "gateway"))
    try:
        module = importlib.import_module("groq_gateway_dev.devserver.template")
    except ImportError as error:
        pytest.skip(f"groq_gateway_dev.devserver.template not importable: {error}")
    finally:
        sys.path.remove(str(ROOT / "layers" / "gateway"))
    load_template = getattr(module, "load_template", None)
    if load_template is None:
        pytest.skip("groq_gateway_dev.devserver.template has no load_template yet")
    assert load_template(TEMPLATE) == template
