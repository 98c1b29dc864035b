"""Reading template.yaml, short tags (``!Ref``, ``!Sub`` ...) included: the tables, secrets,
functions, routes, schedules and environments the local run and the tests need.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form intrinsic functions."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


# The one API Gateway authoriser the template uses (on the admin routes' /iam/ copies).
AWS_IAM = "AWS_IAM"


@dataclass(frozen=True)
class ApiRoute:
    """One ``Api`` event: the method, the path template and the event's ``Auth.Authorizer``.

    Example::

        ApiRoute("ANY", "/iam/openai/v1/teams", authorizer=AWS_IAM).needs_iam  # True
    """

    method: str  # "ANY" or an HTTP method
    path: str  # API Gateway path template, e.g. /openai/v1/{proxy+}
    authorizer: str | None = None  # None: no authoriser (the app authenticates)

    @property
    def needs_iam(self) -> bool:
        """API Gateway checks a SigV4 signature before the function sees the request."""
        return self.authorizer == AWS_IAM


@dataclass(frozen=True)
class Schedule:
    expression: str  # e.g. "rate(5 minutes)"
    input: dict[str, Any]  # the event the scheduler delivers (the target's Input)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    routes: tuple[ApiRoute, ...]
    schedules: tuple[Schedule, ...]
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def is_web_app(self) -> bool:
        """Run by the Lambda Web Adapter: an ASGI ``app`` in ``app.py`` started by run.sh."""
        return self.handler == "run.sh"


@dataclass(frozen=True)
class FunctionUrlSpec:
    """One ``AWS::Lambda::Url``: the function (logical id) it invokes and how."""

    logical_id: str
    function: str  # the target function's logical id
    invoke_mode: str  # BUFFERED or RESPONSE_STREAM
    auth_type: str  # NONE or AWS_IAM


@dataclass(frozen=True)
class SecretSpec:
    logical_id: str
    initial: dict[str, Any] | None  # from SecretString
    generated_key: str | None  # from GenerateSecretString.GenerateStringKey


class TemplateModel:
    def __init__(self, document: dict[str, Any], root: Path) -> None:
        self.document = document
        self.root = root
        self.resources: dict[str, dict[str, Any]] = document["Resources"]

    @classmethod
    def load(cls, path: Path) -> TemplateModel:
        return cls(load_template(path), path.parent)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type
        }

    def parameter_default(self, name: str) -> Any:
        return self.document.get("Parameters", {}).get(name, {}).get("Default")

    def tables(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::DynamoDB::Table")

    def secrets(self) -> list[SecretSpec]:
        specs = []
        for logical_id, props in self.of_type("AWS::SecretsManager::Secret").items():
            initial = props.get("SecretString")
            generate = props.get("GenerateSecretString") or {}
            specs.append(
                SecretSpec(
                    logical_id=logical_id,
                    initial=json.loads(initial) if isinstance(initial, str) else None,
                    generated_key=generate.get("GenerateStringKey"),
                )
            )
        return specs

    def functions(self) -> list[FunctionSpec]:
        globals_env = (
            self.document.get("Globals", {})
            .get("Function", {})
            .get("Environment", {})
            .get("Variables", {})
        )
        specs = []
        for logical_id, props in self.of_type("AWS::Serverless::Function").items():
            routes, schedules = [], []
            for event in (props.get("Events") or {}).values():
                event_props = event.get("Properties", {})
                if event.get("Type") == "Api":
                    auth = event_props.get("Auth") or {}
                    routes.append(
                        ApiRoute(
                            event_props["Method"].upper(),
                            event_props["Path"],
                            authorizer=auth.get("Authorizer"),
                        )
                    )
                elif event.get("Type") in ("ScheduleV2", "Schedule"):
                    raw_input = event_props.get("Input")
                    schedules.append(
                        Schedule(
                            expression=self._resolve_parameter(event_props["ScheduleExpression"]),
                            input=json.loads(raw_input) if isinstance(raw_input, str) else {},
                        )
                    )
            env = dict(globals_env) | props.get("Environment", {}).get("Variables", {})
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_uri=self.root / props["CodeUri"],
                    handler=props["Handler"],
                    routes=tuple(routes),
                    schedules=tuple(schedules),
                    environment=env,
                )
            )
        return specs

    def function_urls(self) -> list[FunctionUrlSpec]:
        """Every ``AWS::Lambda::Url`` (whatever its Condition: the local run serves the shape
        it is asked for) with the function it targets."""
        specs = []
        for logical_id, props in self.of_type("AWS::Lambda::Url").items():
            target = props.get("TargetFunctionArn")
            if not (isinstance(target, dict) and set(target) == {"Ref"}):
                raise ValueError(f"{logical_id}: TargetFunctionArn must be a Ref to a function")
            specs.append(
                FunctionUrlSpec(
                    logical_id=logical_id,
                    function=target["Ref"],
                    invoke_mode=props.get("InvokeMode", "BUFFERED"),
                    auth_type=props["AuthType"],
                )
            )
        return specs

    def _resolve_parameter(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return self.parameter_default(value["Ref"])
        return value

    def resolve(self, value: Any, physical: dict[str, str], pseudo: dict[str, str]) -> str:
        """A scalar property with ``Ref``/``Fn::Sub``/``Fn::GetAtt`` resolved locally.

        ``physical`` maps logical ids to the local names or ARNs; ``pseudo`` holds
        ``AWS::Region``, ``AWS::StackName`` and the like.
        """
        if isinstance(value, str | int | float | bool):
            return str(value)
        if isinstance(value, dict) and "Ref" in value:
            name = value["Ref"]
            if name in physical:
                return physical[name]
            if name in pseudo:
                return pseudo[name]
            default = self.parameter_default(name)
            if default is None:
                raise KeyError(f"cannot resolve Ref {name} locally")
            return str(default)
        if isinstance(value, dict) and "Fn::Sub" in value:
            template = value["Fn::Sub"]
            if not isinstance(template, str):
                raise ValueError("only the short Fn::Sub form is resolved locally")
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda m: self.resolve({"Ref": m.group(1).split(".")[0]}, physical, pseudo),
                template,
            )
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id = value["Fn::GetAtt"][0]
            return physical[logical_id]
        raise ValueError(f"cannot resolve {value!r} locally")


def find_template(start: Path | None = None) -> Path:
    """template.yaml in ``start`` or a parent, else next to this package's checkout."""
    candidates = [start or Path.cwd(), *(start or Path.cwd()).parents]
    candidates += list(Path(__file__).resolve().parents)
    for directory in candidates:
        path = directory / "template.yaml"
        if path.is_file():
            return path
    raise FileNotFoundError("template.yaml not found; run from the project's checkout")
