"""Checks for the exercises of the self-paced lessons in ``notebooks/``.

Each ``check_*`` function looks at what a learner's run recorded (a Lab, a Trainer or a
History) and returns a :class:`CheckResult`: every criterion with ✓ or ✗ and the
numbers it was judged on, and, when something failed, a hint. A result displays itself
in a notebook (HTML) and as plain text, which says "PASSED" or "NOT YET".

Where the diagnosis has a threshold for the same question, the check uses it (the
update-ratio band, the feature-scale spread, gate saturation, the reach of the gradient
through time), so a check passes exactly when the Lab's diagnosis stops complaining.

Example:
    >>> lab.set(clipping="clipnorm", clip_threshold=0.1)
    >>> lab.restart(start=False); lab.train(wait=True)
    >>> check_clipping(lab)
    check_clipping: PASSED ...
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from . import diagnosis
from .data import DATASETS
from .diagnosis import per_step_ratio

__all__ = [
    "Criterion",
    "CheckResult",
    "check_clipping",
    "check_learning_rate",
    "check_scaling",
    "check_scaler_fit",
    "check_gradient_reach",
    "check_own_data",
    "gradient_reach",
    "findings_markdown",
    "sample_csv_path",
    "MIN_EPOCHS",
]

#: Epochs a run needs before a check judges it: the diagnosis leaves out the first epoch
#: and needs three more to see a trend (diagnosis.MIN_TREND_EPOCHS), plus one to spare.
MIN_EPOCHS = 5
#: Share by which the loss must fall from the first recorded epoch to the last for
#: "the loss falls": 10%, clearly above epoch-to-epoch noise (see diagnosis.LOSS_FLAT).
LOSS_MUST_FALL = 0.10


def _threshold(name: str) -> float:
    """A threshold of the diagnosis, e.g. "UPDATE_RATIO_LOW"."""
    return float(getattr(diagnosis, name))


# -- results ------------------------------------------------------------------------------


@dataclass
class Criterion:
    """One thing a check looks at.

    Attributes:
        text: What must hold, e.g. "The run did not diverge".
        passed: Whether it holds.
        detail: The numbers it was judged on, e.g. "loss 0.36 → 0.14".
        hint: What to try when it does not hold.
    """

    text: str
    passed: bool
    detail: str = ""
    hint: str = ""

    @property
    def mark(self) -> str:
        return "✓" if self.passed else "✗"

    def line(self) -> str:
        return f"{self.mark} {self.text}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class CheckResult:
    """The outcome of an exercise check.

    Attributes:
        name: The check, e.g. "check_clipping".
        criteria: Every criterion, in the order checked.
        notes: Extra lines shown under the criteria (e.g. "diagnosis not available").
    """

    name: str
    criteria: list[Criterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every criterion holds."""
        return bool(self.criteria) and all(c.passed for c in self.criteria)

    @property
    def hint(self) -> str:
        """The hint of the first criterion that does not hold ("" when all hold)."""
        for c in self.criteria:
            if not c.passed:
                return c.hint
        return ""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        head = f"{self.name}: {'PASSED' if self.passed else 'NOT YET'}"
        lines = [head] + [f"  {c.line()}" for c in self.criteria] + [f"  {n}" for n in self.notes]
        if not self.passed and self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour = "#2ca02c" if self.passed else "#d62728"
        verdict = "PASSED" if self.passed else "NOT YET"
        rows = "".join(
            f"<li style='list-style:none'><span style='color:{'#2ca02c' if c.passed else '#d62728'}'>"
            f"{c.mark}</span> {html.escape(c.text)}"
            + (f" <span style='color:var(--jp-ui-font-color2, #666)'>({html.escape(c.detail)})</span>"
               if c.detail else "")
            + "</li>"
            for c in self.criteria
        )
        notes = "".join(f"<div><i>{html.escape(n)}</i></div>" for n in self.notes)
        hint = (
            f"<div style='margin-top:4px'><b>Hint:</b> {html.escape(self.hint)}</div>"
            if not self.passed and self.hint else ""
        )
        return (
            f"<div class='lw-check' style='border-left:4px solid {colour}; padding:4px 8px'>"
            f"<b>{html.escape(self.name)}: <span style='color:{colour}'>{verdict}</span></b>"
            f"<ul style='margin:4px 0; padding-left:4px'>{rows}</ul>{notes}{hint}</div>"
        )


# -- reading a run ----------------------------------------------------------------------------


@dataclass
class _Run:
    history: Any
    records: list
    settings: dict
    data: Any = None
    trainer: Any = None
    status: str = ""


def _run_of(obj: Any, name: str = "run") -> _Run:
    """The latest run of a Lab, a Trainer or a History, or run ``run_id`` of ``(history, run_id)``."""
    run_id = None
    if isinstance(obj, tuple) and len(obj) == 2:
        obj, run_id = obj
    trainer = getattr(obj, "trainer", None)
    if trainer is None and hasattr(obj, "model_") and hasattr(obj, "history"):
        trainer = obj  # a Trainer
    history = getattr(obj, "history", obj)
    if not (hasattr(history, "run") and hasattr(history, "runs")):
        raise ValueError(
            f"{name} must be a Lab, a Trainer or a History; got {type(obj).__name__}. "
            f"Pass the lab you trained, e.g. check(lab)."
        )
    if run_id is not None and run_id not in history.runs:
        raise ValueError(f"{name}: run {run_id!r} is not in that History; its runs are {history.run_ids}.")
    records = history.run(run_id)
    run_info = history.runs.get(records[-1].run_id, {}) if records else {}
    settings = dict(run_info.get("config", {}))
    if records:
        settings.update(records[-1].settings)
    if trainer is not None:
        settings.update(trainer.config.to_dict())
    data = getattr(obj, "data", None) if trainer is None else trainer.data
    return _Run(history, records, settings, data, trainer, run_info.get("status", ""))


def _diagnose(run: _Run) -> list | None:
    """The diagnosis of the run, or None while the diagnosis is not available."""
    try:
        return diagnosis.diagnose(run.history, run.data)
    except NotImplementedError:
        return None


def _fmt(x: Any) -> str:
    return f"{x:.3g}" if isinstance(x, (int, float)) and math.isfinite(x) else str(x)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _trained(run: _Run, epochs: int = MIN_EPOCHS) -> Criterion:
    n = len(run.records)
    return Criterion(
        f"The latest run trained at least {epochs} epochs",
        n >= epochs,
        f"{n} epoch(s) recorded in run {run.records[-1].run_id}" if n else "nothing recorded yet",
        f"Train longer: lab.set(epochs={max(epochs, 10)}), then lab.restart(start=False) and "
        f"lab.train(wait=True).",
    )


def _not_diverged(run: _Run, hint: str) -> Criterion:
    bad = [r for r in run.records if r.diverged or not _finite(r.loss)]
    ok = bool(run.records) and not bad and run.status != "diverged"
    detail = (
        f"epoch {bad[0].epoch}: loss {_fmt(bad[0].loss)}" if bad
        else f"every loss finite, last {_fmt(run.records[-1].loss)}" if run.records else "no epoch"
    )
    return Criterion("No NaN or infinity: the run did not diverge", ok, detail, hint)


def _loss_falls(run: _Run, share: float = LOSS_MUST_FALL, hint: str = "") -> Criterion:
    losses = [r.loss for r in run.records if _finite(r.loss)]
    if len(losses) < 2:
        return Criterion(f"The training loss falls by at least {share:.0%}", False, "too few epochs", hint)
    drop = (losses[0] - losses[-1]) / abs(losses[0]) if losses[0] else 0.0
    return Criterion(
        f"The training loss falls by at least {share:.0%}",
        drop >= share,
        f"{_fmt(losses[0])} → {_fmt(losses[-1])}, {'fell' if drop >= 0 else 'rose'} {abs(drop):.0%}",
        hint,
    )


def _naive_loss(run: _Run) -> float:
    """The training loss of always predicting the training targets' mean (median for
    "mae"), in the units the model is trained in (standardized when scale_target)."""
    y = np.asarray(run.data.y_train, dtype=np.float64)
    if run.settings.get("scale_target"):
        y = (y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0)
    loss = run.settings.get("loss", "mse")
    if loss == "mae":
        return float(np.mean(np.abs(y - np.median(y, axis=0))))
    err = np.abs(y - y.mean(0))
    if loss == "huber":  # Keras's Huber, delta 1
        return float(np.mean(np.where(err <= 1.0, 0.5 * err**2, err - 0.5)))
    return float(np.mean(err**2))


def _beats_mean(run: _Run, hint: str) -> Criterion | None:
    """The last epoch's training loss is below that of always predicting the mean."""
    if run.data is None or not run.records:
        return None
    naive = _naive_loss(run)
    loss = run.records[-1].loss
    return Criterion(
        "The final training loss beats always predicting the mean target",
        _finite(loss) and loss < naive,
        f"{_fmt(loss)} vs {_fmt(naive)} for the mean",
        hint,
    )


def _findings_absent(
    findings: list | None, codes: tuple[str, ...], text: str, hint: str, quote_fix: bool = True
) -> Criterion | None:
    """Holds when the diagnosis reports none of ``codes``; the hint quotes the finding's
    fix unless ``quote_fix`` is False (when the exercise rules that fix out)."""
    if findings is None:
        return None
    hits = [f for f in findings if f.code in codes]
    detail = "diagnosis: " + ", ".join(f.code for f in findings) if findings else "diagnosis: nothing yet"
    if hits and hits[0].fix and quote_fix:
        hint = f"{hint} The diagnosis suggests: {hits[0].fix}"
    return Criterion(text, not hits, detail, hint)


def _result(name: str, criteria: list, findings: list | None) -> CheckResult:
    notes = []
    if findings is None:
        notes.append("The diagnosis is not available yet, so the criteria that rely on it were skipped.")
    return CheckResult(name, [c for c in criteria if c is not None], notes)


# -- lesson 1: clipping -------------------------------------------------------------------------


def check_clipping(lab: Any) -> CheckResult:
    """Lesson 1: did gradient clipping turn an exploding run into one that trains?

    Passes when the latest run clips gradients, trained at least :data:`MIN_EPOCHS`
    epochs without NaN or infinity, the diagnosis reports no exploding gradients, no
    overshooting learning rate and no clipping too tight or without effect, clipping
    engaged in at least one epoch, and the training loss fell by at least 10%.

    Args:
        lab: The Lab (or Trainer, or History) that trained the run.

    Returns:
        A CheckResult; ``result.passed`` says whether it passed.

    Raises:
        ValueError: ``lab`` is not a Lab, Trainer or History.
    """
    run = _run_of(lab, "lab")
    if not run.records:
        return CheckResult("check_clipping", [_trained(run)])
    findings = _diagnose(run)
    mode = run.settings.get("clipping", "none")
    threshold = float(run.settings.get("clip_threshold", 1.0))
    lr = float(run.settings.get("learning_rate", 1e-3))
    fracs = [
        max((v for v in r.units.get("clip_fraction", {}).values() if _finite(v)), default=0.0)
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
        _trained(run),
        _not_diverged(
            run,
            f"The steps are still too large. With SGD a clipped step is at most "
            f"learning_rate × threshold = {lr * threshold:.3g} long: lower the threshold.",
        ),
        _findings_absent(
            findings, ("nonfinite", "exploding_gradients"), "The diagnosis finds no exploding gradients",
            "The gradients still explode: lower the clip threshold.",
        ),
        _findings_absent(
            findings, ("lr_too_high",), "The loss does not oscillate (no 'learning rate too high')",
            f"Clipped steps of up to {lr * threshold:.3g} (learning_rate × threshold) still "
            f"overshoot: lower the threshold (or the learning rate).",
            quote_fix=False,  # its fix is a lower learning rate; this exercise is about the threshold
        ),
        _findings_absent(
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
        _loss_falls(run, hint="Give it more epochs, or try a smaller threshold so the steps stop overshooting."),
        _beats_mean(
            run,
            f"The run is stable but has not learned: with SGD a clipped step is at most learning_rate × "
            f"threshold = {lr * threshold:.3g} long. Too large and it overshoots; too small and it crawls.",
        ),
    ]
    return _result("check_clipping", criteria, findings)


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
    run = _run_of(lab, "lab")
    if not run.records:
        return CheckResult("check_learning_rate", [_trained(run)])
    findings = _diagnose(run)
    lr = float(run.settings.get("learning_rate", 1e-3))
    opt = run.settings.get("optimizer", "adam")
    ratios = [
        per_step_ratio(r.value("update_ratio"), r.steps) for r in run.records[1:] or run.records
        if _finite(r.units.get("update_ratio", {}).get("global"))
    ]
    med = float(np.median(ratios)) if ratios else math.nan
    low = _threshold("UPDATE_RATIO_LOW")
    criteria = [
        _trained(run),
        _not_diverged(run, f"Learning rate {lr:g} makes the loss blow up: lower it 10x or more."),
        _findings_absent(
            findings, ("lr_too_low",), "The weights move (no 'learning rate too low')",
            f"At {lr:g} the weights barely move: raise the learning rate (try 10x-100x).",
        ),
        _findings_absent(
            findings, ("lr_too_high", "nonfinite"), "The steps do not overshoot (no 'learning rate too high')",
            f"At {lr:g} the steps overshoot: lower the learning rate (try 10x).",
        ),
        Criterion(
            f"The weights move at least {low:g} of their size per step (healthy is near "
            f"{diagnosis.UPDATE_RATIO_PER_STEP:g})",
            _finite(med) and low <= med,
            f"median update ratio {_fmt(med)} per step with {opt} at {lr:g}",
            "The weights move less than 0.01% per step: raise the learning rate.",
        ),
        _loss_falls(run, hint=f"The loss hardly moves at {lr:g}: raise the learning rate."),
        _beats_mean(
            run,
            f"The loss is no better than guessing the mean: {opt} at {lr:g} has not found the signal. "
            + ("Plain SGD needs far larger steps here; or try an adaptive optimizer (adam)."
               if opt == "sgd" else "Try a larger learning rate, or more epochs."),
        ),
    ]
    return _result("check_learning_rate", criteria, findings)


# -- lesson 3: scaling ----------------------------------------------------------------------------


def _rms(stats: dict) -> list[float]:
    return [math.sqrt(float(m) ** 2 + float(s) ** 2) for m, s in zip(stats.get("mean", []), stats.get("std", []))]


def _final_val(obj: Any) -> float:
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return float(obj)
    run = _run_of(obj, "baseline")
    vals = [r.val_loss for r in run.records if r.val_loss is not None and _finite(r.val_loss)]
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
    run = _run_of(lab, "lab")
    if not run.records:
        return CheckResult("check_scaling", [_trained(run)])
    findings = _diagnose(run)
    scaler = run.settings.get("scaler", "none")
    last = run.records[-1]
    rms = _rms(last.input_stats or {})
    live = [x for x in rms if _finite(x) and x > 1e-12]
    spread = max(live) / min(live) if live else math.nan
    big = max(live) if live else math.nan
    max_spread, max_mag = _threshold("UNSCALED_SPREAD"), _threshold("UNSCALED_MAGNITUDE")
    names = list(getattr(run.data, "feature_names", None) or [f"x{i}" for i in range(len(rms))])
    sat_limit = _threshold("SATURATED")
    recent = run.records[-3:]
    sat = {
        g: float(np.median([r.gate_saturation.get(g, 0.0) for r in recent]))
        for g in last.gate_saturation
    }
    rec_layers = [
        l for l, cell in (run.history.structure.get("layer_cell") or {}).items() if cell
    ] or [u for u in last.units.get("update_ratio", {}) if "/" not in u and u != "global"][:1]
    layer_ratios = {
        l: float(np.median([
            per_step_ratio(r.units.get("update_ratio", {}).get(l, math.nan), r.steps) for r in recent
        ]))
        for l in rec_layers
    }
    slowest = min(layer_ratios.values(), default=math.nan)
    low = _threshold("UPDATE_RATIO_LOW")
    criteria = [
        Criterion(
            "A scaler is on (fitted on the training split)",
            scaler != "none",
            f"scaler {scaler!r}",
            "Choose a scaler: lab.set(scaler='standard').",
        ),
        _trained(run),
        _not_diverged(run, "Even scaled, the steps are too large: lower the learning rate."),
        Criterion(
            f"The features the model sees are on comparable scales (RMS spread < {max_spread:g}x, "
            f"none above {max_mag:g})",
            _finite(spread) and spread < max_spread and big <= max_mag,
            "RMS " + ", ".join(f"{n} {_fmt(x)}" for n, x in zip(names, rms)),
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
            _finite(slowest) and slowest >= low,
            ", ".join(f"{l} {_fmt(v)} per step" for l, v in layer_ratios.items()) or "no layer data",
            "The LSTM's weights are frozen: saturated gates pass no gradient. Scale the inputs.",
        ),
        _findings_absent(
            findings, ("unscaled_inputs", "stalled_weights"),
            "The diagnosis finds no unscaled inputs and no stalled weights",
            "Scale the inputs with a per-feature scaler.",
        ),
    ]
    criteria.append(_beats_mean(run, "Train a few more epochs, or try another scaler."))
    if baseline is not None:
        base = _final_val(baseline)
        vals = [r.val_loss for r in run.records if r.val_loss is not None and _finite(r.val_loss)]
        mine = vals[-1] if vals else math.nan
        criteria.append(Criterion(
            "The validation loss beats the unscaled baseline",
            _finite(mine) and mine < base,
            f"{_fmt(mine)} vs baseline {_fmt(base)}",
            "Train a few more epochs, or try another scaler.",
        ))
    return _result("check_scaling", criteria, findings)


def check_scaler_fit(scaler: Any, data: Any) -> CheckResult:
    """Lesson 3: was a scikit-learn scaler fitted on the training split only?

    Compares the fitted statistics (``mean_``/``scale_`` of a StandardScaler, or
    ``data_min_``/``data_max_`` of a MinMaxScaler) with those of the training inputs
    alone and of training plus validation inputs, per feature, over every time step.

    Args:
        scaler: A fitted StandardScaler or MinMaxScaler (2-D input: time steps of every
            sequence stacked, one column per feature).
        data: The SequenceData whose splits it was meant for (with validation data).

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``data`` has no validation split, or the scaler is not a
            StandardScaler or MinMaxScaler.
    """
    if not getattr(data, "has_val", False):
        raise ValueError("data has no validation split; pass the SequenceData the scaler is meant for.")
    n_f = data.n_features
    train = np.asarray(data.X_train, dtype=np.float64).reshape(-1, n_f)
    both = np.concatenate([train, np.asarray(data.X_val, dtype=np.float64).reshape(-1, n_f)])
    if hasattr(scaler, "mean_") or (hasattr(scaler, "with_mean") and hasattr(scaler, "with_std")):
        kind, attr = "StandardScaler", "mean_"
        stat = lambda a: a.mean(0)  # noqa: E731
        spread = train.std(0)
    elif hasattr(scaler, "data_min_") or hasattr(scaler, "feature_range"):
        kind, attr = "MinMaxScaler", "data_min_"
        stat = lambda a: a.min(0)  # noqa: E731
        spread = train.max(0) - train.min(0)
    else:
        raise ValueError(
            f"scaler must be a scikit-learn StandardScaler or MinMaxScaler; got {type(scaler).__name__}."
        )
    fitted = hasattr(scaler, attr)
    criteria = [Criterion(
        f"The {kind} is fitted",
        fitted,
        "fitted" if fitted else "not fitted",
        "Call scaler.fit(X_train.reshape(-1, n_features)).",
    )]
    if fitted:
        got = np.asarray(getattr(scaler, attr), dtype=np.float64).ravel()
        shape_ok = got.shape == (n_f,)
        criteria.append(Criterion(
            "It scales each feature on its own (one statistic per feature)",
            shape_ok,
            f"{got.size} statistic(s) for {n_f} feature(s)",
            "Reshape to 2-D first: X.reshape(-1, X.shape[-1]) stacks every time step, one column per feature.",
        ))
        if shape_ok:
            tol = 1e-3 * np.where(spread > 0, spread, 1.0)
            from_train = np.all(np.abs(got - stat(train)) <= tol)
            from_both = np.all(np.abs(got - stat(both)) <= tol) and not from_train
            name = attr.rstrip("_")
            criteria.append(Criterion(
                "It was fitted on the training split only",
                bool(from_train),
                f"fitted {name} " + ", ".join(_fmt(x) for x in got)
                + "; training split's " + ", ".join(_fmt(x) for x in stat(train)),
                "It has seen the validation data (its statistics match train + validation): "
                "fit on data.X_train only, then transform both splits."
                if from_both else "Fit it on data.X_train, reshaped to (samples × timesteps, features).",
            ))
    return CheckResult("check_scaler_fit", criteria)


# -- lesson 4: gradient through time ------------------------------------------------------------------


def gradient_reach(grad_through_time: Any, fraction: float | None = None) -> int:
    """How many of the last time steps still get a usable gradient.

    Counts back from the last step while ||dL/dx_t|| stays at least ``fraction`` of the
    last step's (the diagnosis's definition of "reach").

    Args:
        grad_through_time: ||dL/dx_t|| per time step, e.g. ``record.grad_through_time``.
        fraction: The share of the last step's gradient that still counts. Defaults to
            the diagnosis's VANISH_REACH_FRACTION, 1e-3.

    Returns:
        The number of steps, from 1 (only the last) to the sequence length (all of them).

    Raises:
        ValueError: fewer than one value, a non-finite value, or a last value of 0.
    """
    g = np.asarray(grad_through_time, dtype=np.float64).ravel()
    if g.size == 0 or not np.all(np.isfinite(g)) or g[-1] <= 0:
        raise ValueError(
            "grad_through_time must be finite norms per time step with a positive last value; "
            f"got {g.size} value(s). Use history.latest.grad_through_time of a run that did not diverge."
        )
    fraction = _threshold("VANISH_REACH_FRACTION") if fraction is None else float(fraction)
    reach = 0
    for x in g[::-1]:
        if x < fraction * g[-1]:
            break
        reach += 1
    return reach


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
    run = _run_of(history, "history")
    if not run.records:
        return CheckResult("check_gradient_reach", [_trained(run, 1)])
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
    (in the target's own units) beat always predicting the training mean, and when the
    diagnosis reports no problem (severity "problem").

    Args:
        lab: The Lab (or Trainer) that trained on your data.

    Returns:
        A CheckResult.

    Raises:
        ValueError: ``lab`` is not a Lab or Trainer.
    """
    run = _run_of(lab, "lab")
    if run.trainer is None:
        raise ValueError(
            f"lab must be a Lab or a Trainer (predictions are needed); got {type(lab).__name__}."
        )
    data = run.data
    builtin = "dataset" in (data.info or {}) and data.name in DATASETS
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
        criteria.append(_trained(run))
        return CheckResult("check_own_data", criteria)
    findings = _diagnose(run)
    rms = _rms(run.records[-1].input_stats or {})
    live = [x for x in rms if _finite(x) and x > 1e-12]
    spread = max(live) / min(live) if live else math.nan
    scaler = run.settings.get("scaler", "none")
    max_spread, max_mag = _threshold("UNSCALED_SPREAD"), _threshold("UNSCALED_MAGNITUDE")
    criteria += [
        Criterion(
            "The inputs are scaled to comparable sizes",
            scaler != "none" and _finite(spread) and spread < max_spread and max(live, default=0) <= max_mag,
            f"scaler {scaler!r}; feature RMS " + ", ".join(
                f"{n} {_fmt(x)}" for n, x in zip(data.feature_names, rms)),
            "Turn on a scaler: lab.set(scaler='standard') (fitted on the training split).",
        ),
        _trained(run),
        _not_diverged(run, "Lower the learning rate, or turn on clipping."),
    ]
    if data.has_val and run.trainer.model_ is not None and not run.records[-1].diverged:
        pred = run.trainer.predict(data.X_val)
        y_val = np.asarray(data.y_val, dtype=np.float64)
        mse = float(np.mean((pred - y_val) ** 2))
        naive = float(np.mean((y_val - np.asarray(data.y_train, dtype=np.float64).mean(0)) ** 2))
        y_rms = float(np.sqrt(np.mean(np.asarray(data.y_train, dtype=np.float64) ** 2)))
        hint = "Train more epochs, or raise the learning rate a little; read lab.findings."
        if not run.settings.get("scale_target") and y_rms > max_mag:
            hint = (
                f"The target is large (RMS {_fmt(y_rms)}), while the LSTM's outputs lie in (-1, 1) and "
                f"the output layer starts with small weights: the loss starts enormous and the steps "
                f"cannot close the gap. Scale the target too: lab.set(scale_target=True) (predictions "
                f"are transformed back to the target's units)."
            )
        criteria.append(Criterion(
            "On the validation split it beats always predicting the training mean",
            _finite(mse) and mse < naive,
            f"MSE {_fmt(mse)} vs {_fmt(naive)} for the mean, in the target's units",
            hint,
        ))
    problems = None if findings is None else [f for f in findings if f.severity == "problem"]
    if problems is not None:
        criteria.append(Criterion(
            "The diagnosis reports no problem",
            not problems,
            "diagnosis: " + ", ".join(f"{f.code} ({f.severity})" for f in findings),
            (problems[0].fix or problems[0].title) if problems else "",
        ))
    return _result("check_own_data", criteria, findings)


def findings_markdown(findings: list, evidence: bool = True) -> str:
    """The diagnosis as Markdown, for ``IPython.display.Markdown`` in a lesson.

    Args:
        findings: What :func:`lstm_widgets.diagnosis.diagnose` (or ``lab.findings``) returned.
        evidence: Also list each finding's evidence lines and fix. Defaults to True.
    """
    if not findings:
        return "*No diagnosis yet: nothing has been trained.*"
    parts = []
    for f in findings:
        parts.append(f"**{f.title}** ({f.severity}, `{f.code}`): {f.explanation}")
        if evidence:
            parts += [f"  - {line}" for line in f.evidence]
            if f.fix:
                parts.append(f"  - *Fix:* {f.fix}" + (f" (patch `{f.patch}`)" if f.patch else ""))
    return "\n".join(f"- {p}" if not p.startswith("  ") else p for p in parts)


def sample_csv_path(name: str = "energy.csv") -> str:
    """The path of a small CSV shipped with lstm_widgets, for lesson 5.

    Args:
        name: The file in ``lstm_widgets/datasets/``. Defaults to "energy.csv": 720
            hourly rows (30 days) of a building's electric load in kW, the outdoor
            temperature in °C and its occupancy (people), made by
            ``lstm_widgets/datasets/make_energy_csv.py``.

    Raises:
        ValueError: there is no such file.
    """
    path = resources.files("lstm_widgets").joinpath("datasets", name)
    if not path.is_file():
        shipped = sorted(
            p.name for p in resources.files("lstm_widgets").joinpath("datasets").iterdir()
            if p.name.endswith(".csv")
        )
        raise ValueError(f"No shipped CSV named {name!r}; the shipped ones are: {', '.join(shipped)}.")
    return str(path)
