"""Every change to what the proxy runs reaches its `live` alias (SnapStart serves published
versions only), and replaced versions do not pile up.

The proxy's own package never changes (its code is in GatewayLayer), so what publishes a version
is SAM's logical id of the ``AWS::Lambda::Version``: a new id is a new version and moves the alias.
The template is transformed as `sam package` leaves it (S3 keys named after content hashes).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.unit.template.sam import of_type, packaged, source_template, transformed

ALIASED = ["ProxyFunction"]


def version_ids(template: dict[str, Any], function: str) -> set[str]:
    return {
        logical_id
        for logical_id in of_type(template, "AWS::Lambda::Version")
        if logical_id.startswith(f"{function}Version")
    }


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return source_template()


def test_only_the_expected_functions_publish_versions(source: dict[str, Any]) -> None:
    functions = of_type(source, "AWS::Serverless::Function")
    aliased = sorted(lid for lid, f in functions.items() if f["Properties"].get("AutoPublishAlias"))
    assert aliased == ALIASED


@pytest.mark.parametrize("function", ALIASED)
def test_a_new_layer_build_publishes_a_new_version(source: dict[str, Any], function: str) -> None:
    first = version_ids(transformed(packaged(source, layer_key="aaa")), function)
    second = version_ids(transformed(packaged(source, layer_key="bbb")), function)
    again = version_ids(transformed(packaged(source, layer_key="aaa")), function)
    assert len(first) == len(second) == 1
    assert first != second, "a changed GatewayLayer leaves the alias on the old version"
    assert first == again, "an unchanged build must not publish (each version is a billed snapshot)"


@pytest.mark.parametrize("function", ALIASED)
def test_a_new_web_adapter_version_publishes_a_new_version(
    source: dict[str, Any], function: str
) -> None:
    bumped = copy.deepcopy(source)
    layers = bumped["Resources"][function]["Properties"]["Layers"]
    adapter = layers[0]["Fn::Sub"]
    layers[0] = {"Fn::Sub": re.sub(r":(\d+)$", lambda m: f":{int(m[1]) + 1}", adapter)}
    assert layers[0]["Fn::Sub"] != adapter
    before = version_ids(transformed(packaged(source)), function)
    after = version_ids(transformed(packaged(bumped)), function)
    assert before != after


@pytest.mark.parametrize("function", ALIASED)
def test_layer_versions_are_written_out_not_parameters(
    source: dict[str, Any], function: str
) -> None:
    """SAM hashes Layers as written, with parameter references unresolved: a layer version taken
    from a parameter would change $LATEST on deploy but never publish (aws/serverless-application-
    model#3820), so only pseudo parameters may appear in a layer ARN."""
    for layer in source["Resources"][function]["Properties"]["Layers"]:
        if "Fn::Sub" in layer:
            assert set(re.findall(r"\$\{([^}]+)\}", layer["Fn::Sub"])) <= {
                "AWS::Partition",
                "AWS::Region",
            }, layer
        else:
            assert layer == {"Ref": "GatewayLayer"}, layer


@pytest.mark.parametrize("function", ALIASED)
def test_replaced_versions_are_deleted(source: dict[str, Any], function: str) -> None:
    """SAM retains versions by default; every retained SnapStart version keeps a billed snapshot."""
    output = transformed(packaged(source))
    [version_id] = version_ids(output, function)
    version = output["Resources"][version_id]
    assert version["DeletionPolicy"] == "Delete"
    alias = next(
        r for r in of_type(output, "AWS::Lambda::Alias").values()
        if r["Properties"]["FunctionName"] == {"Ref": function}
    )  # fmt: skip
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
