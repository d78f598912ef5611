"""exploding_gradients: gradient norms grow by orders of magnitude, or single steps spike."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import thresholds as T
from ...config import TYPICAL_LR
from ..finding import Finding, fmt
from ..stats import finite, nice, num, unit

CODE = "exploding_gradients"


def check(ctx) -> list[Finding]:
    recs = [r for r in ctx.window if finite(unit(r, "grad_pre_mean")) and unit(r, "grad_pre_mean") > 0]
    if not recs:
        return []
    means = [unit(r, "grad_pre_mean") for r in recs]
    growth = means[-1] / min(means[:-1]) if len(recs) >= 2 else math.nan
    spikes = []
    for r, m in zip(recs, means):
        mx = unit(r, "grad_pre_max")
        if finite(mx) and mx / m >= T.EXPLODE_SPIKE:
            spikes.append((r.epoch, mx / m, mx))
    grown = finite(growth) and growth >= T.EXPLODE_GROWTH
    if not grown and len(spikes) < 2:
        return []
    clipping = ctx.clipping
    evidence = []
    if grown:
        i_min = int(np.argmin(means[:-1]))
        evidence.append(
            f"Mean pre-clip gradient norm grew {growth:.3g}x, from {fmt(means[i_min])} "
            f"(epoch {recs[i_min].epoch}) to {fmt(means[-1])} (epoch {recs[-1].epoch})."
        )
    for ep, ratio, mx in spikes[:3]:
        evidence.append(f"Epoch {ep}: one step's gradient norm {fmt(mx)} was {ratio:.3g}x the epoch's mean.")
    last = recs[-1]
    worst = max(
        (u for u in last.units.get("grad_pre_max", {}) if u != "global"),
        key=lambda u: unit(last, "grad_pre_max", u) if finite(unit(last, "grad_pre_max", u)) else -1,
        default=None,
    )
    if worst is not None:
        evidence.append(
            f"Largest in epoch {last.epoch}: {worst}, pre-clip norm {fmt(unit(last, 'grad_pre_max', worst))}."
        )
    lr = ctx.learning_rate
    patch: dict[str, Any] = {}
    if clipping == "none":
        patch.update({"clipping": "clipnorm", "clip_threshold": 1.0})
    elif ctx.clip_threshold > 1.0:
        patch["clip_threshold"] = 1.0
    if lr >= 10 * TYPICAL_LR.get(ctx.optimizer, 1e-3) or not patch:
        patch["learning_rate"] = nice(lr / 10)
    hidden = (" Clipping is on, so the steps taken are bounded, but the pre-clip norms show the "
              "explosion it is hiding." if clipping != "none" else "")
    fix = "Clip each gradient at norm 1" if "clipping" in patch else (
        "Lower the clip threshold to 1" if "clip_threshold" in patch else "")
    if "learning_rate" in patch:
        fix = (fix + " and lower" if fix else "Lower") + f" the learning rate to {patch['learning_rate']:g}"
    return [Finding(
        CODE, "problem", "Exploding gradients",
        "Gradient norms grow by orders of magnitude (or single steps jump far above the "
        "rest). Backpropagation through time multiplies by the recurrent weights at every "
        "step, so once those products exceed 1 the gradient grows exponentially; each "
        "update then throws the weights far away instead of improving them." + hidden,
        evidence,
        {
            "epochs": [r.epoch for r in recs], "grad_pre_mean": means,
            "grad_pre_max": [unit(r, "grad_pre_max") for r in recs],
            "growth": num(growth), "spikes": [[e, float(x)] for e, x, _ in spikes],
        },
        patch,
        fix + ".",
    )]
