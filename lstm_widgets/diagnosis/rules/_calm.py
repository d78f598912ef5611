"""The restart that stops a blow-up, shared by ``nonfinite`` and ``exploding_gradients``."""

from __future__ import annotations

import math
from typing import Any

from .. import thresholds as T
from ..stats import finite, nice, unit


def nice_below(x: float) -> float:
    """The largest 1, 2 or 5 times a power of ten that is at most ``x``."""
    if not finite(x) or x <= 0:
        return math.nan
    y = nice(x)
    while y > x * (1 + 1e-9):
        exp = math.floor(math.log10(y))
        mant = round(y / 10**exp)
        y = {1: 0.5 * 10**exp, 2: 1 * 10**exp, 5: 2 * 10**exp, 10: 5 * 10**exp}[mant]
    return float(f"{y:.1g}")


def sgd_lr_ceiling(ctx, mode: str, threshold: float) -> float:
    """The SGD learning rate at which the largest step clipping allows stays under
    STEP_SAFE of the weights' size (the smallest recorded in this run, before they grew,
    the size at initialisation included); NaN when no weight norm was recorded or the
    clipping bounds no step norm."""
    sizes = [unit(r, "weight_norm") for r in ctx.records]
    sizes.append(getattr(ctx.info, "initial_weight_norm", None))
    sizes = [w for w in sizes if w is not None and finite(w) and w > 0]
    if not sizes or not finite(threshold) or threshold <= 0:
        return math.nan
    n_vars = max(len(ctx.structure.variables), 1)
    if mode == "clipnorm":  # each variable's step at most lr * c
        bound = threshold * math.sqrt(n_vars)
    elif mode == "global_clipnorm":
        bound = threshold
    else:  # clipvalue bounds each element, not the norm
        return math.nan
    momentum = min(max(float(ctx.settings.momentum or 0.0), 0.0), 0.99)
    return T.STEP_SAFE * min(sizes) * (1 - momentum) / bound


def calm_patch(ctx, lower_lr: bool = True) -> tuple[dict[str, Any], str]:
    """(patch, fix sentence) for a run whose steps blew up: a lower learning rate (10x,
    and for SGD also below :func:`sgd_lr_ceiling`; ``lower_lr=False`` keeps the rate when
    clipping alone bounds the step), clipping where it bounds the step (a lower threshold
    not for Adam, RMSprop, Nadam, whose step is about the learning rate whatever the
    gradient), and the inputs and target scaled when they are not (large inputs and
    targets make the large gradients in the first place)."""
    lr = ctx.learning_rate
    patch: dict[str, Any] = {}
    parts: list[str] = []
    mode, threshold = ctx.clipping, ctx.clip_threshold
    if mode == "none":
        patch.update({"clipping": "clipnorm", "clip_threshold": 1.0})
        mode, threshold = "clipnorm", 1.0
        parts.append("clip each gradient at norm 1")
    elif not ctx.adaptive and threshold > 1.0:
        patch["clip_threshold"] = 1.0
        threshold = 1.0
        parts.append("lower the clip threshold to 1")
    new_lr = nice(lr / 10) if lower_lr or not patch else lr
    if not ctx.adaptive:
        ceiling = sgd_lr_ceiling(ctx, mode, threshold)
        if finite(ceiling) and ceiling < new_lr:
            new_lr = nice_below(ceiling)
    if new_lr != lr:
        patch["learning_rate"] = new_lr
        parts.insert(0, f"lower the learning rate to {new_lr:g}" + (
            "" if new_lr == nice(lr / 10) else
            f" (with this clipping no step can then move the weights by more than {T.STEP_SAFE:.0%} of their size)"))
    if ctx.unscaled_inputs and ctx.settings.scaler != "standard":
        patch["scaler"] = "standard"
        parts.append("standardize the inputs")
    if ctx.unscaled_target:
        patch["scale_target"] = True
        parts.append("scale the target")
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return patch, text[0].upper() + text[1:] + "."
