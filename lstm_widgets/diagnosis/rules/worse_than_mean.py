"""worse_than_mean: the model never got as good as always predicting the training mean."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, mean_baseline

CODE = "worse_than_mean"


def check(ctx) -> list[Finding]:
    data, s = ctx.data, ctx.settings
    window = ctx.finite_window
    if data is None or getattr(data, "y_train", None) is None or (s.loss or "mse") != "mse":
        return []
    if len(window) < T.MIN_TREND_EPOCHS:
        return []
    baseline = mean_baseline(data, "val", bool(s.scale_target))
    vals = [r.val_loss if r.val_loss is not None else r.loss for r in window]
    if not (baseline and baseline > 0 and all(finite(v) for v in vals)):
        return []
    best = min(vals)
    if best < T.WORSE_THAN_MEAN * baseline:
        return []
    which = "validation" if window[-1].val_loss is not None else "training"
    return [Finding(
        CODE, "problem", "Worse than always predicting the mean",
        "Over the last epochs the model never got even as good as a constant "
        "prediction of the training mean. Its weights are moving, but to no use: "
        "look at the other findings for why (a step too large for the problem, "
        "unscaled data, or clipping that lets a too-large learning rate through).",
        [
            f"Best {which} loss over {epochs_text(window)}: {fmt(best)}.",
            f"Always predicting the training mean scores {fmt(baseline)} "
            f"(the model is {best / baseline:.3g}x worse; alarm at {T.WORSE_THAN_MEAN:g}x).",
        ],
        {"best_loss": best, "mean_baseline": baseline, "split": which},
        {},
        "",
    )]
