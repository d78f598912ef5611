"""lr_too_high: the loss zigzags or rises without progress: the steps overshoot."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, fmt
from ..stats import finite, median, nice
from ._calm import nice_below
from ._update import update_evidence

CODE = "lr_too_high"


def check(ctx) -> list[Finding]:
    if len(ctx.finite_window) < T.MIN_TREND_EPOCHS:
        return []
    trend = ctx.trend
    # Overshooting shows in the training loss too: a validation loss that zigzags while the
    # training loss keeps making new bests is the noise of one split, not steps too long.
    bouncing = (trend["oscillating"] and trend["bounce"] >= T.LOSS_BOUNCE and not trend["improving"]
                and not (trend["train_improving"] and trend["ups"] < T.LOSS_UPS_OSCILLATING))
    largest, at = ctx.largest_step
    jumps = finite(largest) and largest >= T.STEP_TOO_LARGE
    if not (bouncing or trend["rising"] or jumps):
        return []
    med, data, ratio_line = update_evidence(ctx)
    how = "rising" if trend["rising"] else "bouncing" if bouncing else "jumping"
    evidence = []
    if jumps:
        first, last = ctx.since[0], ctx.finite_window[-1]
        evidence.append(
            f"A single step in epoch {at} moved the weights by {largest:.0%} of their size (healthy steps are "
            f"near {T.UPDATE_RATIO_PER_STEP:.1%}; too large from {T.STEP_TOO_LARGE:.0%}). The weights' norm is "
            f"{fmt(last.units['weight_norm']['global'])} in epoch {last.epoch} "
            f"({fmt(first.units['weight_norm']['global'])} after epoch {first.epoch})."
        )
    evidence += [
        "Training loss " + " → ".join(fmt(x) for x in trend["loss"])
        + f" ({trend['ups']} epochs up by more than {T.LOSS_UP:.0%}; the largest rise {trend['bounce']:.0%}).",
    ]
    if trend["val_loss"]:
        evidence.append(
            "Validation loss " + " → ".join(fmt(x) for x in trend["val_loss"])
            + f" ({trend['val_ups']} epochs up, {trend['val_downs']} down by more than {T.LOSS_UP:.0%})."
        )
    if bouncing or trend["rising"]:
        evidence.append("No new best loss in the later epochs of the window." if not trend["improving"] else
                        "The loss ends higher than it started in the window.")
    if ctx.step_ratios:
        evidence.append(ratio_line)
    recs = ctx.finite_window
    sat = {g: median([r.gate_saturation.get(g) for r in recs]) for g in recs[-1].gate_saturation}
    hot = {g: v for g, v in sat.items() if finite(v) and v >= T.SATURATED / 2}
    if hot:
        evidence.append(
            "Gates driven into saturation by the grown weights: "
            + ", ".join(f"{g} {v:.0%}" for g, v in hot.items()) + "."
        )
    lr = ctx.learning_rate
    new_lr = nice(lr / 10)
    if jumps:  # a step is about proportional to the rate: bring the largest one under STEP_SAFE
        new_lr = min(new_lr, nice_below(lr * T.STEP_SAFE / largest))
    patch = {"learning_rate": new_lr}
    fix = (f"Lower the learning rate to {new_lr:g}" + (
        f" ({lr / new_lr:.3g}x lower: steps are about proportional to it, and its largest step would then move "
        f"the weights by about {largest * new_lr / lr:.0%})" if jumps else " (10x lower)") + ".")
    if ctx.unscaled_inputs:  # the inputs set the gradient's size and the gates' saturation: first them
        patch = {}
        fix = ("Scale the inputs first (see 'Input features are not scaled'): the step sizes are judged again "
               "once the model sees scaled features.")
    why = ("Adam, RMSprop and Nadam move every weight by about the learning rate each step, whatever the "
           "gradient's size, so near a minimum a large rate keeps jumping across it." if ctx.adaptive else
           "Each SGD step is the learning rate times the gradient; past a certain size it jumps across the "
           "minimum instead of into it.")
    what = (
        "Steps this large throw the weights far from where they were: their norm grows, the gates saturate, "
        "and a lower learning rate would have found a better minimum."
        if how == "jumping" else
        f"The loss is {how} instead of falling: the steps overshoot the minimum and bounce around it, "
        f"so the weights keep changing without getting better."
    )
    return [Finding(
        CODE, "problem", "Learning rate too high",
        f"{what} {why}",
        evidence, {**data, "trend": how, "bounce": trend["bounce"], "largest_step": largest, "largest_step_epoch": at},
        patch,
        fix,
    )]
