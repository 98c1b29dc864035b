"""A Groq API simulator for local development, tests and benchmarks.

`create_app()` returns a Starlette app that answers like `https://api.groq.com/openai/v1`
(deterministic replies, Groq's errors, usage and rate-limit headers) and takes test
controls under `/_simulator/`. Run it with `python -m groq_gateway_dev.simulator`.
"""

from .app import ORGANIZATION, Simulator, StreamCut, create_app
from .config import DEFAULT_MODELS, SimulatedModel, SimulatorConfig
from .content import format_duration

__all__ = [
    "DEFAULT_MODELS",
    "ORGANIZATION",
    "SimulatedModel",
    "Simulator",
    "SimulatorConfig",
    "StreamCut",
    "create_app",
    "format_duration",
]
