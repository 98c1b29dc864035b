"""What the simulator pretends to be: its models, limits, latency and failure rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelKind = Literal["chat", "transcription", "speech"]


@dataclass(frozen=True)
class SimulatedModel:
    """One entry of `GET /openai/v1/models`.

    `decommissioned` models are not listed and answer `400 model_decommissioned`;
    unknown or inactive ones answer `404 model_not_found`, as Groq does.
    """

    id: str
    owned_by: str
    context_window: int
    active: bool = True
    decommissioned: bool = False
    kind: ModelKind = "chat"
    created: int = 1_700_000_000


DEFAULT_MODELS: tuple[SimulatedModel, ...] = (
    SimulatedModel("openai/gpt-oss-120b", "OpenAI", 131_072),
    SimulatedModel("openai/gpt-oss-20b", "OpenAI", 131_072),
    SimulatedModel("qwen/qwen3.6-27b", "Alibaba Cloud", 131_072),
    # The example teams' models: retired on free/developer tiers, still served to enterprise
    # accounts.
    SimulatedModel("llama-3.3-70b-versatile", "Meta", 131_072),
    SimulatedModel("llama-3.1-8b-instant", "Meta", 131_072),
    SimulatedModel("whisper-large-v3", "OpenAI", 448, kind="transcription"),
    SimulatedModel("whisper-large-v3-turbo", "OpenAI", 448, kind="transcription"),
    SimulatedModel("canopylabs/orpheus-v1-english", "Canopy Labs", 4_000, kind="speech"),
    SimulatedModel("canopylabs/orpheus-arabic-saudi", "Canopy Labs", 4_000, kind="speech"),
    SimulatedModel("mixtral-8x7b-32768", "Mistral AI", 32_768, active=False, decommissioned=True),
    SimulatedModel("gemma2-9b-it", "Google", 8_192, active=False, decommissioned=True),
)


@dataclass(frozen=True)
class SimulatorConfig:
    latency_ms: float = 0.0
    """Added before the first byte of every `/openai/v1` response."""
    chunk_interval_ms: float = 0.0
    """Delay between two streamed chunks."""
    failure_rate: float = 0.0
    """Probability of answering with `failure_status` instead of the real answer."""
    failure_status: int = 503
    api_keys: frozenset[str] | None = None
    """`None` accepts any non-empty bearer token; otherwise only these."""
    models: tuple[SimulatedModel, ...] = DEFAULT_MODELS
    requests_per_day: int = 14_400
    """Reported in the `x-ratelimit-*-requests` headers, and enforced (429 `requests`)."""
    tokens_per_minute: int = 18_000
    """Reported in the `x-ratelimit-*-tokens` headers, and enforced (429 `tokens`)."""
    seed: int | None = None
    """Seeds the random failures, for reproducible runs."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if self.requests_per_day < 1 or self.tokens_per_minute < 1:
            raise ValueError("rate limits must be positive")
