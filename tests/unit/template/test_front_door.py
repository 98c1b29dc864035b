"""ProxyFrontDoor: the proxy behind API Gateway REST (default) or a Lambda function URL that
streams the response, with the admin API and the console on API Gateway in both shapes.

The template is transformed by the SAM translator (what CloudFormation runs), then its
conditions are evaluated for the chosen parameters, as CloudFormation would at deploy time.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.template.sam import REGION, of_type, packaged, source_template, transformed

PROXY_ROUTE = "/openai/v1/{proxy+}"
ADMIN_AND_CONSOLE_ROUTES = [
    "/openai/v1/teams",
    "/openai/v1/api-keys/{proxy+}",
    "/iam/openai/v1/teams",
    "/console",
    "/console/{proxy+}",
]


def _parameter(template: dict[str, Any], chosen: dict[str, Any], name: str) -> Any:
    if name in chosen:
        return chosen[name]
    return template["Parameters"][name]["Default"]


def _holds(template: dict[str, Any], chosen: dict[str, Any], expression: Any) -> Any:
    """A condition (or a value inside one) as CloudFormation evaluates it; the functions this
    template's conditions use."""
    if not isinstance(expression, dict):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return _parameter(template, chosen, argument)
    if function == "Condition":
        return _holds(template, chosen, template["Conditions"][argument])
    values = [_holds(template, chosen, item) for item in argument]
    if function == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if function == "Fn::Not":
        return not values[0]
    if function == "Fn::And":
        return all(values)
    if function == "Fn::Or":
        return any(values)
    raise AssertionError(f"unexpected {function} in a condition")


def deployed(chosen: dict[str, Any]) -> dict[str, Any]:
    """The transformed template with only the resources CloudFormation would create."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        template = transformed(packaged(source_template()), chosen)
    resources = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource
        or _holds(template, chosen, {"Condition": resource["Condition"]})
    }
    return template | {"Resources": resources}


def _chosen_branch(template: dict[str, Any], chosen: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        branch = when_true if _holds(template, chosen, {"Condition": condition}) else when_false
        return _chosen_branch(template, chosen, branch)
    return value


def api_paths(template: dict[str, Any]) -> dict[str, Any]:
    (api,) = of_type(template, "AWS::ApiGateway::RestApi").values()
    paths: dict[str, Any] = api["Properties"]["Body"]["paths"]
    return paths


@pytest.fixture(scope="module")
def api_gateway() -> dict[str, Any]:
    return deployed({})


@pytest.fixture(scope="module")
def function_url() -> dict[str, Any]:
    return deployed({"ProxyFrontDoor": "FunctionUrl"})


def test_the_default_front_door_is_api_gateway_without_a_function_url(
    api_gateway: dict[str, Any],
) -> None:
    assert source_template()["Parameters"]["ProxyFrontDoor"]["Default"] == "ApiGateway"
    assert of_type(api_gateway, "AWS::Lambda::Url") == {}
    assert PROXY_ROUTE in api_paths(api_gateway)
    for route in ADMIN_AND_CONSOLE_ROUTES:
        assert route in api_paths(api_gateway)
    public = [
        p["Properties"]
        for p in of_type(api_gateway, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    ]
    assert public == []


def test_function_url_streams_from_the_live_alias_and_authenticates_in_the_app(
    function_url: dict[str, Any],
) -> None:
    (url,) = of_type(function_url, "AWS::Lambda::Url").values()
    properties = url["Properties"]
    assert properties["InvokeMode"] == "RESPONSE_STREAM"
    assert properties["AuthType"] == "NONE"
    assert properties["TargetFunctionArn"] == {"Ref": "ProxyFunction"}
    assert properties["Qualifier"] == "live"
    alias = function_url["Resources"]["ProxyFunctionAliaslive"]
    assert alias["Properties"]["Name"] == "live"
    assert "ProxyFunctionAliaslive" in url["DependsOn"]
    environment = function_url["Resources"]["ProxyFunction"]["Properties"]["Environment"]
    assert environment["Variables"]["AWS_LWA_INVOKE_MODE"] == "response_stream"


def test_function_url_is_public_only_through_the_url_on_the_alias(
    function_url: dict[str, Any],
) -> None:
    public = {
        p["Properties"]["Action"]: p["Properties"]
        for p in of_type(function_url, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    }
    assert set(public) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert public["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert public["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    for permission in public.values():
        assert permission["FunctionName"] == {"Fn::Sub": "${ProxyFunction}:live"}


def test_function_url_keeps_the_admin_api_and_the_console_on_api_gateway(
    function_url: dict[str, Any],
) -> None:
    paths = api_paths(function_url)
    for route in ADMIN_AND_CONSOLE_ROUTES:
        assert route in paths
    iam_route = paths["/iam/openai/v1/teams"]["x-amazon-apigateway-any-method"]
    assert iam_route["security"] == [{"AWS_IAM": []}]


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (
            {},
            {
                "Fn::Sub": "https://${GatewayApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/openai/v1"
            },
        ),
        (
            {"ProxyFrontDoor": "FunctionUrl"},
            {"Fn::Sub": "${ProxyFunctionUrl.FunctionUrl}openai/v1"},
        ),
    ],
)
def test_proxy_base_url_names_the_sdk_base_url_of_either_front_door(
    chosen: dict[str, Any], expected: dict[str, Any]
) -> None:
    template = deployed(chosen)
    outputs = template["Outputs"]
    assert _chosen_branch(template, chosen, outputs["ProxyBaseUrl"]["Value"]) == expected
    for name in ("ApiUrl", "OpenAIBaseUrl", "GroqBaseUrl"):
        assert "GatewayApi" in outputs[name]["Value"]["Fn::Sub"]


@pytest.mark.parametrize(("reserved", "expected"), [(0, None), (50, 50)])
def test_reserved_concurrency_is_set_only_when_asked(reserved: int, expected: int | None) -> None:
    chosen = {"ProxyReservedConcurrency": reserved}
    template = deployed(chosen)
    value = template["Resources"]["ProxyFunction"]["Properties"]["ReservedConcurrentExecutions"]
    branch = _chosen_branch(template, chosen, value)
    resolved = None if branch == {"Ref": "AWS::NoValue"} else _holds(template, chosen, branch)
    assert resolved == expected
