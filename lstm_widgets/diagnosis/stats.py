"""The statistics the diagnosis judges, shared with the lessons' checks and the panels.

Pure functions of recorded numbers and raw data: baselines (what no learning scores),
how far back the gradient reaches, feature scales, the loss trend of a window of epochs
and the per-step update ratio. A lesson that needs one of these imports it from here, so
a check passes exactly when the diagnosis agrees.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from . import thresholds as T

__all__ = [
    "finite",
    "num",
    "median",
    "nice",
    "per_step_ratio",
    "step_ratio",
    "unit",
    "ratio_of",
    "loss_trend",
    "gradient_reach",
    "time_profile",
    "feature_rms",
    "raw_feature_rms",
    "mean_baseline",
]


def finite(x: Any) -> bool:
    """A real, finite number (not a bool)."""
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and math.isfinite(x)


def num(x: Any) -> float | None:
    """A JSON-friendly number: None for NaN and infinities."""
    return float(x) if finite(x) else None


def median(values) -> float:
    """The median of the finite values (NaN when there is none)."""
    vals = [float(v) for v in values if finite(v)]
    return float(np.median(vals)) if vals else math.nan


def nice(x: float) -> float:
    """x rounded to one significant digit (1, 2 or 5 times a power of ten), at least 1e-7."""
    if not finite(x) or x <= 0:
        return 1.0
    exp = math.floor(math.log10(x))
    mant = x / 10**exp
    step = 1 if mant < 1.5 else 2 if mant < 3.5 else 5 if mant < 7.5 else 10
    return float(f"{max(step * 10**exp, 1e-7):.1g}")


def per_step_ratio(epoch_ratio: float, steps: int) -> float:
    """Estimate a per-step update ratio from a per-epoch one (only for Histories recorded
    before the train step measured it; see :func:`step_ratio`).

    S steps of relative size r move the weights by between r * sqrt(S) (directions
    unrelated, a random walk: the noisy phase of training) and r * S (all steps aligned).
    Dividing by sqrt(S) therefore gives an upper bound of the per-step ratio: a run found
    "too low" with it is certainly too low; "too high" needs more evidence.

    Args:
        epoch_ratio: ||W_end - W_start|| / ||W_end|| over one epoch.
        steps: Gradient steps in that epoch (at least 1 is assumed).
    """
    return float(epoch_ratio) / math.sqrt(max(int(steps or 1), 1))


def step_ratio(rec, name: str = "global", field: str = "step_ratio_mean") -> float:
    """The update one step applied, ||ΔW_step|| / ||W||, for a unit of a record: the mean
    (``field="step_ratio_mean"``) or the largest (``"step_ratio_max"``) over the epoch's
    steps, as the train step measured it. A record from an older History, which has only
    the per-epoch ratio, gets :func:`per_step_ratio`'s estimate instead."""
    v = rec.units.get(field, {}).get(name)
    if v is not None:
        return float(v) if finite(v) else math.nan
    epoch = rec.units.get("update_ratio", {}).get(name, math.nan)
    return per_step_ratio(epoch, rec.steps) if finite(epoch) else math.nan


def unit(rec, field_name: str, name: str = "global") -> float:
    """One unit number of a record (NaN when missing or not finite)."""
    v = rec.units.get(field_name, {}).get(name, math.nan)
    return float(v) if finite(v) else math.nan


def ratio_of(values: dict) -> float:
    """Update ratio from a units/gates dict, with 0 when neither weight nor delta moved."""
    r = values.get("update_ratio", math.nan)
    if finite(r):
        return float(r)
    d, w = values.get("delta_norm", math.nan), values.get("weight_norm", math.nan)
    if finite(d) and d == 0.0:
        return 0.0
    if finite(d) and finite(w) and w > 0:
        return float(d) / float(w)
    return math.nan


def loss_trend(window) -> dict[str, Any]:
    """Progress, steps up, zigzag and rise of the training (and validation) loss over
    a window of EpochRecords (non-finite losses left out)."""
    loss = [r.loss for r in window if finite(r.loss)]
    val = [r.val_loss for r in window if r.val_loss is not None and finite(r.val_loss)]

    def ups_downs(xs):
        ups = sum(1 for a, b in zip(xs, xs[1:]) if b > a * (1 + T.LOSS_UP))
        downs = sum(1 for a, b in zip(xs, xs[1:]) if b < a * (1 - T.LOSS_UP))
        return ups, downs

    def bounce(xs):
        rises = [(b - a) / a for a, b in zip(xs, xs[1:]) if a > 0]
        return max(rises, default=0.0)

    def improving(xs):
        """A new best in the later half of the window, by more than LOSS_FLAT."""
        if len(xs) < 3:
            return True
        half = len(xs) // 2
        return min(xs[half:]) < min(xs[:half]) * (1 - T.LOSS_FLAT)

    progress = (loss[0] - loss[-1]) / abs(loss[0]) if len(loss) >= 2 and loss[0] != 0 else math.nan
    ups, _ = ups_downs(loss)
    vups, vdowns = ups_downs(val)
    oscillating = ups >= T.LOSS_UPS_OSCILLATING or (
        vups >= T.LOSS_UPS_OSCILLATING and vdowns >= T.LOSS_UPS_OSCILLATING
    )
    rising = finite(progress) and progress <= -T.LOSS_RISING
    judged = val if len(val) == len(loss) and val else loss
    return {
        "loss": loss, "val_loss": val, "progress": progress, "ups": ups, "val_ups": vups,
        "val_downs": vdowns, "oscillating": oscillating, "rising": rising,
        "bounce": max(bounce(loss), bounce(val)), "improving": improving(judged),
        "train_improving": improving(loss),
    }


def gradient_reach(grad_through_time: Sequence[float], fraction: float | None = None) -> int:
    """How many of the last time steps still get a usable gradient.

    Counts back from the last step while ||dL/dx_t|| stays at least ``fraction`` of the
    last step's.

    Args:
        grad_through_time: ||dL/dx_t|| per time step, e.g. ``record.grad_through_time``.
        fraction: The share of the last step's gradient that still counts. Defaults to
            VANISH_REACH_FRACTION, 1e-3.

    Returns:
        The number of steps, from 1 (only the last) to the sequence length (all of them).

    Raises:
        ValueError: no value, a non-finite value, or a last value of 0.
    """
    g = np.asarray(grad_through_time, dtype=np.float64).ravel()
    if g.size == 0 or not np.all(np.isfinite(g)) or g[-1] <= 0:
        raise ValueError(
            "grad_through_time must be finite norms per time step with a positive last value; "
            f"got {g.size} value(s). Use history.latest.grad_through_time of a run that did not diverge."
        )
    fraction = T.VANISH_REACH_FRACTION if fraction is None else float(fraction)
    reach = 0
    for x in g[::-1]:
        if x < fraction * g[-1]:
            break
        reach += 1
    return reach


def time_profile(grad_through_time: Sequence[float]) -> dict[str, float] | None:
    """``{"ratio", "first", "reach", "length"}`` of a gradient-through-time profile: the
    first VANISH_HEAD_FRACTION of the steps over the last step, the very first step over
    the last, the reach (see :func:`gradient_reach`), and the length; None when it cannot
    be judged."""
    g = [float(x) for x in grad_through_time]
    if len(g) < 2 or not all(finite(x) for x in g) or g[-1] <= 0:
        return None
    head = max(1, int(round(len(g) * T.VANISH_HEAD_FRACTION)))
    return {"ratio": float(np.mean(g[:head])) / g[-1], "first": g[0] / g[-1], "reach": gradient_reach(g),
            "length": len(g)}


def feature_rms(input_stats: dict) -> list[float]:
    """Root mean square per feature, from a record's ``input_stats`` (mean and std)."""
    return [
        math.sqrt(float(m) ** 2 + float(s) ** 2)
        for m, s in zip(input_stats.get("mean", []) or [], input_stats.get("std", []) or [])
    ]


def raw_feature_rms(X) -> list[float]:
    """Root mean square per feature of raw 3-D inputs, over every sample and time step."""
    X = np.asarray(X, dtype=np.float64)
    flat = X.reshape(-1, X.shape[-1])
    return np.sqrt((flat**2).mean(0)).tolist()


def mean_baseline(data, split: str = "val", scale_target: bool = False, loss: str = "mse") -> float:
    """The loss of no learning: always predicting the training targets' mean (their
    median for "mae"), on one split, in the units the model is trained in.

    Args:
        data: The raw SequenceData.
        split: "val" (the training split when there is no validation data) or "train".
            Defaults to "val".
        scale_target: The target is standardized with the training split's mean and
            std, as the Trainer does with ``scale_target``. Defaults to False.
        loss: "mse", "mae" or "huber" (Keras's, delta 1). Defaults to "mse".
    """
    y_train = np.asarray(data.y_train, dtype=np.float64)
    use_val = split == "val" and getattr(data, "y_val", None) is not None
    y = np.asarray(data.y_val if use_val else data.y_train, dtype=np.float64)
    if scale_target:
        sd = y_train.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        y, y_train = (y - y_train.mean(0)) / sd, (y_train - y_train.mean(0)) / sd
    if loss == "mae":
        return float(np.mean(np.abs(y - np.median(y_train, axis=0))))
    err = np.abs(y - y_train.mean(0))
    if loss == "huber":
        return float(np.mean(np.where(err <= 1.0, 0.5 * err**2, err - 0.5)))
    return float(np.mean(err**2))
