"""The exercise checks of the self-paced lessons in ``notebooks/``.

Each ``check_*`` function looks at what a learner's run recorded (a Lab, a Trainer or a
History) and returns a :class:`~lstm_widgets.lessons.result.CheckResult`. Where the
diagnosis has a threshold or a statistic for the same question, the check uses it (from
:mod:`lstm_widgets.diagnosis.thresholds` and :mod:`lstm_widgets.diagnosis.stats`), so
a check passes exactly when the Lab's diagnosis stops complaining.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..config import TYPICAL_LR
from ..data import DATASETS, SERIES
from ..diagnosis import thresholds as T
from ..diagnosis.finding import fmt
from ..diagnosis.stats import feature_rms, finite, gradient_reach, mean_baseline, step_ratio
from ._run import (
    begin,
    beats_mean,
    diagnose_run,
    findings_absent,
    loss_falls,
    not_diverged,
    result,
    run_of,
    trained,
)
from .result import CheckResult, Criterion

__all__ = [
    "check_clipping",
    "check_learning_rate",
    "check_gradient_reach",
    "check_own_data",
]


# -- lesson 1: clipping -------------------------------------------------------------------------


def check_clipping(lab: Any, mode: str | None = "global_clipnorm", optimizer: str | None = "sgd",
                   learning_rate: float | None = 1.0) -> CheckResult:
    """Lesson 1: did gradient clipping turn an exploding run into one that trains?

    Passes when the latest run clips gradients, trained at least :data:`MIN_EPOCHS`
    epochs without NaN or infinity, the diagnosis reports no exploding gradients, no
    overshooting learning rate and no clipping too tight or without effect, clipping
    engaged in at least one epoch, and the training loss fell by at least 10%.

    It also checks that the run is the one the exercise asks for: clipping ``mode`` with
    plain ``optimizer`` (no momentum) at ``learning_rate``, so lowering the learning rate
    or switching to Adam instead does not pass. None skips that part.

    Args:
        lab: The Lab (or Trainer, or History) that trained the run.
        mode: The clipping mode asked for. Defaults to "global_clipnorm" (lesson 1).
        optimizer: The optimizer asked for (without momentum). Defaults to "sgd".
        learning_rate: The learning rate asked for. Defaults to 1.0.

    Returns:
        A CheckResult; ``result.passed`` says whether it passed.

    Raises:
        ValueError: ``lab`` is not a Lab, Trainer or History.
    """
    run, findings, early = begin(lab, "check_clipping")
    if early is not None:
        return early
    asked_mode = mode
    mode = run.settings.clipping
    threshold = float(run.settings.clip_threshold or 1.0)
    lr = float(run.settings.learning_rate or 1e-3)
    st = run.settings
    wrong = []
    if asked_mode is not None and mode != asked_mode:
        wrong.append(f"clipping {mode!r}, not {asked_mode!r}")
    if optimizer is not None and (st.optimizer != optimizer or float(st.momentum or 0.0) != 0.0):
        wrong.append(f"optimizer {st.optimizer!r}" + (f" with momentum {st.momentum:g}" if st.momentum else "")
                     + f", not plain {optimizer!r}")
    if learning_rate is not None and not math.isclose(lr, learning_rate, rel_tol=1e-9):
        wrong.append(f"learning rate {lr:g}, not {learning_rate:g}")
    asked = ", ".join(x for x in (f"{asked_mode}" if asked_mode else "",
                                  f"plain {optimizer}" if optimizer else "",
                                  f"learning rate {learning_rate:g}" if learning_rate is not None else "") if x)
    fracs = [
        max((v for v in r.units.get("clip_fraction", {}).values() if finite(v)), default=0.0)
        for r in run.records
    ]
    engaged = [r.epoch for r, f in zip(run.records, fracs) if f > 0]
    criteria = [
        Criterion(
            "Gradient clipping is on",
            mode != "none",
            f"clipping {mode!r}" + (f" at {threshold:g}" if mode != "none" else ""),
            "Choose a clipping mode: lab.set(clipping='clipnorm', clip_threshold=...).",
        ),
        *([Criterion(
            f"It is the run the exercise asks for ({asked})",
            not wrong,
            "; ".join(wrong) or "as asked",
            f"Keep {asked} and change only the threshold: lab.set(clipping={asked_mode!r}, clip_threshold=...)"
            if asked_mode else f"Keep {asked}.",
        )] if asked else []),
        trained(run),
        not_diverged(
            run,
            f"The steps are still too large. With SGD a clipped step is at most "
            f"learning_rate × threshold = {lr * threshold:.3g} long: lower the threshold.",
        ),
        findings_absent(
            findings, ("nonfinite", "exploding_gradients"), "The diagnosis finds no exploding gradients",
            "The gradients still explode: lower the clip threshold.",
        ),
        findings_absent(
            findings, ("lr_too_high",), "The loss does not oscillate (no 'learning rate too high')",
            f"Clipped steps of up to {lr * threshold:.3g} (learning_rate × threshold) still "
            f"overshoot: lower the threshold (or the learning rate).",
            quote_fix=False,  # its fix is a lower learning rate; this exercise is about the threshold
        ),
        findings_absent(
            findings, ("clipping_too_tight", "clipping_no_effect"),
            "The threshold is neither far too tight nor far too loose",
            "Aim for a threshold near the typical gradient norm of a healthy epoch.",
        ),
        Criterion(
            "Clipping engaged in at least one epoch",
            bool(engaged),
            f"clipped steps in epoch(s) {', '.join(map(str, engaged[:5]))}"
            + ("…" if len(engaged) > 5 else "") if engaged else "no step was clipped",
            "A threshold above every gradient norm never clips: it cannot stop an explosion. "
            "Lower it.",
        ),
        loss_falls(run, hint="Give it more epochs, or try a smaller threshold so the steps stop overshooting."),
        beats_mean(
            run,
            f"The run is stable but has not learned: with SGD a clipped step is at most learning_rate × "
            f"threshold = {lr * threshold:.3g} long. Too large and it overshoots; too small and it crawls.",
        ),
    ]
    return result("check_clipping", criteria, findings)


# -- lesson 2: learning rate ----------------------------------------------------------------------


def check_learning_rate(lab: Any) -> CheckResult:
    """Lesson 2: does the learning rate fit (neither too low nor too high)?

    Passes when the latest run trained at least :data:`MIN_EPOCHS` epochs without NaN
    or infinity, the diagnosis reports neither "lr_too_low" nor "lr_too_high" (so the
    update ratio per step is not far below 1e-3 with a flat loss, nor far above it with
    an oscillating one), and the training loss fell by at least 10%.

    Args:
        lab: The Lab (or Trainer, or History) that trained the run.

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``lab`` is not a Lab, Trainer or History.
    """
    run, findings, early = begin(lab, "check_learning_rate")
    if early is not None:
        return early
    lr = float(run.settings.learning_rate or 1e-3)
    opt = (run.settings.optimizer or "adam")
    ratios = [
        step_ratio(r) for r in run.records[1:] or run.records if finite(step_ratio(r))
    ]
    med = float(np.median(ratios)) if ratios else math.nan
    low = T.UPDATE_RATIO_LOW
    criteria = [
        trained(run),
        not_diverged(run, f"Learning rate {lr:g} makes the loss blow up: lower it 10x or more."),
        findings_absent(
            findings, ("lr_too_low",), "The weights move (no 'learning rate too low')",
            f"At {lr:g} the weights barely move: raise the learning rate toward {opt}'s usual "
            f"{TYPICAL_LR.get(opt, 1e-3):g}, or up to ten times that for a small model.",
            quote_fix=False,  # its bounded step up (100x at most) can stay too slow for the epochs
        ),
        findings_absent(
            findings, ("lr_too_high", "nonfinite"), "The steps do not overshoot (no 'learning rate too high')",
            f"At {lr:g} the steps overshoot: lower the learning rate (try 10x).",
        ),
        Criterion(
            f"The weights move at least {low:g} of their size per step (healthy is near "
            f"{T.UPDATE_RATIO_PER_STEP:g})",
            finite(med) and low <= med,
            f"median update ratio {fmt(med)} per step with {opt} at {lr:g}",
            "The weights move less than 0.01% per step: raise the learning rate.",
        ),
        loss_falls(run, hint=f"The loss hardly moves at {lr:g}: raise the learning rate."),
        beats_mean(
            run,
            f"The loss is not yet well below guessing the mean: {opt} at {lr:g} has not found the signal "
            f"in these epochs. "
            + ("Plain SGD needs far larger steps here; or try an adaptive optimizer (adam)."
               if opt == "sgd" else "Try a larger learning rate, or more epochs."),
            share=T.TRAINS_SHARE,
        ),
    ]
    return result("check_learning_rate", criteria, findings)


# -- lesson 4: gradient through time ------------------------------------------------------------------


def check_gradient_reach(answer: Any, history: Any) -> CheckResult:
    """Lesson 4: how many of the last time steps does the gradient reach?

    ``answer`` is the learner's count of the last time steps whose ||dL/dx_t|| is at
    least 1e-3 of the last step's, in the last epoch of the latest run of ``history``;
    it passes within one step of :func:`gradient_reach`.

    Args:
        answer: A whole number of time steps.
        history: The History (or Lab, or Trainer) of the run the answer is about.

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``history`` is not a run, or its last epoch has no usable gradient
            through time.
    """
    run, _, early = begin(history, "check_gradient_reach", "history")
    if early is not None:
        return early
    last = run.records[-1]
    truth = gradient_reach(last.grad_through_time)
    length = len(last.grad_through_time)
    whole = isinstance(answer, (int, np.integer)) and not isinstance(answer, bool)
    criteria = [Criterion(
        "The answer is a whole number of time steps",
        whole,
        f"got {answer!r}",
        "Count the steps: answer = an int between 1 and the sequence length.",
    )]
    if whole:
        off = int(answer) - truth
        criteria.append(Criterion(
            f"It matches the reach measured in epoch {last.epoch} (within one step)",
            abs(off) <= 1,
            f"your answer {int(answer)} of {length} steps"
            + ("" if abs(off) <= 1 else f"; {'too many' if off > 0 else 'too few'}"),
            "Walk back from the last step: g = history.latest.grad_through_time; count steps while "
            "g[t] >= 1e-3 * g[-1], and stop at the first one below.",
        ))
    return CheckResult("check_gradient_reach", criteria)


# -- lesson 5: your own data ----------------------------------------------------------------------------


def check_own_data(lab: Any) -> CheckResult:
    """Lesson 5: did your own series train, scaled and windowed, better than a naive guess?

    Passes when the Lab trains on data that is not a built-in dataset, with a
    validation split, through a scaler that leaves the features on comparable scales,
    for at least :data:`MIN_EPOCHS` epochs without NaN, when its validation predictions
    (in the target's own units) beat always predicting the training mean and, for a
    windowed series, repeating the last value (persistence), and when the
    diagnosis reports no problem (severity "problem").

    Args:
        lab: The Lab (or Trainer) that trained on your data.

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``lab`` is not a Lab or Trainer.
    """
    run = run_of(lab, "lab")
    if run.trainer is None:
        raise ValueError(
            f"lab must be a Lab or a Trainer (predictions are needed); got {type(lab).__name__}."
        )
    data = run.data
    builtin = "dataset" in (data.info or {}) and (data.name in DATASETS or data.name in SERIES)
    criteria = [
        Criterion(
            "The data is your own (not a built-in dataset)",
            not builtin,
            f"data {data.name!r}, {len(data.X_train)} training windows of {data.n_timesteps} steps "
            f"x {data.n_features} features",
            "Build a SequenceData from your series: SequenceData.from_series(df, lookback=...), "
            "then Lab(data=...).",
        ),
        Criterion(
            "It has a validation split",
            data.has_val,
            f"{len(data.X_val)} validation windows" if data.has_val else "no validation data",
            "SequenceData.from_series(..., val_fraction=0.2) keeps the last 20% of windows for validation.",
        ),
    ]
    if not run.records:
        criteria.append(trained(run))
        return CheckResult("check_own_data", criteria)
    findings = diagnose_run(run)
    rms = feature_rms(run.records[-1].input_stats or {})
    live = [x for x in rms if finite(x) and x > 1e-12]
    spread = max(live) / min(live) if live else math.nan
    scaler = (run.settings.scaler or "none")
    max_spread, max_mag = T.UNSCALED_SPREAD, T.UNSCALED_MAGNITUDE
    criteria += [
        Criterion(
            "The inputs are scaled to comparable sizes",
            scaler != "none" and finite(spread) and spread < max_spread and max(live, default=0) <= max_mag,
            f"scaler {scaler!r}; feature RMS " + ", ".join(
                f"{n} {fmt(x)}" for n, x in zip(data.feature_names, rms)),
            "Turn on a scaler: lab.set(scaler='standard') (fitted on the training split).",
        ),
        trained(run),
        not_diverged(run, "Lower the learning rate, or turn on clipping."),
    ]
    if data.has_val and run.trainer.model_ is not None and not run.records[-1].diverged:
        pred = run.trainer.predict(data.X_val)
        y_val = np.asarray(data.y_val, dtype=np.float64)
        mse = float(np.mean((pred - y_val) ** 2))
        naive = mean_baseline(data, "val")
        y_rms = float(np.sqrt(np.mean(np.asarray(data.y_train, dtype=np.float64) ** 2)))
        hint = "Train more epochs, or raise the learning rate a little; read lab.findings."
        if not run.settings.scale_target and y_rms > max_mag:
            hint = (
                f"The target is large (RMS {fmt(y_rms)}), while the LSTM's outputs lie in (-1, 1) and "
                f"the output layer starts with small weights: the loss starts enormous and the steps "
                f"cannot close the gap. Scale the target too: lab.set(scale_target=True) (predictions "
                f"are transformed back to the target's units)."
            )
        criteria.append(Criterion(
            "On the validation split it beats always predicting the training mean",
            finite(mse) and mse < naive,
            f"MSE {fmt(mse)} vs {fmt(naive)} for the mean, in the target's units",
            hint,
        ))
        if data.target_features is not None:  # a windowed series: the next value is near the last one
            last = np.asarray(data.X_val, dtype=np.float64)[:, -1, data.target_features]
            persistence = float(np.mean((last.reshape(y_val.shape) - y_val) ** 2))
            criteria.append(Criterion(
                "It also beats repeating the last value (persistence)",
                finite(mse) and mse < persistence,
                f"MSE {fmt(mse)} vs {fmt(persistence)} for repeating the last value",
                "Beating the mean is easy for a series: the next value is near the last one. Train more "
                "epochs or with a higher learning rate, and read lab.findings ('behind_persistence').",
            ))
    problems = None if findings is None else [f for f in findings if f.severity == "problem"]
    if problems is not None:
        criteria.append(Criterion(
            "The diagnosis reports no problem",
            not problems,
            "diagnosis: " + ", ".join(f"{f.code} ({f.severity})" for f in findings),
            (problems[0].fix or problems[0].title) if problems else "",
        ))
    return result("check_own_data", criteria, findings)
