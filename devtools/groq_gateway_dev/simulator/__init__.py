"""A Groq API simulator for local runs, tests and benchmarks: deterministic replies, Groq's
errors, usage and rate-limit headers, and test controls under `/_simulator/`.

Example::

    python -m groq_gateway_dev.simulator --port 8090
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
