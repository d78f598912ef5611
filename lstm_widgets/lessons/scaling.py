"""Lesson 3's exercise checks: inputs scaled so that the gates work and the weights move,
and a scaler fitted on the training split only (kept apart from :mod:`.checks`, which
holds the single-run checks of lessons 1, 2, 4 and 5)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..diagnosis import thresholds as T
from ..diagnosis.finding import fmt
from ..diagnosis.stats import feature_rms, finite, step_ratio
from ._run import (
    begin,
    beats_mean,
    findings_absent,
    not_diverged,
    result,
    run_of,
    trained,
)
from .result import CheckResult, Criterion

__all__ = ["check_scaling", "check_scaler_fit"]


def _final_val(obj: Any) -> float:
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return float(obj)
    run = run_of(obj, "baseline")
    vals = [r.val_loss for r in run.records if r.val_loss is not None and finite(r.val_loss)]
    if not vals:
        raise ValueError("baseline has no finite validation loss; train it with validation data first.")
    return float(vals[-1])


def check_scaling(lab: Any, baseline: Any = None) -> CheckResult:
    """Lesson 3: are the inputs scaled so that the gates work and the LSTM's weights move?

    Passes when the latest run uses a scaler, the scaled features are on comparable
    scales (largest / smallest RMS below the diagnosis's 100x, none above 10), no gate
    is saturated (median share of pre-activations beyond ±3 below 50%), the recurrent
    layer's weights move at least 1e-4 per step, the diagnosis reports neither unscaled
    inputs nor stalled weights, and (with ``baseline``) the final validation loss is
    below the baseline's.

    Args:
        lab: The Lab (or Trainer, or History) that trained the run.
        baseline: The unscaled run to beat: a Lab, Trainer or History (its latest run's
            last finite validation loss is used) or a number. Defaults to None (no
            comparison).

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``lab`` or ``baseline`` is not a run, or the baseline has no
            validation loss.
    """
    run, findings, early = begin(lab, "check_scaling")
    if early is not None:
        return early
    scaler = (run.settings.scaler or "none")
    last = run.records[-1]
    rms = feature_rms(last.input_stats or {})
    live = [x for x in rms if finite(x) and x > 1e-12]
    spread = max(live) / min(live) if live else math.nan
    big = max(live) if live else math.nan
    max_spread, max_mag = T.UNSCALED_SPREAD, T.UNSCALED_MAGNITUDE
    names = list(getattr(run.data, "feature_names", None) or [f"x{i}" for i in range(len(rms))])
    sat_limit = T.SATURATED
    recent = run.records[-3:]
    sat = {
        g: float(np.median([r.gate_saturation.get(g, 0.0) for r in recent]))
        for g in last.gate_saturation
    }
    rec_layers = [
        l for l, cell in run.history.structure.layer_cell.items() if cell
    ] or [u for u in last.units.get("update_ratio", {}) if "/" not in u and u != "global"][:1]
    layer_ratios = {
        l: float(np.median([
            step_ratio(r, l) for r in recent
        ]))
        for l in rec_layers
    }
    slowest = min(layer_ratios.values(), default=math.nan)
    low = T.UPDATE_RATIO_LOW
    criteria = [
        Criterion(
            "A scaler is on (fitted on the training split)",
            scaler != "none",
            f"scaler {scaler!r}",
            "Choose a scaler: lab.set(scaler='standard').",
        ),
        trained(run),
        not_diverged(run, "Even scaled, the steps are too large: lower the learning rate."),
        Criterion(
            f"The features the model sees are on comparable scales (RMS spread < {max_spread:g}x, "
            f"none above {max_mag:g})",
            finite(spread) and spread < max_spread and big <= max_mag,
            "RMS " + ", ".join(f"{n} {fmt(x)}" for n, x in zip(names, rms)),
            "One feature still dwarfs the others: use 'standard' or 'minmax' so each is scaled on its own.",
        ),
        Criterion(
            f"No gate is saturated (under {sat_limit:.0%} of pre-activations beyond ±3)",
            bool(sat) and all(v < sat_limit for v in sat.values()) if sat else True,
            ", ".join(f"{g} {v:.0%}" for g, v in sat.items()) if sat else "no gate data",
            "Large inputs push the gates into their flat region: scale every feature.",
        ),
        Criterion(
            f"The recurrent layer's weights move (update ratio ≥ {low:g} per step)",
            finite(slowest) and slowest >= low,
            ", ".join(f"{l} {fmt(v)} per step" for l, v in layer_ratios.items()) or "no layer data",
            "The LSTM's weights are frozen: saturated gates pass no gradient. Scale the inputs.",
        ),
        findings_absent(
            findings, ("unscaled_inputs", "stalled_weights"),
            "The diagnosis finds no unscaled inputs and no stalled weights",
            "Scale the inputs with a per-feature scaler.",
        ),
    ]
    criteria.append(beats_mean(run, "Train a few more epochs, or try another scaler."))
    if baseline is not None:
        base = _final_val(baseline)
        vals = [r.val_loss for r in run.records if r.val_loss is not None and finite(r.val_loss)]
        mine = vals[-1] if vals else math.nan
        criteria.append(Criterion(
            "The validation loss beats the unscaled baseline",
            finite(mine) and mine < base,
            f"{fmt(mine)} vs baseline {fmt(base)}",
            "Train a few more epochs, or try another scaler.",
        ))
    return result("check_scaling", criteria, findings)


def check_scaler_fit(scaler: Any, data: Any) -> CheckResult:
    """Lesson 3: was a scikit-learn scaler fitted on the training split only?

    Fits a fresh copy of the same scaler, with the same settings (``sklearn.base.clone``),
    on the training inputs alone and on training plus validation inputs, per feature over
    every time step, and compares every fitted statistic of the learner's scaler with
    both (``mean_`` and ``scale_`` of a StandardScaler, ``data_min_`` and ``data_max_`` of
    a MinMaxScaler, ``center_`` and ``scale_`` of a RobustScaler, ...): one matching
    statistic is not enough, every one must.

    Args:
        scaler: A fitted scikit-learn scaler (2-D input: time steps of every sequence
            stacked, one column per feature).
        data: The SequenceData whose splits it was meant for (with validation data).

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``data`` has no validation split, or ``scaler`` is not a
            scikit-learn scaler (an estimator with fit and transform).
    """
    if not getattr(data, "has_val", False):
        raise ValueError("data has no validation split; pass the SequenceData the scaler is meant for.")
    from sklearn.base import clone

    if not (hasattr(scaler, "fit") and hasattr(scaler, "transform") and hasattr(scaler, "get_params")):
        raise ValueError(
            f"scaler must be a scikit-learn scaler such as StandardScaler, MinMaxScaler or RobustScaler; "
            f"got {type(scaler).__name__}."
        )
    kind = type(scaler).__name__
    n_f = data.n_features
    train = np.asarray(data.X_train, dtype=np.float64).reshape(-1, n_f)
    both = np.concatenate([train, np.asarray(data.X_val, dtype=np.float64).reshape(-1, n_f)])
    ref, leak = clone(scaler).fit(train), clone(scaler).fit(both)
    names = [k for k, v in vars(ref).items()
             if k.endswith("_") and not k.startswith("_") and isinstance(v, np.ndarray) and v.shape == (n_f,)
             and np.issubdtype(v.dtype, np.floating)]
    fitted = bool(names) and all(hasattr(scaler, k) for k in names)
    criteria = [Criterion(
        f"The {kind} is fitted",
        fitted,
        "fitted" if fitted else "not fitted",
        "Call scaler.fit(X_train.reshape(-1, n_features)).",
    )]
    if not fitted:
        return CheckResult("check_scaler_fit", criteria)
    n_in = getattr(scaler, "n_features_in_", None)
    shape_ok = n_in == n_f and all(np.asarray(getattr(scaler, k)).shape == (n_f,) for k in names)
    criteria.append(Criterion(
        "It scales each feature on its own (one statistic per feature)",
        shape_ok,
        f"fitted on {n_in} column(s) for {n_f} feature(s)",
        "Reshape to 2-D first: X.reshape(-1, X.shape[-1]) stacks every time step, one column per feature.",
    ))
    if not shape_ok:
        return CheckResult("check_scaler_fit", criteria)

    def same(attr: str, other) -> bool:
        got, want = np.asarray(getattr(scaler, attr), dtype=np.float64), np.asarray(getattr(other, attr), dtype=np.float64)
        return bool(np.allclose(got, want, rtol=1e-6, atol=1e-9 * (np.abs(want).max() + 1.0)))

    off = [k for k in names if not same(k, ref)]
    from_both = bool(off) and all(same(k, leak) for k in names)
    prefer = ("mean_", "data_min_", "data_max_", "center_", "max_abs_", "scale_")  # what a learner knows by name
    shown = sorted(names, key=lambda k: prefer.index(k) if k in prefer else len(prefer))[:2]
    criteria.append(Criterion(
        "It was fitted on the training split only",
        not off,
        "; ".join(f"fitted {k.rstrip('_')} " + ", ".join(fmt(float(x)) for x in np.ravel(getattr(scaler, k)))
                  + ", training split's " + ", ".join(fmt(float(x)) for x in np.ravel(getattr(ref, k)))
                  for k in shown)
        + ("" if not off else f" (differs: {', '.join(k.rstrip('_') for k in off)})"),
        "It has seen the validation data (its statistics match train + validation): "
        "fit on data.X_train only, then transform both splits."
        if from_both else "Fit it on data.X_train, reshaped to (samples × timesteps, features).",
    ))
    return CheckResult("check_scaler_fit", criteria)
