"""vanishing_gradients: the gradient through time dies out long before the first step."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import median, num, time_profile

CODE = "vanishing_gradients"


def check(ctx) -> list[Finding]:
    window = ctx.finite_window
    if not window:
        return []
    profiles = [(r, time_profile(r.grad_through_time)) for r in window]
    profiles = [(r, p) for r, p in profiles if p is not None]
    if len(profiles) < min(2, len(window)) or not profiles:
        return []
    ratio = median([p["ratio"] for _, p in profiles])
    reach = int(np.median([p["reach"] for _, p in profiles]))
    length = profiles[-1][1]["length"]
    died = ratio < T.VANISH_RATIO
    short = length >= T.VANISH_MIN_LENGTH and reach <= T.VANISH_FEW_STEPS
    if not (died or short):
        return []
    last = profiles[-1][0]
    g = last.grad_through_time
    evidence = [
        f"||dL/dx_t|| on the probe batch, epoch {last.epoch}: first step {fmt(g[0])}, "
        f"middle {fmt(g[len(g) // 2])}, last {fmt(g[-1])}.",
        f"First {max(1, int(round(length * T.VANISH_HEAD_FRACTION)))} of {length} steps / last step: "
        f"{ratio:.2g} (median over {epochs_text([r for r, _ in profiles])}; float32 resolves ~1e-7).",
        f"The gradient stays within {T.VANISH_REACH_FRACTION:g} of the last step's for only the "
        f"last {reach} of {length} steps.",
    ]
    patch: dict[str, Any] = {}
    if ctx.settings.cell == "simple_rnn":
        patch = {"cell": "lstm"}
        fix = "Use an LSTM cell: its additive cell state carries the gradient back (needs a restart)."
    elif ctx.settings.optimizer == "sgd":
        patch = {"optimizer": "adam", "learning_rate": 1e-3}
        fix = ("Switch to Adam 1e-3: it scales each weight's step by that weight's own gradient "
               "size, so weak long-range signals still move it. If the ratio stays tiny, "
               "shorten the sequences.")
    else:
        fix = "Shorten the sequences (a smaller lookback) or add features that carry the early information."
    return [Finding(
        CODE, "warning", "Vanishing gradients through time",
        "The gradient of the loss with respect to the early inputs is negligible next to "
        "the last step's: each step back multiplies it by a factor below 1 (forget gate, "
        "recurrent weights, saturated activations). The shared recurrent weights then learn "
        "only from the last few steps, so dependencies further back cannot be learned.",
        evidence,
        {
            "ratio": ratio, "reach": reach, "length": length,
            "epochs": [r.epoch for r, _ in profiles],
            "grad_through_time": [num(x) for x in g],
        },
        patch,
        fix,
    )]
