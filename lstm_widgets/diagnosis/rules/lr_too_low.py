"""lr_too_low: steps below the per-step band while the loss creeps, in a run that has
neither converged nor had its learning rate decayed, and whose data's scale is not the
reason (unscaled inputs or target say so themselves)."""

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
    if ctx.converged or ctx.lr_decayed:
        return []  # a flat loss after learning most of it, or after a planned decay, is not this
    if ctx.unscaled_inputs or ctx.unscaled_target:
        return []  # the steps are small because of the data's scale: a larger rate is not the fix
    trend = ctx.trend
    med, data, ratio_line = update_evidence(ctx)
    progress = trend["progress"]
    far_below = med < T.UPDATE_RATIO_LOW and finite(progress) and progress < T.LOSS_SLOW
    below = (med < T.UPDATE_RATIO_SLOW and finite(progress) and progress < T.LOSS_SLOW
             and finite(ctx.vs_mean) and ctx.vs_mean > T.CONVERGED_SHARE)
    if not (far_below or below):
        return []
    lr = ctx.learning_rate
    factor = min(max(T.UPDATE_RATIO_PER_STEP / max(med, 1e-12), T.LR_RAISE_MIN), T.LR_RAISE_MAX)
    new_lr = min(nice(lr * factor), nice(ctx.max_learning_rate))
    if new_lr <= lr:
        return []
    evidence = [
        ratio_line,
        f"Training loss changed by {trend['progress']:.2%} over {epochs_text(ctx.finite_window)} "
        f"({fmt(trend['loss'][0])} → {fmt(trend['loss'][-1])}): at this pace it does not even halve "
        f"in {len(ctx.finite_window)} epochs.",
        f"Learning rate in force: {lr:g} ({ctx.settings.optimizer or '?'}); the suggestion stays at or "
        f"below {nice(ctx.max_learning_rate):g}, ten times the usual start for this optimizer.",
    ]
    if finite(ctx.vs_mean):
        evidence.append(f"The loss is {ctx.vs_mean:.3g}x that of always predicting the mean: far from converged.")
    return [Finding(
        CODE, "warning", "Learning rate too low",
        "The weights change by a small fraction of their size each step and the loss creeps: "
        "the optimizer's steps are too small to get anywhere in a reasonable number of epochs.",
        evidence, data, {"learning_rate": new_lr},
        f"Raise the learning rate {new_lr / lr:.3g}x, to {new_lr:g}.",
    )]
