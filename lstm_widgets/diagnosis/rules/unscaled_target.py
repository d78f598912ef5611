"""unscaled_target: a mean-squared loss on a target in its raw, large units."""

from __future__ import annotations

import numpy as np

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite

CODE = "unscaled_target"


def check(ctx) -> list[Finding]:
    data = ctx.data
    if not ctx.finite_window or data is None or getattr(data, "y_train", None) is None:
        return []
    if not ctx.unscaled_target:
        return []  # not an MSE, watch() (it cannot see the target's scaling), scaled, small, or converged
    y = np.asarray(data.y_train, dtype=np.float64)
    rms = ctx.target_rms
    losses = [r.loss for r in ctx.finite_window if finite(r.loss)]
    steps = sum(int(r.steps) for r in ctx.records)
    lr = ctx.learning_rate
    mean = float(abs(y.mean()))
    if ctx.adaptive:
        mechanism = (
            f"With {ctx.settings.optimizer_class or ctx.optimizer} each step moves a weight by about the "
            f"learning rate, whatever the size of the error: the output bias has moved at most "
            f"{steps} steps x {lr:g} = {steps * lr:.3g} so far, against a target mean of {mean:.3g}, so it needs "
            f"about {mean / lr:.3g} steps to get there."
        )
    else:
        mechanism = (
            "With SGD the step is the learning rate times the gradient, and the gradient of a squared "
            f"error grows with the offset (about {2 * mean:.3g} for the output bias at first): a rate small "
            "enough not to blow up on that is far too small once the offset is gone."
        )
    return [Finding(
        CODE, "problem", "The target is not scaled",
        "The target is in its raw units, far from the outputs of a freshly initialised "
        "network (the LSTM's states lie in -1..1 and the output layer starts small), so the "
        "loss is dominated by that offset. " + mechanism,
        [
            f"Target RMS {rms:.3g} (mean {fmt(float(y.mean()))}, std {fmt(float(y.std()))}); "
            f"alarm at {T.UNSCALED_TARGET:g}.",
            f"Training loss {fmt(losses[0]) if losses else '?'} → {fmt(losses[-1]) if losses else '?'} "
            f"over {epochs_text(ctx.finite_window)}, against a target variance of {fmt(float(y.var()))}.",
        ],
        {"target_rms": rms, "target_mean": float(y.mean()), "target_std": float(y.std()), "steps": steps,
         "learning_rate": lr},
        {"scale_target": True},
        "Standardize the target too (fitted on the training split); predictions are turned "
        "back into the target's units.",
    )]
