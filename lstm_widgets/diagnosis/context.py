"""The context every rule judges: built once per ``diagnose()`` call.

What is judged:
    The latest run (``history.run()``), and within it only the epochs that ran entirely
    after the last change of a training setting (``history.run_markers()``; a change of
    ``epochs`` alone does not count), and of those the last WINDOW_EPOCHS. When that
    window holds more than MIN_TREND_EPOCHS epochs, the run's first epoch is left out (it
    is a transient: zero-initialised biases move by 100% of their size, Adam's moment
    estimates warm up).

    Checks that look at a trend (loss flat, loss oscillating, weights stalled) need at
    least MIN_TREND_EPOCHS epochs in the window; with fewer they stay silent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..config import ADAPTIVE_OPTIMIZERS, TYPICAL_LR
from ..history import ChangeMarker, EpochRecord, ModelStructure, RunSettings
from . import stats
from . import thresholds as T
from .finding import epochs_text

#: Where the baselines were measured, in words (EpochRecord.baseline_split).
_SPLIT_NAMES = {"val": "validation", "train": "training", "probe": "probe-batch"}

__all__ = ["Context", "settings_in_force", "judged_window", "since_change"]


def settings_in_force(records: list[EpochRecord], markers: list[ChangeMarker],
                      run_settings: RunSettings | None = None) -> RunSettings:
    """The settings of the last record, with changes made after it applied; settings the
    records do not know are taken from the run's start (older Histories)."""
    settings = records[-1].settings if records else RunSettings()
    if run_settings is not None:
        missing = {k: v for k, v in run_settings.known().items() if getattr(settings, k) is None}
        settings = settings.replace(**missing)
    last_epoch = records[-1].epoch if records else 0
    after = {m.setting: m.new for m in markers if m.position >= last_epoch - 1e-9}
    after = {k: v for k, v in after.items() if k in RunSettings.__dataclass_fields__}
    return settings.replace(**after) if after else settings


def since_change(records: list[EpochRecord], markers: list[ChangeMarker]) -> tuple[list[EpochRecord], Any]:
    """(every epoch that ran entirely after the last change of a training setting, that
    ChangeMarker or None)."""
    relevant = [m for m in markers if m.setting != "epochs"]
    last = max(relevant, key=lambda m: m.position) if relevant else None
    if last is None:
        return list(records), None
    return [r for r in records if r.epoch - 1 >= last.position - 1e-9], last


def judged_window(records: list[EpochRecord], markers: list[ChangeMarker]) -> tuple[list[EpochRecord], Any]:
    """(epochs judged, the last relevant ChangeMarker or None)."""
    since, last = since_change(records, markers)
    window = since[-T.WINDOW_EPOCHS:]
    if window and window[0].epoch == 1 and len(window) > T.MIN_TREND_EPOCHS:
        window = window[1:]
    return window, last


@dataclass
class Context:
    """What every rule reads, computed once.

    Attributes:
        records: Every epoch of the latest run.
        markers: The run's ChangeMarkers.
        settings: The RunSettings in force.
        status: The run's status ("finished", "diverged", ...).
        info: The run's RunInfo (its initial loss and weights' size), or None.
        structure: The model's structure.
        data: The raw SequenceData, or None.
        window: The epochs judged (see the module docstring).
        last_change: The last setting change the window follows, or None.
        finite_window: The window's epochs whose status is "ok" and loss finite.
        trend: :func:`~lstm_widgets.diagnosis.stats.loss_trend` of ``finite_window``.
        since: Every epoch since the last setting change (the first epoch included).
    """

    records: list[EpochRecord]
    markers: list[ChangeMarker]
    settings: RunSettings
    status: str
    structure: ModelStructure
    data: Any = None
    info: Any = None
    window: list[EpochRecord] = field(default_factory=list)
    last_change: ChangeMarker | None = None
    finite_window: list[EpochRecord] = field(default_factory=list)
    trend: dict[str, Any] = field(default_factory=dict)
    since: list[EpochRecord] = field(default_factory=list)

    @classmethod
    def build(cls, history, data=None) -> "Context":
        records = history.run()
        markers = history.run_markers()
        info = history.runs.get(records[-1].run_id) if records else None
        settings = settings_in_force(records, markers, info.settings if info is not None else None)
        window, last = judged_window(records, markers)
        finite_window = [r for r in window if r.status == "ok" and stats.finite(r.loss)]
        return cls(
            records=records, markers=markers, settings=settings,
            status=info.status if info is not None else "",
            structure=history.structure or ModelStructure(), data=data, info=info, window=window, last_change=last,
            finite_window=finite_window, trend=stats.loss_trend(finite_window),
            since=since_change(records, markers)[0],
        )

    # -- settings, with the defaults a rule falls back on ----------------------------------
    @property
    def learning_rate(self) -> float:
        lr = self.settings.learning_rate
        return float(lr) if stats.finite(lr) else 1e-3

    @property
    def optimizer(self) -> str:
        return self.settings.optimizer or "adam"

    @property
    def clipping(self) -> str:
        return self.settings.clipping or "none"

    @property
    def clip_threshold(self) -> float:
        t = self.settings.clip_threshold
        return float(t) if stats.finite(t) else 1.0

    @property
    def trend_ready(self) -> bool:
        """Enough finite epochs in the window to judge a trend."""
        return len(self.finite_window) >= T.MIN_TREND_EPOCHS

    def window_text(self) -> str:
        return epochs_text(self.window)

    @property
    def adaptive(self) -> bool:
        """Adam, RMSprop or Nadam: a step of m / sqrt(v), unchanged when every gradient is
        scaled by a constant (so clipping by norm does not shorten it)."""
        return self.optimizer in ADAPTIVE_OPTIMIZERS

    @property
    def max_learning_rate(self) -> float:
        """The largest learning rate a patch may suggest for the optimizer in force."""
        momentum = float(self.settings.momentum or 0.0) if self.optimizer == "sgd" else 0.0
        return TYPICAL_LR.get(self.optimizer, 1e-3) * T.LR_MAX_FACTOR * (1.0 - momentum)

    @property
    def lr_decayed(self) -> bool:
        """The learning rate in force is at most LR_DECAYED_SHARE of the run's first."""
        first = self.records[0].settings.learning_rate if self.records else None
        now = self.settings.learning_rate
        return stats.finite(first) and stats.finite(now) and first > 0 and now <= T.LR_DECAYED_SHARE * first

    # -- the loss of no learning ---------------------------------------------------------------
    @property
    def baseline_split(self) -> str:
        """Where the baselines were measured ("val", "train", "probe"), "" when unknown."""
        recs = self.finite_window or self.window
        return recs[-1].baseline_split if recs and recs[-1].baseline_loss is not None else ""

    @property
    def split_name(self) -> str:
        """:attr:`baseline_split` in words, for a sentence: "validation", "training" or
        "probe-batch" (``watch()`` judges the loss on the probe batch it is given)."""
        return _SPLIT_NAMES.get(self.baseline_split, self.baseline_split)

    def judged_loss(self, r: EpochRecord) -> float:
        """The loss of ``r`` that is comparable with its baselines (validation, training or
        probe-batch loss, as they were measured); NaN when there is none."""
        split = r.baseline_split
        v = {"val": r.val_loss, "train": r.loss, "probe": r.probe_loss}.get(split)
        return float(v) if stats.finite(v) else math.nan

    @cached_property
    def judged_best(self) -> float:
        """The best comparable loss over the finite window (NaN without baselines)."""
        vals = [self.judged_loss(r) for r in self.finite_window]
        vals = [v for v in vals if stats.finite(v)]
        return min(vals) if vals else math.nan

    @cached_property
    def vs_mean(self) -> float:
        """judged_best / the loss of always predicting the training mean (NaN: unknown)."""
        recs = self.finite_window
        base = recs[-1].baseline_loss if recs else None
        return self.judged_best / base if stats.finite(base) and base > 0 and stats.finite(self.judged_best) else math.nan

    @cached_property
    def vs_persistence(self) -> float:
        """judged_best / the loss of repeating the last value (NaN: none or unknown)."""
        recs = self.finite_window
        base = recs[-1].persistence_loss if recs else None
        return self.judged_best / base if stats.finite(base) and base > 0 and stats.finite(self.judged_best) else math.nan

    @cached_property
    def largest_step(self) -> tuple[float, int]:
        """(the largest update one step applied since the last change, ||ΔW|| / ||W|| over
        all weights, and the epoch it happened in); (NaN, 0) when not measured."""
        best, epoch = math.nan, 0
        for r in self.since:
            x = r.units.get("step_ratio_max", {}).get("global")
            if stats.finite(x) and not (x <= best):
                best, epoch = float(x), r.epoch
        return best, epoch

    @cached_property
    def feature_scales(self) -> tuple[list[str], list[float], str]:
        """(names, RMS per feature, source) of the inputs the model sees; empty when unknown.
        (Known from the inputs alone, so also in a run whose numbers blew up at once.)"""
        if not self.records:
            return [], [], ""
        data = self.data
        with_stats = [r for r in self.records if r.input_stats]
        st = (with_stats[-1] if with_stats else self.records[-1]).input_stats or {}
        if st.get("mean") and st.get("std"):
            scaler = getattr(self.settings, "scaler", None)
            rms = stats.feature_rms(st)
            if scaler == "none":  # recorded as the model saw them: nothing was scaled
                source = "training inputs, unscaled (scaler 'none')"
            elif scaler:
                source = f"training inputs after the {scaler} scaler"
            else:  # watch(): the user's own inputs, on the probe batch
                source = "inputs the model sees (the probe batch)"
        elif data is not None and self.settings.scaler == "none":
            rms, source = stats.raw_feature_rms(data.X_train), "raw training inputs"
        else:
            return [], [], ""
        names = None
        if data is not None and getattr(data, "feature_names", None):
            names = [str(n) for n in data.feature_names]
        elif self.structure.features:
            names = [str(n) for n in self.structure.features]
        if not names or len(names) != len(rms):
            names = [f"x{i}" for i in range(len(rms))]
        return names, rms, source

    @property
    def unscaled_inputs(self) -> bool:
        """The features the model sees lie UNSCALED_SPREAD apart, or one is UNSCALED_MAGNITUDE or more."""
        live = [x for x in self.feature_scales[1] if stats.finite(x) and x > 1e-12]
        return bool(live) and (max(live) / min(live) >= T.UNSCALED_SPREAD or max(live) >= T.UNSCALED_MAGNITUDE)

    @cached_property
    def target_rms(self) -> float:
        """The raw target's root mean square (NaN without the data)."""
        y = getattr(self.data, "y_train", None)
        if y is None:
            return math.nan
        import numpy as np

        return float(np.sqrt((np.asarray(y, dtype=np.float64) ** 2).mean()))

    @property
    def unscaled_target(self) -> bool:
        """A mean-squared loss on a target of RMS UNSCALED_TARGET or more, left unscaled (known
        only to the Trainer, with the data), in a run that has not converged."""
        s = self.settings
        return ((s.loss or "mse") == "mse" and s.scale_target is False and stats.finite(self.target_rms)
                and self.target_rms >= T.UNSCALED_TARGET and not self.converged)

    @property
    def converged(self) -> bool:
        """The run has learned most of what there is: well below the mean baseline and, for
        a windowed series, not behind repeating the last value (the behind_persistence test:
        a forecaster three times behind persistence has not converged, however far below
        the mean it is)."""
        behind = stats.finite(self.vs_persistence) and self.vs_persistence >= T.BEHIND_PERSISTENCE_SHARE
        return stats.finite(self.vs_mean) and self.vs_mean <= T.CONVERGED_SHARE and not behind

    # -- shared measures, computed once ------------------------------------------------------
    @cached_property
    def step_ratios(self) -> list[tuple[EpochRecord, float]]:
        """(record, the mean update per step, ||ΔW_step|| / ||W||, measured) for the finite
        window's epochs that have one."""
        out = []
        for r in self.finite_window:
            x = stats.step_ratio(r)
            if stats.finite(x):
                out.append((r, x))
        return out

    @cached_property
    def clipping_brakes(self) -> dict[str, Any] | None:
        """The clipping measures when clipping brakes every step (nearly every step
        clipped, at most CLIP_SHRINK of the gradient kept, and either the loss progressing
        under CLIP_SLOW or the measured steps below UPDATE_RATIO_SLOW with the loss not
        halving), else None; always None for Adam, RMSprop and Nadam, whose step a smaller
        gradient does not shorten. ``clipping_too_tight`` reports it; ``lr_too_low`` then stays
        silent, because the step is set by the threshold, not by the learning rate."""
        if self.clipping == "none" or not self.trend_ready or self.adaptive:
            return None  # an adaptive step m/sqrt(v) is not shortened by scaling the gradient
        w = self.finite_window
        frac = stats.median([stats.unit(r, "clip_fraction") for r in w])
        pre = stats.median([stats.unit(r, "grad_pre_mean") for r in w])
        post = stats.median([stats.unit(r, "grad_post_mean") for r in w])
        shrink = post / pre if stats.finite(pre) and pre > 0 and stats.finite(post) else math.nan
        progress = self.trend["progress"]
        steps = [x for _, x in self.step_ratios]
        small = bool(steps) and stats.median(steps) < T.UPDATE_RATIO_SLOW
        slow = stats.finite(progress) and (progress < T.CLIP_SLOW or (small and progress < T.LOSS_SLOW))
        if stats.finite(frac) and frac >= T.CLIP_MOST and stats.finite(shrink) and shrink <= T.CLIP_SHRINK and slow:
            return {"clip_fraction": frac, "grad_pre_mean": pre, "grad_post_mean": post, "kept": shrink,
                    "progress": progress}
        return None
