"""not_learning: after enough epochs the model is no better than always predicting the
training mean (or worse than it): the weights may move, but nothing is being learned."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, median, step_ratio, time_profile

CODE = "not_learning"


def _pointers(ctx) -> list[str]:
    """What the other measures say about why (evidence lines)."""
    out = []
    steps = [x for _, x in ctx.step_ratios]
    if steps:
        med = median(steps)
        if med < T.UPDATE_RATIO_LOW:
            out.append(f"The weights barely move: {fmt(med)} of their size per step (healthy near "
                       f"{T.UPDATE_RATIO_PER_STEP:g}); the steps are too small to learn.")
        else:
            out.append(f"The weights do move ({fmt(med)} of their size per step), so the updates "
                       f"are not the problem: look at what they are fitted to.")
    last = ctx.finite_window[-1]
    prof = time_profile(last.grad_through_time)
    if prof is not None and prof["length"] >= T.VANISH_MIN_LENGTH:
        out.append(f"The gradient reaches back {prof['reach']} of {prof['length']} time steps (within "
                   f"{T.VANISH_REACH_FRACTION:g} of the last step's): what lies further back cannot be learned.")
    sat = {g: v for g, v in last.gate_saturation.items() if finite(v) and v >= T.SATURATED}
    if sat:
        out.append("Saturated gates: " + ", ".join(f"{g} {v:.0%}" for g, v in sat.items()) + ".")
    out.append("To tell weights that cannot move from weights that move to no use, run the first checks: "
               "lab.first_checks() (or lstm_widgets.first_checks(config, data)) tries to overfit one small batch.")
    return out


def check(ctx) -> list[Finding]:
    recs = ctx.finite_window
    if not recs or not finite(ctx.vs_mean) or ctx.records[-1].epoch < T.NOT_LEARNING_EPOCHS:
        return []
    if ctx.vs_mean < T.NOT_LEARNING_SHARE:
        return []
    worse = ctx.vs_mean >= T.WORSE_THAN_MEAN
    split = ctx.split_name
    base = recs[-1].baseline_loss
    evidence = [
        f"Best {split} loss over {epochs_text(recs)}: {fmt(ctx.judged_best)}; always predicting the training "
        f"mean scores {fmt(base)} ({ctx.vs_mean:.3g}x of it; \"not learning\" from {T.NOT_LEARNING_SHARE:g}x)."
    ]
    if finite(ctx.vs_persistence):
        evidence.append(f"Repeating the last value scores {fmt(recs[-1].persistence_loss)}.")
    evidence += _pointers(ctx)
    title = "Worse than always predicting the mean" if worse else "Not learning: no better than predicting the mean"
    return [Finding(
        CODE, "problem", title,
        f"After {ctx.records[-1].epoch} epochs the model's {split} loss is "
        + ("far worse than" if worse else "no better than")
        + " that of a constant prediction of the training mean, the loss of no learning at all. Whatever "
        "the weights are doing, they have not captured anything about the target yet. The lines below "
        "say what the other measures point to.",
        evidence,
        {"judged_best": ctx.judged_best, "mean_baseline": base, "vs_mean": ctx.vs_mean,
         "split": ctx.baseline_split, "step_ratio": median([x for _, x in ctx.step_ratios])
         if ctx.step_ratios else None, "update_step_last": step_ratio(recs[-1])},
        {},
        "",
    )]
