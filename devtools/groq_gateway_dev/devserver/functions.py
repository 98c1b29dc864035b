"""Loading each function's real code from its folder, as Lambda would, for the local run."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from groq_gateway_dev.devserver.routing import ASGIApp
from groq_gateway_dev.devserver.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


def _load_module(spec: FunctionSpec, filename: str) -> ModuleType:
    path = spec.code_uri / filename
    name = f"lambda_{spec.logical_id}_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def load_web_app(spec: FunctionSpec) -> ASGIApp:
    """The ASGI ``app`` that run.sh serves under the Lambda Web Adapter."""
    app: ASGIApp = _load_module(spec, "app.py").app
    return app


def load_handler(spec: FunctionSpec) -> Handler:
    """The function's ``module.function`` handler."""
    module_name, _, attribute = spec.handler.rpartition(".")
    handler: Handler = getattr(_load_module(spec, f"{module_name}.py"), attribute)
    return handler


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that the handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000
