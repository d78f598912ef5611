"""diagnose(history, data) -> list[Finding]: why the weights are (not) updating.

Pure functions of recorded numbers; no widgets, no TensorFlow.

What is judged:
    The latest run (``history.run()``), and within it only the epochs that ran entirely
    after the last change of a training setting (``history.run_markers()``; a change of
    ``epochs`` alone does not count), and of those the last :data:`WINDOW_EPOCHS`. When
    that window holds at least :data:`MIN_TREND_EPOCHS` + 1 epochs the run's first epoch
    is left out (it is a transient: zero-initialised biases move by 100% of their size,
    Adam's moment estimates warm up).

    Checks that look at a trend (loss flat, loss oscillating, weights stalled) need at
    least :data:`MIN_TREND_EPOCHS` epochs in the window; with fewer they stay silent.
    Non-finite numbers, input scales and clipping settings are judged from any epoch.

What comes back:
    * an empty list when the run has recorded no epoch yet (nothing to judge, so nothing
      to say: the UI shows its own "not trained yet");
    * a single "waiting" info finding when a setting changed after the last recorded
      epoch (the new setting cannot be judged before an epoch has run with it);
    * otherwise the findings, most severe first, or a single "healthy" info finding
      when there are none at all.

The update ratio in :class:`~lstm_widgets.history.EpochRecord` is per EPOCH
(||W_end - W_start|| / ||W_end|| over ``record.steps`` gradient steps), while the rule
of thumb it is compared with is per STEP. See :func:`per_step_ratio`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Finding", "SEVERITIES", "CODES", "diagnose", "per_step_ratio"]

#: Most severe last; findings are sorted most severe first.
SEVERITIES = ("info", "warning", "problem")

# ---------------------------------------------------------------------------------------
# Thresholds. Each one says where it comes from. Tests train real runs that land on either
# side of them with a margin (see lstm_widgets/scenarios.py, benchmarks/diagnosis_report.py).
# ---------------------------------------------------------------------------------------

#: Epochs judged: the most recent ones since the last setting change. Five is enough to
#: see a trend and short enough that a fix shows up in the diagnosis a few epochs later.
WINDOW_EPOCHS = 5
#: Epochs needed before a trend (flat, oscillating, stalled) is judged. Fewer are
#: transients: Adam's first steps, the loss falling from its initial value.
MIN_TREND_EPOCHS = 3

#: Healthy update size per gradient STEP, ||dW|| / ||W|| ~ 1e-3: the rule of thumb from
#: practice (Karpathy, CS231n notes, "Neural Networks Part 3": "the ratio of the update
#: magnitudes to the value magnitudes ... should be somewhere around 1e-3").
UPDATE_RATIO_PER_STEP = 1e-3
#: Per-step ratio (see :func:`per_step_ratio`) below which the weights are "far below" the
#: band: 10x under the rule of thumb. Because our per-step estimate is an upper bound,
#: a run flagged here moves its weights at most this much per step.
UPDATE_RATIO_LOW = 1e-4
#: Per-step ratio above which the weights are "far above" the band: 10x over the rule of
#: thumb. Since the estimate is an upper bound this alone is weak evidence (Adam at 3e-3
#: reaches it early on), so lr_too_high also needs the loss to rise or oscillate.
UPDATE_RATIO_HIGH = 1e-2

#: Relative improvement of the loss across the window under which it counts as flat
#: (2% over up to five epochs; a run that learns, even slowly, does 5-30%).
LOSS_FLAT = 0.02
#: An epoch-to-epoch loss increase larger than this (relative) counts as a step up; 2%
#: is above the epoch-to-epoch noise of the mean training loss of a steadily learning run.
LOSS_UP = 0.02
#: Steps up in the window that make the loss "oscillating" (for the validation loss also
#: as many steps down: a zigzag, not the steady rise of overfitting).
LOSS_UPS_OSCILLATING = 2
#: Relative rise of the loss across the window that makes it "rising".
LOSS_RISING = 0.10

#: Growth of the mean pre-clip gradient norm across the window (last / smallest) that
#: counts as exploding: two orders of magnitude in a few epochs is exponential growth,
#: not the usual drift (healthy runs stay within a factor ~5).
EXPLODE_GROWTH = 100.0
#: Largest pre-clip step norm over the epoch's mean norm that counts as a spike. Healthy
#: epochs show 1.2-3x; unscaled data up to ~8x; 50x means single steps far out of line.
EXPLODE_SPIKE = 50.0

#: ||dL/dx_first|| / ||dL/dx_last|| below which the gradient has vanished: float32 holds
#: ~7 significant digits (machine epsilon 1.2e-7), and the recurrent weights' gradient is
#: a SUM over time steps, so a contribution a million times smaller than the last step's
#: is rounding noise in that sum: nothing about the first steps can be learned. (A milder
#: decay, down to ~1e-4 over 40 steps, is normal for forecasting tasks that only need the
#: recent past, so the commonly quoted 1e-3 would raise false alarms there.)
VANISH_RATIO = 1e-6
#: "Dies out within a few steps": the gradient falls below VANISH_REACH_FRACTION of the
#: last step's within VANISH_FEW_STEPS steps of the end (so only the last few inputs can
#: influence learning), on sequences at least VANISH_MIN_LENGTH long.
VANISH_REACH_FRACTION = 1e-3
VANISH_FEW_STEPS = 5
VANISH_MIN_LENGTH = 20
#: Steps averaged for "the first steps" (at least one): the first 10% of the sequence.
VANISH_HEAD_FRACTION = 0.1

#: Share of steps clipped (median over the window) that counts as "nearly every step".
CLIP_MOST = 0.9
#: Mean post-clip norm at most this share of the pre-clip norm: clipping removes >= 90%
#: of the gradient, so it no longer just trims spikes (Pascanu et al. 2013 meant
#: clipping as a guard against rare explosions, not a constant brake).
CLIP_SHRINK = 0.1
#: Relative loss improvement across the window under which progress is "slow" when
#: clipping is that tight (5%: healthy runs in our scenarios do 20% and more).
CLIP_SLOW = 0.05
#: clipping_no_effect: the largest pre-clip norm stays below threshold / CLIP_FAR_ABOVE.
CLIP_FAR_ABOVE = 10.0

#: Input features whose scales (root mean square) differ by this factor or more are
#: "orders of magnitude" apart: after a single Glorot-initialised kernel, the large one
#: dominates every gate's pre-activation and the small one is invisible.
UNSCALED_SPREAD = 100.0
#: A feature whose RMS is above this is large for a recurrent cell: Keras initialises
#: kernels Glorot-uniform (|w| up to sqrt(6 / (inputs + 4 * units)), ~0.4 for 8 units), so
#: |x| ~ 10 already gives pre-activations near the saturation threshold of 3 (see
#: gate_saturation). Standardized data has RMS 1, min-max data at most 1.
UNSCALED_MAGNITUDE = 10.0
#: A regression target whose RMS is above this, left unscaled, is far from anything the
#: network outputs at first: the LSTM's states lie in (-1, 1) and Keras initialises the
#: output layer small, so the first predictions are near 0 and the mean-squared loss starts
#: near RMS^2. Same bound as UNSCALED_MAGNITUDE, for the same reason (weights of order 1).
UNSCALED_TARGET = 10.0
#: Validation mean-squared loss at least this many times that of always predicting the
#: training mean, over the whole judged window: the model is not merely slow, it is worse
#: than no model. A factor, not 1.0, because a healthy run on a hard task (the adding
#: problem) first learns the mean and sits near 1x for several epochs.
WORSE_THAN_MEAN = 2.0
#: Share of gate pre-activations beyond +-3 (sigmoid within 5% of 0 or 1, slope < 0.05;
#: lstm_widgets.probes.SATURATION_THRESHOLD) above which a gate counts as saturated.
SATURATED = 0.5

#: A layer or gate moves less than this share of the fastest one (median update ratio
#: over the window): three orders of magnitude is not "slower", it is stopped.
STALL_RELATIVE = 1e-3
#: ... while the fastest one moves at least this much per epoch (so "others move").
STALL_OTHERS_MOVE = 1e-4

#: Learning-rate multipliers suggested for lr_too_low (enough to reach the per-step band,
#: 10x at least, 100x at most) and the upper bound of any suggested learning rate.
LR_RAISE_MIN, LR_RAISE_MAX, LR_MAX_SUGGESTED = 10.0, 100.0, 1.0
#: Learning rates the optimizers usually start from (Keras defaults; SGD's common 1e-2).
TYPICAL_LR = {"adam": 1e-3, "nadam": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}

#: Order among findings of equal severity: causes before symptoms.
CODES = (
    "nonfinite",
    "exploding_gradients",
    "lr_too_high",
    "unscaled_inputs",
    "unscaled_target",
    "clipping_too_tight",
    "vanishing_gradients",
    "lr_too_low",
    "stalled_weights",
    "worse_than_mean",
    "clipping_no_effect",
    "waiting",
    "healthy",
)


@dataclass
class Finding:
    """One diagnosis.

    Attributes:
        code: A stable identifier, e.g. "exploding_gradients", "healthy".
        severity: "info", "warning" or "problem".
        title: One line, e.g. "Exploding gradients".
        explanation: Plain language: what is happening and why it stops the weights
            from updating.
        evidence: Human-readable lines with the numbers, the epochs and the variables or
            gates they come from.
        data: The raw numbers behind the evidence (JSON-friendly).
        patch: The suggested TrainConfig change, e.g. {"clipping": "clipnorm",
            "clip_threshold": 1.0}; empty when there is nothing to apply.
        fix: One line that says what the patch does.
    """

    code: str
    severity: str
    title: str
    explanation: str
    evidence: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    patch: dict[str, Any] = field(default_factory=dict)
    fix: str = ""


# -- small helpers ---------------------------------------------------------------------------


def per_step_ratio(epoch_ratio: float, steps: int) -> float:
    """Convert a per-epoch update ratio to a per-step one, for the 1e-3 rule of thumb.

    S steps of relative size r move the weights by between r * sqrt(S) (directions
    unrelated, a random walk: the noisy phase of training) and r * S (all steps aligned).
    Dividing by sqrt(S) therefore gives an upper bound of the per-step ratio: a run found
    "too low" with it is certainly too low; "too high" needs more evidence.

    Args:
        epoch_ratio: ||W_end - W_start|| / ||W_end|| over one epoch.
        steps: Gradient steps in that epoch (at least 1 is assumed).
    """
    return float(epoch_ratio) / math.sqrt(max(int(steps or 1), 1))


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _num(x: Any) -> float | None:
    """A JSON-friendly number: None for NaN and infinities."""
    return float(x) if _finite(x) else None


def _median(values) -> float:
    vals = [float(v) for v in values if _finite(v)]
    return float(np.median(vals)) if vals else math.nan


def _nice(x: float) -> float:
    """x rounded to one significant digit (1, 2 or 5 times a power of ten), at least 1e-7."""
    if not _finite(x) or x <= 0:
        return 1.0
    exp = math.floor(math.log10(x))
    mant = x / 10**exp
    step = 1 if mant < 1.5 else 2 if mant < 3.5 else 5 if mant < 7.5 else 10
    return float(f"{max(step * 10**exp, 1e-7):.1g}")


def _clean(x: Any) -> Any:
    """JSON-friendly copy: plain floats/ints/str, NaN and infinities as None."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (bool, str)) or x is None:
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return str(x)


def _fmt(x: Any) -> str:
    return f"{x:.3g}" if _finite(x) else str(x)


def _epochs(recs) -> str:
    if not recs:
        return "no epoch"
    a, b = recs[0].epoch, recs[-1].epoch
    return f"epoch {a}" if a == b else f"epochs {a}-{b}"


def _unit(rec, field_name: str, unit: str = "global") -> float:
    v = rec.units.get(field_name, {}).get(unit, math.nan)
    return float(v) if _finite(v) else math.nan


def _ratio_of(values: dict) -> float:
    """Update ratio from a units/gates dict, with 0 when neither weight nor delta moved."""
    r = values.get("update_ratio", math.nan)
    if _finite(r):
        return float(r)
    d, w = values.get("delta_norm", math.nan), values.get("weight_norm", math.nan)
    if _finite(d) and d == 0.0:
        return 0.0
    if _finite(d) and _finite(w) and w > 0:
        return float(d) / float(w)
    return math.nan


# -- which epochs, which settings ----------------------------------------------------------


def _settings_in_force(records, markers, run_config=None) -> dict[str, Any]:
    settings = dict(run_config or {})
    settings.update(records[-1].settings if records else {})
    last_epoch = records[-1].epoch if records else 0
    for m in markers:
        if m.position >= last_epoch - 1e-9:
            settings[m.setting] = m.new
    return settings


def _window(records, markers) -> tuple[list, Any]:
    """(epochs judged, the last relevant ChangeMarker or None)."""
    relevant = [m for m in markers if m.setting != "epochs"]
    last = max(relevant, key=lambda m: m.position) if relevant else None
    since = records
    if last is not None:
        since = [r for r in records if r.epoch - 1 >= last.position - 1e-9]
    window = since[-WINDOW_EPOCHS:]
    if window and window[0].epoch == 1 and len(window) > MIN_TREND_EPOCHS:
        window = window[1:]
    return window, last


def _loss_trend(window) -> dict[str, Any]:
    """Progress, steps up, zigzag and rise of the train (and validation) loss."""
    loss = [r.loss for r in window if _finite(r.loss)]
    val = [r.val_loss for r in window if r.val_loss is not None and _finite(r.val_loss)]

    def ups_downs(xs):
        ups = sum(1 for a, b in zip(xs, xs[1:]) if b > a * (1 + LOSS_UP))
        downs = sum(1 for a, b in zip(xs, xs[1:]) if b < a * (1 - LOSS_UP))
        return ups, downs

    progress = (loss[0] - loss[-1]) / abs(loss[0]) if len(loss) >= 2 and loss[0] != 0 else math.nan
    ups, _ = ups_downs(loss)
    vups, vdowns = ups_downs(val)
    oscillating = ups >= LOSS_UPS_OSCILLATING or (
        vups >= LOSS_UPS_OSCILLATING and vdowns >= LOSS_UPS_OSCILLATING
    )
    rising = _finite(progress) and progress <= -LOSS_RISING
    return {
        "loss": loss, "val_loss": val, "progress": progress, "ups": ups, "val_ups": vups,
        "val_downs": vdowns, "oscillating": oscillating, "rising": rising,
    }


# -- the checks ------------------------------------------------------------------------------


def _check_nonfinite(run_records, window, settings, status) -> list[Finding]:
    bad = [
        r for r in window
        if r.status == "diverged" or not _finite(r.loss) or sum(r.nonfinite.values()) > 0
    ]
    if not bad and status != "diverged":
        return []
    if not bad:
        bad = [window[-1]]
    first = bad[0]
    evidence = [f"Run status: {status}." if status else "Non-finite numbers recorded."]
    if not _finite(first.loss):
        evidence.append(f"Epoch {first.epoch}: training loss is {first.loss}.")
    if first.val_loss is not None and not _finite(first.val_loss):
        evidence.append(f"Epoch {first.epoch}: validation loss is {first.val_loss}.")
    nf = {v: int(c) for v, c in first.nonfinite.items() if c}
    if nf:
        worst = sorted(nf.items(), key=lambda kv: -kv[1])[:3]
        evidence.append(
            f"Epoch {first.epoch}: non-finite gradient elements in "
            + ", ".join(f"{v} ({c})" for v, c in worst) + "."
        )
    finite_before = [r for r in run_records if r.epoch < first.epoch and _finite(_unit(r, "grad_pre_max"))]
    if finite_before:
        last_ok = finite_before[-1]
        evidence.append(
            f"Epoch {last_ok.epoch} (last finite): loss {_fmt(last_ok.loss)}, largest pre-clip "
            f"gradient norm {_fmt(_unit(last_ok, 'grad_pre_max'))}."
        )
    lr = float(settings.get("learning_rate", 1e-3))
    patch: dict[str, Any] = {"learning_rate": _nice(lr / 10)}
    if settings.get("clipping", "none") == "none":
        patch.update({"clipping": "clipnorm", "clip_threshold": 1.0})
    elif float(settings.get("clip_threshold", 1.0)) > 1.0:
        patch["clip_threshold"] = 1.0
    return [Finding(
        "nonfinite", "problem", "Training diverged: NaN or infinite numbers",
        "The loss or the gradients became NaN or infinite. Once a NaN reaches the weights "
        "every later update is NaN too, so the weights can no longer learn anything: "
        "training stopped. Usually the steps were far too large (a high learning rate, "
        "unscaled inputs, or gradients that exploded without clipping).",
        evidence,
        {
            "epoch": first.epoch, "status": status, "loss": _num(first.loss),
            "nonfinite": nf, "learning_rate": lr, "clipping": settings.get("clipping"),
        },
        patch,
        f"Restart with the learning rate 10x lower ({patch['learning_rate']:g}) and gradient "
        f"clipping at norm {patch.get('clip_threshold', settings.get('clip_threshold'))}.",
    )]


def _check_exploding(window, settings) -> list[Finding]:
    recs = [r for r in window if _finite(_unit(r, "grad_pre_mean")) and _unit(r, "grad_pre_mean") > 0]
    if not recs:
        return []
    means = [_unit(r, "grad_pre_mean") for r in recs]
    growth = means[-1] / min(means[:-1]) if len(recs) >= 2 else math.nan
    spikes = []
    for r, m in zip(recs, means):
        mx = _unit(r, "grad_pre_max")
        if _finite(mx) and mx / m >= EXPLODE_SPIKE:
            spikes.append((r.epoch, mx / m, mx))
    grown = _finite(growth) and growth >= EXPLODE_GROWTH
    if not grown and len(spikes) < 2:
        return []
    clipping = settings.get("clipping", "none")
    evidence = []
    if grown:
        i_min = int(np.argmin(means[:-1]))
        evidence.append(
            f"Mean pre-clip gradient norm grew {growth:.3g}x, from {_fmt(means[i_min])} "
            f"(epoch {recs[i_min].epoch}) to {_fmt(means[-1])} (epoch {recs[-1].epoch})."
        )
    for ep, ratio, mx in spikes[:3]:
        evidence.append(f"Epoch {ep}: one step's gradient norm {_fmt(mx)} was {ratio:.3g}x the epoch's mean.")
    worst = max(
        (u for u in recs[-1].units.get("grad_pre_max", {}) if u != "global"),
        key=lambda u: _unit(recs[-1], "grad_pre_max", u) if _finite(_unit(recs[-1], "grad_pre_max", u)) else -1,
        default=None,
    )
    if worst is not None:
        evidence.append(
            f"Largest in epoch {recs[-1].epoch}: {worst}, pre-clip norm "
            f"{_fmt(_unit(recs[-1], 'grad_pre_max', worst))}."
        )
    lr = float(settings.get("learning_rate", 1e-3))
    opt = settings.get("optimizer", "adam")
    patch: dict[str, Any] = {}
    if clipping == "none":
        patch.update({"clipping": "clipnorm", "clip_threshold": 1.0})
    elif float(settings.get("clip_threshold", 1.0)) > 1.0:
        patch["clip_threshold"] = 1.0
    if lr >= 10 * TYPICAL_LR.get(opt, 1e-3) or not patch:
        patch["learning_rate"] = _nice(lr / 10)
    hidden = " Clipping is on, so the steps taken are bounded, but the pre-clip norms show the " \
        "explosion it is hiding." if clipping != "none" else ""
    fix = "Clip each gradient at norm 1" if "clipping" in patch else (
        "Lower the clip threshold to 1" if "clip_threshold" in patch else "")
    if "learning_rate" in patch:
        fix = (fix + " and lower" if fix else "Lower") + f" the learning rate to {patch['learning_rate']:g}"
    return [Finding(
        "exploding_gradients", "problem", "Exploding gradients",
        "Gradient norms grow by orders of magnitude (or single steps jump far above the "
        "rest). Backpropagation through time multiplies by the recurrent weights at every "
        "step, so once those products exceed 1 the gradient grows exponentially; each "
        "update then throws the weights far away instead of improving them." + hidden,
        evidence,
        {
            "epochs": [r.epoch for r in recs], "grad_pre_mean": means,
            "grad_pre_max": [_unit(r, "grad_pre_max") for r in recs],
            "growth": _num(growth), "spikes": [[e, float(x)] for e, x, _ in spikes],
        },
        patch,
        fix + ".",
    )]


def _check_lr(window, settings, trend, clipping_tight: bool) -> list[Finding]:
    recs = [r for r in window if _finite(_unit(r, "update_ratio"))]
    if len(recs) < MIN_TREND_EPOCHS:
        return []
    epoch_ratios = [_unit(r, "update_ratio") for r in recs]
    step_ratios = [per_step_ratio(x, r.steps) for x, r in zip(epoch_ratios, recs)]
    med = _median(step_ratios)
    lr = float(settings.get("learning_rate", 1e-3))
    steps = int(np.median([r.steps for r in recs]))
    data = {
        "epochs": [r.epoch for r in recs], "update_ratio_epoch": epoch_ratios,
        "update_ratio_step": step_ratios, "steps": steps, "loss": trend["loss"],
        "learning_rate": lr, "optimizer": settings.get("optimizer"),
    }
    ratio_line = (
        f"Update ratio ||dW||/||W||: median {_fmt(_median(epoch_ratios))} per epoch of {steps} "
        f"steps, about {_fmt(med)} per step ({_epochs(recs)}); healthy is near "
        f"{UPDATE_RATIO_PER_STEP:g} per step."
    )
    out = []
    if (trend["oscillating"] or trend["rising"]) and med >= UPDATE_RATIO_HIGH:
        loss_line = "Training loss " + " → ".join(_fmt(x) for x in trend["loss"])
        val_line = "Validation loss " + " → ".join(_fmt(x) for x in trend["val_loss"])
        how = "rising" if trend["rising"] else "oscillating"
        evidence = [ratio_line, f"{loss_line} ({trend['ups']} epochs up by more than {LOSS_UP:.0%})."]
        if trend["val_loss"]:
            evidence.append(
                f"{val_line} ({trend['val_ups']} epochs up, {trend['val_downs']} down by more "
                f"than {LOSS_UP:.0%})."
            )
        sat = {g: _median([r.gate_saturation.get(g) for r in recs]) for g in recs[-1].gate_saturation}
        hot = {g: v for g, v in sat.items() if _finite(v) and v >= SATURATED / 2}
        if hot:
            evidence.append(
                "Gates driven into saturation by the grown weights: "
                + ", ".join(f"{g} {v:.0%}" for g, v in hot.items()) + "."
            )
        new_lr = _nice(lr / 10)
        out.append(Finding(
            "lr_too_high", "problem", "Learning rate too high",
            "Each step changes the weights by much more than the usual ~0.1% and the loss "
            f"is {how} instead of falling: the steps overshoot the minimum and bounce "
            "around it, so the weights keep changing without getting better.",
            evidence, {**data, "trend": how}, {"learning_rate": new_lr},
            f"Lower the learning rate 10x, to {new_lr:g}.",
        ))
    flat = _finite(trend["progress"]) and trend["progress"] < LOSS_FLAT
    if med < UPDATE_RATIO_LOW and flat and not clipping_tight:
        factor = min(max(UPDATE_RATIO_PER_STEP / max(med, 1e-12), LR_RAISE_MIN), LR_RAISE_MAX)
        new_lr = min(_nice(lr * factor), LR_MAX_SUGGESTED)
        if new_lr <= lr:
            return out
        out.append(Finding(
            "lr_too_low", "warning", "Learning rate too low",
            "The weights change by a tiny fraction of their size each step and the loss "
            "stays flat: the optimizer's steps are too small to make progress in any "
            "reasonable number of epochs.",
            [
                ratio_line,
                f"Training loss changed by {trend['progress']:.2%} over {_epochs(window)} "
                f"({_fmt(trend['loss'][0])} → {_fmt(trend['loss'][-1])}).",
                f"Learning rate in force: {lr:g} ({settings.get('optimizer', '?')}).",
            ],
            data, {"learning_rate": new_lr},
            f"Raise the learning rate {new_lr / lr:.3g}x, to {new_lr:g}.",
        ))
    return out


def _feature_scales(window, settings, data) -> tuple[list[str], list[float], str]:
    """(names, RMS per feature, source) of the inputs the model sees."""
    rec = window[-1]
    stats = rec.input_stats or {}
    names = None
    if data is not None and getattr(data, "feature_names", None):
        names = [str(n) for n in data.feature_names]
    if stats.get("mean") and stats.get("std"):
        rms = [math.sqrt(float(m) ** 2 + float(s) ** 2) for m, s in zip(stats["mean"], stats["std"])]
        source = "scaled training inputs (input_stats)"
    elif data is not None and settings.get("scaler", "none") == "none":
        flat = np.asarray(data.X_train, dtype=np.float64).reshape(-1, data.X_train.shape[-1])
        rms = np.sqrt((flat**2).mean(0)).tolist()
        source = "raw training inputs"
    else:
        return [], [], ""
    if not names or len(names) != len(rms):
        names = [f"x{i}" for i in range(len(rms))]
    return names, rms, source


def _check_unscaled(window, settings, data, structure) -> list[Finding]:
    names, rms, source = _feature_scales(window, settings, data)
    if not rms:
        return []
    if structure.get("features") and len(structure["features"]) == len(rms) and data is None:
        names = [str(n) for n in structure["features"]]
    live = [x for x in rms if _finite(x) and x > 1e-12]
    if not live:
        return []
    spread = max(live) / min(live)
    big = [(n, x) for n, x in zip(names, rms) if _finite(x) and x >= UNSCALED_MAGNITUDE]
    if spread < UNSCALED_SPREAD and not big:
        return []
    sat = {g: _median([r.gate_saturation.get(g) for r in window]) for g in window[-1].gate_saturation}
    evidence = [
        "Feature scale (RMS) of the " + source + ": "
        + ", ".join(f"{n} {_fmt(x)}" for n, x in zip(names, rms)) + "."
    ]
    if spread >= UNSCALED_SPREAD:
        evidence.append(f"Largest / smallest feature scale: {spread:.3g}x (alarm at {UNSCALED_SPREAD:g}x).")
    if big:
        evidence.append(
            "Large features: " + ", ".join(f"{n} ({_fmt(x)})" for n, x in big)
            + f"; above {UNSCALED_MAGNITUDE:g} a gate's pre-activation x·W easily passes ±3."
        )
    hot = {g: v for g, v in sat.items() if _finite(v) and v >= SATURATED}
    if sat:
        evidence.append(
            f"Gate saturation on the probe batch ({_epochs(window)}, median): "
            + ", ".join(f"{g} {v:.0%}" for g, v in sat.items() if _finite(v)) + "."
        )
    if data is not None and settings.get("scaler", "none") != "none":
        flat = np.asarray(data.X_train, dtype=np.float64).reshape(-1, data.X_train.shape[-1])
        raw = np.sqrt((flat**2).mean(0))
        evidence.append("Raw feature scales: " + ", ".join(_fmt(float(x)) for x in raw) + ".")
    scaler = settings.get("scaler", "none")
    patch = {"scaler": "standard"} if scaler != "standard" else {}
    return [Finding(
        "unscaled_inputs", "problem", "Input features are not scaled",
        "The input features live on very different scales (or on a large one). The large "
        "feature drives every gate's pre-activation far beyond ±3, where sigmoid and tanh "
        "are flat, so their gradients are ~0 and those weights stop updating; the small "
        "features are drowned out and their weights get almost no gradient either."
        + (f" Here {', '.join(hot)} {'is' if len(hot) == 1 else 'are'} saturated." if hot else ""),
        evidence,
        {
            "features": names, "rms": [_num(x) for x in rms], "spread": _num(spread),
            "saturation": {g: _num(v) for g, v in sat.items()}, "scaler": scaler, "source": source,
        },
        patch,
        "Standardize each feature (fitted on the training split): scaler 'standard'."
        if patch else "Check the features: some are still huge after the standard scaler (outliers?).",
    )]


def _check_clipping(window, settings, trend) -> list[Finding]:
    mode = settings.get("clipping", "none")
    if mode == "none" or not window:
        return []
    threshold = float(settings.get("clip_threshold", 1.0))
    variables = [u for u in window[-1].units.get("grad_pre_mean", {}) if "/" in u]
    out = []
    frac = _median([_unit(r, "clip_fraction") for r in window])
    pre = _median([_unit(r, "grad_pre_mean") for r in window])
    post = _median([_unit(r, "grad_post_mean") for r in window])
    shrink = post / pre if _finite(pre) and pre > 0 and _finite(post) else math.nan
    slow = _finite(trend["progress"]) and trend["progress"] < CLIP_SLOW
    if (
        len(window) >= MIN_TREND_EPOCHS and _finite(frac) and frac >= CLIP_MOST
        and _finite(shrink) and shrink <= CLIP_SHRINK and slow
    ):
        if mode == "clipnorm" and variables:
            typical = _median([max(_unit(r, "grad_pre_mean", v) for v in variables) for r in window])
        elif mode == "global_clipnorm":
            typical = pre
        else:
            typical = threshold * 100
        new = min(max(_nice(2 * typical), _nice(threshold * 10)), 1e6)
        out.append(Finding(
            "clipping_too_tight", "problem", "Gradient clipping is too tight",
            "Nearly every step is clipped, and clipping cuts the gradient to a small "
            "fraction of its size: the optimizer only ever sees a shrunken gradient, so the "
            "weights crawl. Clipping should trim rare spikes, not brake every step.",
            [
                f"{mode} at {threshold:g}: {frac:.0%} of steps clipped ({_epochs(window)}, median).",
                f"Mean gradient norm {_fmt(pre)} before clipping, {_fmt(post)} after "
                f"({shrink:.2%} of it kept).",
                f"Training loss changed by {trend['progress']:.2%} over {_epochs(window)}.",
            ],
            {
                "clipping": mode, "clip_threshold": threshold, "clip_fraction": frac,
                "grad_pre_mean": pre, "grad_post_mean": post, "kept": shrink,
                "progress": _num(trend["progress"]),
            },
            {"clip_threshold": new},
            f"Raise the clip threshold to {new:g}, about twice the typical gradient norm.",
        ))
    if len(window) >= 2:
        fracs = [_unit(r, "clip_fraction", u) for r in window for u in r.units.get("clip_fraction", {})]
        if mode == "clipnorm" and variables:
            largest = max(_unit(r, "grad_pre_max", v) for r in window for v in variables)
        else:
            largest = max(_unit(r, "grad_pre_max") for r in window)
        if all(_finite(f) and f == 0 for f in fracs) and _finite(largest) and largest < threshold / CLIP_FAR_ABOVE:
            new = _nice(max(5 * largest, 1e-6))
            out.append(Finding(
                "clipping_no_effect", "info", "Gradient clipping never engages",
                "The clip threshold is far above every gradient norm seen, so no step was "
                "clipped: clipping costs nothing here but would not protect against a "
                "sudden explosion either. Training itself is not hurt by this.",
                [
                    f"{mode} at {threshold:g}: no step clipped in {_epochs(window)}.",
                    f"Largest pre-clip norm seen: {_fmt(largest)} ({threshold / largest:.3g}x "
                    f"below the threshold).",
                ],
                {"clipping": mode, "clip_threshold": threshold, "largest_pre_norm": largest},
                {"clip_threshold": new},
                f"Lower the threshold to {new:g}, a few times the largest norm seen, so it "
                f"catches spikes.",
            ))
    return out


def _time_profile(gtt) -> dict[str, float] | None:
    g = [float(x) for x in gtt]
    if len(g) < 2 or not all(_finite(x) for x in g) or g[-1] <= 0:
        return None
    head = max(1, int(round(len(g) * VANISH_HEAD_FRACTION)))
    ratio = float(np.mean(g[:head])) / g[-1]
    reach = len(g)
    for back, x in enumerate(reversed(g)):
        if x < VANISH_REACH_FRACTION * g[-1]:
            reach = back
            break
    return {"ratio": ratio, "reach": reach, "length": len(g)}


def _check_vanishing(window, settings) -> list[Finding]:
    profiles = [(r, _time_profile(r.grad_through_time)) for r in window]
    profiles = [(r, p) for r, p in profiles if p is not None]
    if len(profiles) < min(2, len(window)) or not profiles:
        return []
    ratio = _median([p["ratio"] for _, p in profiles])
    reach = int(np.median([p["reach"] for _, p in profiles]))
    length = profiles[-1][1]["length"]
    died = ratio < VANISH_RATIO
    short = length >= VANISH_MIN_LENGTH and reach <= VANISH_FEW_STEPS
    if not (died or short):
        return []
    last = profiles[-1][0]
    g = last.grad_through_time
    evidence = [
        f"||dL/dx_t|| on the probe batch, epoch {last.epoch}: first step {_fmt(g[0])}, "
        f"middle {_fmt(g[len(g) // 2])}, last {_fmt(g[-1])}.",
        f"First {max(1, int(round(length * VANISH_HEAD_FRACTION)))} of {length} steps / last step: "
        f"{ratio:.2g} (median over {_epochs([r for r, _ in profiles])}; float32 resolves ~1e-7).",
        f"The gradient stays within {VANISH_REACH_FRACTION:g} of the last step's for only the "
        f"last {reach} of {length} steps.",
    ]
    patch: dict[str, Any] = {}
    cell = settings.get("cell")
    if cell == "simple_rnn":
        patch = {"cell": "lstm"}
        fix = "Use an LSTM cell: its additive cell state carries the gradient back (needs a restart)."
    elif settings.get("optimizer") == "sgd":
        patch = {"optimizer": "adam", "learning_rate": 1e-3}
        fix = ("Switch to Adam 1e-3: it scales each weight's step by that weight's own gradient "
               "size, so weak long-range signals still move it. If the ratio stays tiny, "
               "shorten the sequences.")
    else:
        fix = "Shorten the sequences (a smaller lookback) or add features that carry the early information."
    return [Finding(
        "vanishing_gradients", "warning", "Vanishing gradients through time",
        "The gradient of the loss with respect to the early inputs is negligible next to "
        "the last step's: each step back multiplies it by a factor below 1 (forget gate, "
        "recurrent weights, saturated activations). The shared recurrent weights then learn "
        "only from the last few steps, so dependencies further back cannot be learned.",
        evidence,
        {
            "ratio": ratio, "reach": reach, "length": length,
            "epochs": [r.epoch for r, _ in profiles],
            "grad_through_time": [_num(x) for x in g],
        },
        patch,
        fix,
    )]


def _check_stalled(window, structure, settings) -> list[Finding]:
    recs = [r for r in window if r.status == "ok"]
    if len(recs) < MIN_TREND_EPOCHS:
        return []
    stalled, data = [], {}
    layers = structure.get("layers") or [
        u for u in recs[-1].units.get("update_ratio", {}) if "/" not in u and u != "global"
    ]
    if len(layers) >= 2:
        fields_ = ("update_ratio", "delta_norm", "weight_norm")
        med = {
            name: _median([_ratio_of({f: r.units.get(f, {}).get(name) for f in fields_}) for r in recs])
            for name in layers
        }
        med = {k: v for k, v in med.items() if _finite(v)}
        top = max(med.values(), default=math.nan)
        if _finite(top) and top >= STALL_OTHERS_MOVE:
            for name, v in med.items():
                if v <= STALL_RELATIVE * top:
                    stalled.append(("layer", name, v, top))
        data["layers"] = med
    gates_data = {}
    for var, per_gate in recs[-1].gates.items():
        if var.rsplit("/", 1)[-1] == "bias":
            continue  # biases of i, c, o start at zero: their ratio is meaningless early
        med = {g: _median([_ratio_of(r.gates.get(var, {}).get(g, {})) for r in recs]) for g in per_gate}
        med = {k: v for k, v in med.items() if _finite(v)}
        gates_data[var] = med
        top = max(med.values(), default=math.nan)
        if not _finite(top) or top < STALL_OTHERS_MOVE:
            continue
        if any(kind == "layer" and var.startswith(name + "/") for kind, name, _, _ in stalled):
            continue
        for g, v in med.items():
            if v <= STALL_RELATIVE * top:
                stalled.append(("gate", f"{var}:{g}", v, top))
    data["gates"] = gates_data
    if not stalled:
        return []
    evidence = [
        f"{kind.capitalize()} {name}: median update ratio {_fmt(v)} per epoch vs {_fmt(top)} for "
        f"the fastest ({_epochs(recs)})."
        for kind, name, v, top in stalled[:6]
    ]
    if len(stalled) > 6:
        evidence.append(f"... and {len(stalled) - 6} more.")
    sat = recs[-1].gate_saturation
    hot = {g: v for g, v in sat.items() if _finite(v) and v >= SATURATED}
    if hot:
        evidence.append("Saturated gates (probe batch): " + ", ".join(f"{g} {v:.0%}" for g, v in hot.items()) + ".")
    patch: dict[str, Any] = {}
    if settings.get("scaler", "none") == "none" and hot:
        patch, fix = {"scaler": "standard"}, "Standardize the inputs so the gates leave saturation."
    elif settings.get("optimizer") == "sgd":
        patch = {"optimizer": "adam", "learning_rate": 1e-3}
        fix = "Switch to Adam 1e-3, which scales each weight's step to its own gradient size."
    else:
        fix = "Look for saturated gates or a layer cut off from the loss; a restart with another seed may help."
    whole_layer = any(kind == "layer" for kind, *_ in stalled)
    return [Finding(
        "stalled_weights", "problem" if whole_layer else "warning",
        "Some weights stopped changing",
        "A layer or gate barely changes while the rest of the model moves: its gradient "
        "is ~0, typically because its activations are saturated (sigmoid/tanh flat) or the "
        "signal to it has vanished. Those weights are effectively frozen.",
        evidence,
        {**data, "stalled": [[k, n, _num(v)] for k, n, v, _ in stalled]},
        patch,
        fix,
    )]


# -- entry point -------------------------------------------------------------------------------


def _healthy(window, trend) -> Finding:
    recs = [r for r in window if _finite(_unit(r, "update_ratio"))]
    steps = [per_step_ratio(_unit(r, "update_ratio"), r.steps) for r in recs]
    evidence = []
    if len(trend["loss"]) >= 2:
        evidence.append(
            f"Training loss {_fmt(trend['loss'][0])} → {_fmt(trend['loss'][-1])} over {_epochs(window)}."
        )
    if steps:
        evidence.append(f"Update ratio about {_fmt(_median(steps))} per step (healthy near {UPDATE_RATIO_PER_STEP:g}).")
    g = window[-1].units.get("grad_pre_mean", {}).get("global")
    if _finite(g):
        evidence.append(f"Mean gradient norm {_fmt(g)} in epoch {window[-1].epoch}; nothing non-finite.")
    return Finding(
        "healthy", "info", "Weights are updating normally",
        "Gradients are finite and steady, every layer and gate is moving, and the update "
        "size is in a sensible band. Nothing here stops the weights from updating.",
        evidence,
        {"epochs": [r.epoch for r in window], "loss": trend["loss"], "update_ratio_step": steps},
    )


def _mean_baseline(data, scale_target: bool) -> float | None:
    """The mean-squared loss, in the model's units, of always predicting the training
    mean, on the validation split (or the training split without one)."""
    y_train = np.asarray(data.y_train, dtype=np.float64)
    y = np.asarray(data.y_val if getattr(data, "y_val", None) is not None else data.y_train, dtype=np.float64)
    mu = y_train.mean(0)
    if scale_target:  # the Trainer standardizes the target with the training split's mean and std
        sd = y_train.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        return float((((y - mu) / sd) ** 2).mean())
    return float(((y - mu) ** 2).mean())


def _check_target(window, settings, data) -> list[Finding]:
    """unscaled_target and worse_than_mean: both need the raw target, so only with data."""
    if data is None or getattr(data, "y_train", None) is None or settings.get("loss", "mse") != "mse":
        return []
    out: list[Finding] = []
    y = np.asarray(data.y_train, dtype=np.float64)
    rms = float(np.sqrt((y**2).mean()))
    scaled = bool(settings.get("scale_target", False))
    losses = [r.loss for r in window if _finite(r.loss)]
    if not scaled and "scale_target" in settings and rms >= UNSCALED_TARGET:
        out.append(Finding(
            "unscaled_target", "problem", "The target is not scaled",
            "The target is in its raw units, far from the outputs of a freshly initialised "
            "network (the LSTM's states lie in -1..1 and the output layer starts small). The "
            "squared error is then dominated by that offset: the output layer has to grow its "
            "weights by orders of magnitude one small optimizer step at a time, while the same "
            "huge error pushes every LSTM gate into saturation, where its weights stop updating.",
            [
                f"Target RMS {rms:.3g} (mean {_fmt(float(y.mean()))}, std {_fmt(float(y.std()))}); "
                f"alarm at {UNSCALED_TARGET:g}.",
                f"Training loss {_fmt(losses[0]) if losses else '?'} → {_fmt(losses[-1]) if losses else '?'} "
                f"over {_epochs(window)}, against a target variance of {_fmt(float(y.var()))}.",
            ],
            {"target_rms": rms, "target_mean": float(y.mean()), "target_std": float(y.std())},
            {"scale_target": True},
            "Standardize the target too (fitted on the training split); predictions are turned "
            "back into the target's units.",
        ))
    if len(window) >= MIN_TREND_EPOCHS:
        baseline = _mean_baseline(data, scaled)
        vals = [r.val_loss if r.val_loss is not None else r.loss for r in window]
        if baseline and baseline > 0 and all(_finite(v) for v in vals):
            worst_best = min(vals)
            if worst_best >= WORSE_THAN_MEAN * baseline:
                which = "validation" if window[-1].val_loss is not None else "training"
                out.append(Finding(
                    "worse_than_mean", "problem", "Worse than always predicting the mean",
                    "Over the last epochs the model never got even as good as a constant "
                    "prediction of the training mean. Its weights are moving, but to no use: "
                    "look at the other findings for why (a step too large for the problem, "
                    "unscaled data, or clipping that lets a too-large learning rate through).",
                    [
                        f"Best {which} loss over {_epochs(window)}: {_fmt(worst_best)}.",
                        f"Always predicting the training mean scores {_fmt(baseline)} "
                        f"(the model is {worst_best / baseline:.3g}x worse; alarm at {WORSE_THAN_MEAN:g}x).",
                    ],
                    {"best_loss": worst_best, "mean_baseline": baseline, "split": which},
                    {},
                    "",
                ))
    return out


def diagnose(history, data=None) -> list[Finding]:
    """Why the latest run's weights are (not) updating, from the recorded numbers.

    Args:
        history: A :class:`~lstm_widgets.history.History` (live, or read back with
            ``History.from_json``).
        data: The raw (unscaled) SequenceData the run trained on, optional. Used for the
            raw feature scales and names. Defaults to None.

    Returns:
        Findings, most severe first; ``[]`` when the latest run has recorded no epoch;
        a single "waiting" info finding when a setting changed after the last epoch; a
        single "healthy" info finding when nothing is found. Every finding's ``patch`` is
        valid for ``TrainConfig.replace(**patch)`` and relative to the settings in force.

    Raises:
        ValueError: ``history`` is not a History-like object.
    """
    if not (hasattr(history, "run") and hasattr(history, "run_markers")):
        raise ValueError(
            f"history must be an lstm_widgets History; got {type(history).__name__}. "
            f"Pass trainer.history (or History.from_json(text))."
        )
    records = history.run()
    if not records:
        return []
    markers = history.run_markers()
    run_info = getattr(history, "runs", {}).get(records[-1].run_id, {})
    settings = _settings_in_force(records, markers, run_info.get("config"))
    window, last_change = _window(records, markers)
    if not window:
        return [Finding(
            "waiting", "info", "Waiting for an epoch with the new settings",
            "A setting changed after the last recorded epoch; the diagnosis judges it once an "
            "epoch has run with it.",
            [f"Changed: {last_change.label} (at {last_change.position:g} on the epoch axis)."],
            _clean({"setting": last_change.setting, "old": last_change.old, "new": last_change.new,
                    "position": last_change.position}),
        )]
    status = run_info.get("status", "")
    structure = getattr(history, "structure", {}) or {}
    finite_window = [r for r in window if r.status == "ok" and _finite(r.loss)]
    trend = _loss_trend(finite_window)

    findings: list[Finding] = []
    findings += _check_nonfinite(records, window, settings, status)
    findings += _check_exploding(window, settings)
    clipping = _check_clipping(finite_window, settings, trend) if finite_window else []
    tight = any(f.code == "clipping_too_tight" for f in clipping)
    findings += _check_lr(finite_window, settings, trend, tight)
    if finite_window:
        findings += _check_unscaled(finite_window, settings, data, structure)
        findings += _check_target(finite_window, settings, data)
        findings += _check_vanishing(finite_window, settings)
        findings += _check_stalled(finite_window, structure, settings)
    findings += clipping
    if last_change is not None:
        for f in findings:
            f.evidence.append(f"Judged on {_epochs(window)}, after the change {last_change.label}.")
    if not findings:
        healthy = _healthy(finite_window or window, trend)
        healthy.data = _clean(healthy.data)
        return [healthy]
    for f in findings:
        f.data = _clean(f.data)
    rank = {c: i for i, c in enumerate(CODES)}
    findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), rank.get(f.code, len(CODES))))
    return findings
