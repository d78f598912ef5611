"""unscaled_target: a mean-squared loss on a target in its raw, large units."""

from __future__ import annotations

import numpy as np

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite

CODE = "unscaled_target"


def check(ctx) -> list[Finding]:
    data, s = ctx.data, ctx.settings
    if not ctx.finite_window or data is None or getattr(data, "y_train", None) is None:
        return []
    if (s.loss or "mse") != "mse" or s.scale_target is None or s.scale_target:
        return []  # not an MSE, or watch() (it cannot see the target's scaling), or scaled
    y = np.asarray(data.y_train, dtype=np.float64)
    rms = float(np.sqrt((y**2).mean()))
    if rms < T.UNSCALED_TARGET:
        return []
    losses = [r.loss for r in ctx.finite_window if finite(r.loss)]
    return [Finding(
        CODE, "problem", "The target is not scaled",
        "The target is in its raw units, far from the outputs of a freshly initialised "
        "network (the LSTM's states lie in -1..1 and the output layer starts small). The "
        "squared error is then dominated by that offset: the output layer has to grow its "
        "weights by orders of magnitude one small optimizer step at a time, while the same "
        "huge error pushes every LSTM gate into saturation, where its weights stop updating.",
        [
            f"Target RMS {rms:.3g} (mean {fmt(float(y.mean()))}, std {fmt(float(y.std()))}); "
            f"alarm at {T.UNSCALED_TARGET:g}.",
            f"Training loss {fmt(losses[0]) if losses else '?'} → {fmt(losses[-1]) if losses else '?'} "
            f"over {epochs_text(ctx.finite_window)}, against a target variance of {fmt(float(y.var()))}.",
        ],
        {"target_rms": rms, "target_mean": float(y.mean()), "target_std": float(y.std())},
        {"scale_target": True},
        "Standardize the target too (fitted on the training split); predictions are turned "
        "back into the target's units.",
    )]
