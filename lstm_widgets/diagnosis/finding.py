"""Finding: one diagnosis, and the small formatting helpers rules word their evidence with."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Finding", "SEVERITIES", "clean", "fmt", "epochs_text"]

#: Most severe last; findings are sorted most severe first.
SEVERITIES = ("info", "warning", "problem")


@dataclass
class Finding:
    """One diagnosis.

    Attributes:
        code: A stable identifier, e.g. "exploding_gradients", "healthy".
        severity: "info", "warning" or "problem".
        title: One line, e.g. "Exploding gradients".
        explanation: Plain language: what is happening and why it stops the weights
            from updating.
        evidence: Human-readable lines with the numbers, the epochs and the variables or
            gates they come from.
        data: The raw numbers behind the evidence (JSON-friendly).
        patch: The suggested TrainConfig change, e.g. {"clipping": "clipnorm",
            "clip_threshold": 1.0}; empty when there is nothing to apply.
        fix: One line that says what the patch does.
    """

    code: str
    severity: str
    title: str
    explanation: str
    evidence: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    patch: dict[str, Any] = field(default_factory=dict)
    fix: str = ""

    @property
    def actionable(self) -> bool:
        """A warning or a problem (not an info)."""
        return self.severity in ("warning", "problem")


def clean(x: Any) -> Any:
    """JSON-friendly copy: plain floats/ints/str, NaN and infinities as None."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (bool, str)) or x is None:
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return str(x)


def fmt(x: Any) -> str:
    """A number with three significant digits (anything else as it is)."""
    return f"{x:.3g}" if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else str(x)


def epochs_text(recs) -> str:
    """ "epoch 3" or "epochs 2-6" for a list of EpochRecords."""
    if not recs:
        return "no epoch"
    a, b = recs[0].epoch, recs[-1].epoch
    return f"epoch {a}" if a == b else f"epochs {a}-{b}"
