"""behind_persistence: for a windowed series, the model beats the mean but not the plain
repetition of the last value."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite

CODE = "behind_persistence"


def check(ctx) -> list[Finding]:
    recs = ctx.finite_window
    if not recs or not finite(ctx.vs_persistence) or ctx.records[-1].epoch < T.NOT_LEARNING_EPOCHS:
        return []
    if ctx.vs_persistence < T.BEHIND_PERSISTENCE_SHARE or not (finite(ctx.vs_mean) and ctx.vs_mean < T.NOT_LEARNING_SHARE):
        return []
    r = recs[-1]
    return [Finding(
        CODE, "warning", "Behind repeating the last value",
        "The model beats a constant prediction of the mean, but not the simplest forecast of a "
        "series: tomorrow equals today. It has learned the level of the target, not yet how it moves "
        "from one step to the next. A model that is learning the dynamics beats this baseline; "
        "train longer, or see the other findings for what holds it back.",
        [
            f"Best loss over {epochs_text(recs)}: {fmt(ctx.judged_best)}; repeating the last value scores "
            f"{fmt(r.persistence_loss)} ({ctx.vs_persistence:.3g}x of it), the mean {fmt(r.baseline_loss)}.",
        ],
        {"judged_best": ctx.judged_best, "persistence": r.persistence_loss, "mean_baseline": r.baseline_loss,
         "vs_persistence": ctx.vs_persistence},
        {},
        "",
    )]
