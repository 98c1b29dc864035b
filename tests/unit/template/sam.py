"""template.yaml as CloudFormation will see it: packaged as `sam package` leaves it, then
transformed by the SAM translator (the code CloudFormation's AWS::Serverless transform runs)."""

from __future__ import annotations

import copy
from typing import Any

from samtranslator.translator.transform import transform

from tests.unit.test_template import TEMPLATE, load_cfn_yaml

REGION = "us-east-1"


class _NoManagedPolicies:
    """The translator looks AWS-managed policy names up in IAM; this template names none."""

    def load(self) -> dict[str, str]:
        return {}


def source_template() -> dict[str, Any]:
    return load_cfn_yaml(TEMPLATE)


def packaged(
    template: dict[str, Any], *, layer_key: str = "layer-0", code_key: str = "code-0"
) -> dict[str, Any]:
    """A copy of ``template`` as `sam package` leaves it: every CodeUri / ContentUri replaced by
    an S3 location whose key names the uploaded zip's content hash."""
    result = copy.deepcopy(template)
    for logical_id, resource in result["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = f"s3://artifacts/{logical_id}-{code_key}"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = f"s3://artifacts/{logical_id}-{layer_key}"
    return result


def transformed(
    template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of ``template``."""
    output: dict[str, Any] = transform(
        copy.deepcopy(template), dict(parameters or {}), _NoManagedPolicies()
    )
    return output


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }
