"""vanishing_gradients: the gradient through time dies out long before the first step."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, median, num, time_profile

CODE = "vanishing_gradients"


def check(ctx) -> list[Finding]:
    window = ctx.finite_window
    if not window or ctx.converged:
        return []  # a model that learned most of what there is needs no more reach than it has
    profiles = [(r, time_profile(r.grad_through_time)) for r in window]
    profiles = [(r, p) for r, p in profiles if p is not None]
    if len(profiles) < min(2, len(window)) or not profiles:
        return []
    ratio = median([p["ratio"] for _, p in profiles])
    reach = int(np.median([p["reach"] for _, p in profiles]))
    length = profiles[-1][1]["length"]
    died = ratio < T.VANISH_RATIO
    short = length >= T.VANISH_MIN_LENGTH and reach <= T.VANISH_FEW_STEPS
    first = median([p["first"] for _, p in profiles])
    steps = [x for _, x in ctx.step_ratios]
    moving = bool(steps) and median(steps) >= T.UPDATE_RATIO_SLOW  # else the learning rate is the story
    stuck = (finite(ctx.vs_mean) and ctx.vs_mean >= T.NOT_LEARNING_SHARE and first < T.VANISH_RATIO_NOT_LEARNING
             and moving and not ctx.unscaled_inputs)
    if not (died or short or stuck):
        return []
    last = profiles[-1][0]
    g = last.grad_through_time
    evidence = [
        f"||dL/dx_t|| on the probe batch, epoch {last.epoch}: first step {fmt(g[0])}, "
        f"middle {fmt(g[len(g) // 2])}, last {fmt(g[-1])}.",
        f"First {max(1, int(round(length * T.VANISH_HEAD_FRACTION)))} of {length} steps / last step: "
        f"{ratio:.2g} (median over {epochs_text([r for r, _ in profiles])}; float32 resolves ~1e-7).",
        f"The gradient stays within {T.VANISH_REACH_FRACTION:g} of the last step's for only the "
        f"last {reach} of {length} steps.",
    ]
    if stuck:
        evidence.append(f"The model has not learned ({ctx.vs_mean:.3g}x the loss of predicting the mean) while its "
                        f"weights do move; the first step gets {first:.2g} of the last step's gradient (under "
                        f"{T.VANISH_RATIO_NOT_LEARNING:g}).")
    # No patch to apply: an LSTM cell carries the gradient further back than a SimpleRNN,
    # but within the epochs a run has it often does not learn a task that needs the far
    # past either (the evaluation corpus: adding and echo over 100 steps), and a patch is
    # only suggested where applying it makes the run better.
    patch: dict[str, Any] = {}
    if ctx.settings.cell == "simple_rnn":
        fix = ("An LSTM (or GRU) cell carries the gradient further back through its additive cell state "
               "(cell='lstm', a restart); a lookback no longer than the task needs helps either cell.")
    else:
        # Not "switch to Adam": the recurrent kernel's gradient is a sum over time steps, and
        # an adaptive optimizer rescales the sum, not the early steps' share of it.
        fix = ("Give the model less to carry: a lookback no longer than the task needs, or the early "
               "information as an input feature of the later steps. A larger learning rate or another "
               "optimizer rescales the whole gradient, not the early steps' share of it.")
    return [Finding(
        CODE, "warning", "Vanishing gradients through time",
        "The gradient of the loss with respect to the early inputs is negligible next to "
        "the last step's: each step back multiplies it by a factor below 1 (forget gate, "
        "recurrent weights, saturated activations). The shared recurrent weights then learn "
        "only from the last few steps, so dependencies further back cannot be learned.",
        evidence,
        {
            "ratio": ratio, "first": first, "reach": reach, "length": length,
            "epochs": [r.epoch for r, _ in profiles],
            "grad_through_time": [num(x) for x in g],
        },
        patch,
        fix,
    )]
