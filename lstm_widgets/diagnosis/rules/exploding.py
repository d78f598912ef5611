"""exploding_gradients: gradient norms grow by orders of magnitude, or single steps spike."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import thresholds as T
from ...config import TYPICAL_LR
from ..finding import Finding, fmt
from ..stats import finite, nice, num, time_profile, unit
from ._calm import calm_patch

CODE = "exploding_gradients"


def _run_growth(ctx) -> tuple[float, float, float, int]:
    """(largest pre-clip step norm since the last change / the norm it started from, the
    start, the largest, the epoch of the largest); a largest that is not finite counts as
    infinite growth. The start is the first step's norm (older records: the first epoch's
    mean)."""
    since = ctx.since
    if not since:
        return math.nan, math.nan, math.nan, 0
    first = since[0]
    start = first.units.get("grad_pre_first", {}).get("global")
    if not (finite(start) and start > 0):
        start = unit(first, "grad_pre_mean")
    largest, at = -1.0, 0
    for r in since:
        x = r.units.get("grad_pre_max", {}).get("global", math.nan)
        x = math.inf if x is None or not finite(x) else float(x)
        if x > largest:
            largest, at = x, r.epoch
    if not (finite(start) and start > 0):
        return math.nan, start, largest, at
    return largest / start, start, largest, at


def through_time(ctx) -> float:
    """The largest ||dL/dx_0|| / ||dL/dx_(T-1)|| the probe measured, before the run's
    first step or at an epoch's end (NaN when never probed): above 1 the gradient grows
    going back in time."""
    profiles = [getattr(ctx.info, "initial_grad_through_time", None) or []]
    profiles += [r.grad_through_time for r in ctx.records]
    ratios = [p["first"] for p in map(time_profile, profiles) if p is not None]
    return max(ratios) if ratios else math.nan


def _cause(ctx) -> tuple[str, float]:
    """The explanation the probe supports: growth through time, or growth over epochs."""
    through = through_time(ctx)
    over_time = ("Backpropagation through time multiplies by the recurrent weights at every step, so once "
                 "those products exceed 1 the gradient grows exponentially going back in time; each update "
                 "then throws the weights far away instead of improving them.")
    over_epochs = ("Steps that are too large grow the weights, and larger weights give larger gradients, so "
                   "the next steps are larger still: the learning rate is the likelier cause.")
    if not finite(through):
        return (f"Two causes look alike: {over_time[0].lower()}{over_time[1:]} Or: {over_epochs[0].lower()}"
                f"{over_epochs[1:]}", through)
    if through >= 1:
        return over_time, through
    return ("The gradient through time fades here (the probe measured the gradient at the first time step "
            "below the one at the last), so the growth came over the epochs. "
            + over_epochs, through)


def check(ctx) -> list[Finding]:
    run_growth, start, largest, at = _run_growth(ctx)
    recs = [r for r in ctx.window if finite(unit(r, "grad_pre_mean")) and unit(r, "grad_pre_mean") > 0]
    if not recs and not (run_growth >= T.EXPLODE_GROWTH):
        return []
    means = [unit(r, "grad_pre_mean") for r in recs]
    growth = means[-1] / min(means[:-1]) if len(recs) >= 2 else math.nan
    typical = float(np.median(means)) if means else math.nan
    spikes = []
    for r in recs:
        mx = unit(r, "grad_pre_max")
        if finite(mx) and mx / typical >= T.EXPLODE_SPIKE:
            spikes.append((r.epoch, mx / typical, mx))
    grown = finite(growth) and growth >= T.EXPLODE_GROWTH
    run_grown = run_growth >= T.EXPLODE_GROWTH  # inf counts: the gradient itself overflowed
    if not grown and not run_grown and len(spikes) < T.EXPLODE_SPIKES:
        return []
    clipping = ctx.clipping
    evidence = []
    if run_grown:
        evidence.append(
            f"The pre-clip gradient norm started at {fmt(start)} (the first step) and reached "
            + (f"{fmt(largest)} in epoch {at}, {run_growth:.3g}x." if finite(largest) else
               f"infinity (it overflowed) in epoch {at}.")
        )
    if grown:
        i_min = int(np.argmin(means[:-1]))
        evidence.append(
            f"Mean pre-clip gradient norm grew {growth:.3g}x, from {fmt(means[i_min])} "
            f"(epoch {recs[i_min].epoch}) to {fmt(means[-1])} (epoch {recs[-1].epoch})."
        )
    for ep, ratio, mx in spikes[:3]:
        evidence.append(f"Epoch {ep}: one step's gradient norm {fmt(mx)} was {ratio:.3g}x the typical mean norm "
                        f"{fmt(typical)} of the judged epochs.")
    last = recs[-1] if recs else ctx.since[-1]
    worst = max(
        (u for u in last.units.get("grad_pre_max", {}) if u != "global"),
        key=lambda u: unit(last, "grad_pre_max", u) if finite(unit(last, "grad_pre_max", u)) else -1,
        default=None,
    )
    if worst is not None:
        evidence.append(
            f"Largest in epoch {last.epoch}: {worst}, pre-clip norm {fmt(unit(last, 'grad_pre_max', worst))}."
        )
    lr = ctx.learning_rate
    patch: dict[str, Any] = {}
    diverged = ctx.status == "diverged" or any(r.diverged for r in ctx.records)
    hidden = ""
    if ctx.adaptive and clipping != "none":
        hidden = (" With Adam, RMSprop or Nadam clipping does not bound the step (it is about the learning "
                  "rate whatever the gradient's size): the learning rate does.")
    elif clipping != "none":
        hidden = (" Clipping is on, so the steps taken are bounded (at most the learning rate times the "
                  "threshold), but the pre-clip norms show the explosion it is holding back.")
    if ctx.adaptive and not diverged:
        # The step m/sqrt(v) is about the learning rate whatever the gradient's size, so a
        # lower clip threshold would not shorten it; a lower learning rate does. A clip (if
        # none) keeps one huge gradient from inflating the moment estimates for long.
        patch["learning_rate"] = nice(lr / 10)
        if clipping == "none":
            patch.update({"clipping": "clipnorm", "clip_threshold": 1.0})
        fix = f"Lower the learning rate to {patch['learning_rate']:g}" + (
            " and clip each gradient at norm 1, so a single huge gradient cannot corrupt the optimizer's "
            "moment estimates" if "clipping" in patch else "")
    else:  # the restart that calms the blow-up; SGD keeps a typical rate when clipping bounds the step
        patch, fix = calm_patch(ctx, lower_lr=diverged or ctx.adaptive or lr >= 10 * TYPICAL_LR.get(ctx.optimizer, 1e-3))
        fix = fix[:-1]
    cause, through = _cause(ctx)
    if finite(through):
        evidence.append(f"The gradient at the first time step was at most {through:.3g}x the one at the last "
                        f"(the probe, before the first step and after each epoch).")
    return [Finding(
        CODE, "problem", "Exploding gradients",
        "Gradient norms grow by orders of magnitude (or single steps jump far above the rest). " + cause + hidden,
        evidence,
        {
            "epochs": [r.epoch for r in recs], "grad_pre_mean": means,
            "grad_pre_max": [unit(r, "grad_pre_max") for r in recs],
            "growth": num(growth), "run_growth": num(run_growth), "spikes": [[e, float(x)] for e, x, _ in spikes],
        },
        patch,
        fix + ".",
    )]
