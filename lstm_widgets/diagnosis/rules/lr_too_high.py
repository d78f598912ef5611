"""lr_too_high: steps far above the per-step band while the loss rises or oscillates."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, fmt
from ..stats import finite, median, nice
from ._update import update_evidence

CODE = "lr_too_high"


def check(ctx) -> list[Finding]:
    if len(ctx.step_ratios) < T.MIN_TREND_EPOCHS:
        return []
    trend = ctx.trend
    med, data, ratio_line = update_evidence(ctx)
    if not ((trend["oscillating"] or trend["rising"]) and med >= T.UPDATE_RATIO_HIGH):
        return []
    how = "rising" if trend["rising"] else "oscillating"
    evidence = [
        ratio_line,
        "Training loss " + " → ".join(fmt(x) for x in trend["loss"])
        + f" ({trend['ups']} epochs up by more than {T.LOSS_UP:.0%}).",
    ]
    if trend["val_loss"]:
        evidence.append(
            "Validation loss " + " → ".join(fmt(x) for x in trend["val_loss"])
            + f" ({trend['val_ups']} epochs up, {trend['val_downs']} down by more than {T.LOSS_UP:.0%})."
        )
    recs = [r for r, _ in ctx.step_ratios]
    sat = {g: median([r.gate_saturation.get(g) for r in recs]) for g in recs[-1].gate_saturation}
    hot = {g: v for g, v in sat.items() if finite(v) and v >= T.SATURATED / 2}
    if hot:
        evidence.append(
            "Gates driven into saturation by the grown weights: "
            + ", ".join(f"{g} {v:.0%}" for g, v in hot.items()) + "."
        )
    new_lr = nice(ctx.learning_rate / 10)
    return [Finding(
        CODE, "problem", "Learning rate too high",
        "Each step changes the weights by much more than the usual ~0.1% and the loss "
        f"is {how} instead of falling: the steps overshoot the minimum and bounce "
        "around it, so the weights keep changing without getting better.",
        evidence, {**data, "trend": how}, {"learning_rate": new_lr},
        f"Lower the learning rate 10x, to {new_lr:g}.",
    )]
