"""The update-ratio evidence the two learning-rate rules share."""

from __future__ import annotations

import math

import numpy as np

from .. import thresholds as T
from ..finding import epochs_text, fmt
from ..stats import median, step_ratio


def update_evidence(ctx) -> tuple[float, dict, str]:
    """(median per-step ratio, the data behind it, its evidence line) over the window."""
    recs = [r for r, _ in ctx.step_ratios]
    step_ratios = [x for _, x in ctx.step_ratios]
    largest = [step_ratio(r, field="step_ratio_max") for r in recs]
    med = median(step_ratios)
    steps = int(np.median([r.steps for r in recs])) if recs else 0
    data = {
        "epochs": [r.epoch for r in recs], "update_ratio_step": step_ratios, "update_ratio_step_max": largest,
        "steps": steps, "loss": ctx.trend["loss"], "learning_rate": ctx.learning_rate,
        "optimizer": ctx.settings.optimizer,
    }
    line = (
        f"Update per step ||ΔW||/||W||: median {fmt(med)} (largest step {fmt(max(largest, default=math.nan))}) "
        f"over {epochs_text(recs)} of {steps} steps each; healthy is near {T.UPDATE_RATIO_PER_STEP:g} per step."
    )
    return med, data, line
