"""The figures of a run, as Markdown tables, and their comparison with bench/baseline.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# unit -> (relative, absolute) change tolerated before a figure counts as worse: timings on a
# shared 2-core machine are noisy, counts and sizes are not.
TOLERANCE: dict[str, tuple[float, float]] = {
    "ms": (0.30, 2.0),
    "ratio": (0.30, 0.2),
    "count": (0.0, 0.05),
    "rps": (0.20, 0.0),
    "MB": (0.15, 2.0),
    "bytes": (0.05, 16.0),
    "USD": (0.15, 0.05),
}


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str  # a key of TOLERANCE
    better: str = "lower"  # "higher", or "info": shown against the baseline, never judged


class Figures(dict[str, Figure]):
    def add(self, key: str, value: float, unit: str, better: str = "lower") -> float:
        self[key] = Figure(round(value, 3), unit, better)
        return value


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table; floats with three significant digits or so."""

    def cell(value: Any) -> str:
        if not isinstance(value, float):
            return str(value)
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.{1 if abs(value) >= 10 else 2}f}"

    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
    ]


def load_baseline(path: Path) -> dict[str, Figure]:
    if not path.exists():
        return {}
    document = json.loads(path.read_text())
    return {key: Figure(**value) for key, value in document["figures"].items()}


def save_baseline(path: Path, figures: Figures, context: dict[str, Any]) -> None:
    document = {**context, "figures": {key: asdict(f) for key, f in sorted(figures.items())}}
    path.write_text(json.dumps(document, indent=2) + "\n")


def compare(figures: Figures, baseline: dict[str, Figure]) -> tuple[list[str], list[str]]:
    """A table of every figure against the baseline, and the keys worse beyond tolerance."""
    rows, worse = [], []
    for key, figure in sorted(figures.items()):
        old = baseline.get(key)
        if old is None:
            rows.append([key, "-", figure.value, "new", ""])
            continue
        relative, absolute = TOLERANCE[figure.unit]
        worse_by = (
            figure.value - old.value if figure.better == "lower" else old.value - figure.value
        )
        allowed = abs(old.value) * relative + absolute
        change = f"{(figure.value - old.value) / old.value:+.0%}" if old.value else "-"
        verdict = ""
        if figure.better == "info":
            verdict = "(not judged)"
        elif worse_by > allowed:
            verdict = "**WORSE**"
            worse.append(key)
        elif -worse_by > allowed:
            verdict = "better"
        rows.append([key, old.value, figure.value, change, verdict])
    lines = table(["figure", "baseline", "now", "change", "beyond tolerance"], rows)
    return lines, worse
