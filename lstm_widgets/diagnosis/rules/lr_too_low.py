"""lr_too_low: steps far below the per-step band while the loss stays flat."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, nice
from ._update import update_evidence

CODE = "lr_too_low"


def check(ctx) -> list[Finding]:
    if len(ctx.step_ratios) < T.MIN_TREND_EPOCHS:
        return []
    if ctx.clipping_brakes is not None:
        return []  # the threshold sets the step, not the learning rate: clipping_too_tight says so
    trend = ctx.trend
    med, data, ratio_line = update_evidence(ctx)
    flat = finite(trend["progress"]) and trend["progress"] < T.LOSS_FLAT
    if not (med < T.UPDATE_RATIO_LOW and flat):
        return []
    lr = ctx.learning_rate
    factor = min(max(T.UPDATE_RATIO_PER_STEP / max(med, 1e-12), T.LR_RAISE_MIN), T.LR_RAISE_MAX)
    new_lr = min(nice(lr * factor), T.LR_MAX_SUGGESTED)
    if new_lr <= lr:
        return []
    return [Finding(
        CODE, "warning", "Learning rate too low",
        "The weights change by a tiny fraction of their size each step and the loss "
        "stays flat: the optimizer's steps are too small to make progress in any "
        "reasonable number of epochs.",
        [
            ratio_line,
            f"Training loss changed by {trend['progress']:.2%} over {epochs_text(ctx.finite_window)} "
            f"({fmt(trend['loss'][0])} → {fmt(trend['loss'][-1])}).",
            f"Learning rate in force: {lr:g} ({ctx.settings.optimizer or '?'}).",
        ],
        data, {"learning_rate": new_lr},
        f"Raise the learning rate {new_lr / lr:.3g}x, to {new_lr:g}.",
    )]
