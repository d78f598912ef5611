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

from ..history import ChangeMarker, EpochRecord, ModelStructure, RunSettings
from . import stats
from . import thresholds as T
from .finding import epochs_text

__all__ = ["Context", "settings_in_force", "judged_window"]


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


def judged_window(records: list[EpochRecord], markers: list[ChangeMarker]) -> tuple[list[EpochRecord], Any]:
    """(epochs judged, the last relevant ChangeMarker or None)."""
    relevant = [m for m in markers if m.setting != "epochs"]
    last = max(relevant, key=lambda m: m.position) if relevant else None
    since = records
    if last is not None:
        since = [r for r in records if r.epoch - 1 >= last.position - 1e-9]
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
        structure: The model's structure.
        data: The raw SequenceData, or None.
        window: The epochs judged (see the module docstring).
        last_change: The last setting change the window follows, or None.
        finite_window: The window's epochs whose status is "ok" and loss finite.
        trend: :func:`~lstm_widgets.diagnosis.stats.loss_trend` of ``finite_window``.
    """

    records: list[EpochRecord]
    markers: list[ChangeMarker]
    settings: RunSettings
    status: str
    structure: ModelStructure
    data: Any = None
    window: list[EpochRecord] = field(default_factory=list)
    last_change: ChangeMarker | None = None
    finite_window: list[EpochRecord] = field(default_factory=list)
    trend: dict[str, Any] = field(default_factory=dict)

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
            structure=history.structure or ModelStructure(), data=data, window=window, last_change=last,
            finite_window=finite_window, trend=stats.loss_trend(finite_window),
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

    # -- shared measures, computed once ------------------------------------------------------
    @cached_property
    def step_ratios(self) -> list[tuple[EpochRecord, float]]:
        """(record, per-step update ratio) for the finite window's epochs that have one."""
        out = []
        for r in self.finite_window:
            x = stats.unit(r, "update_ratio")
            if stats.finite(x):
                out.append((r, stats.per_step_ratio(x, r.steps)))
        return out

    @cached_property
    def clipping_brakes(self) -> dict[str, Any] | None:
        """The clipping measures when clipping brakes every step (nearly every step
        clipped, at most CLIP_SHRINK of the gradient kept, loss progress under CLIP_SLOW),
        else None. ``clipping_too_tight`` reports it; ``lr_too_low`` then stays silent,
        because the step is set by the threshold, not by the learning rate."""
        if self.clipping == "none" or not self.trend_ready:
            return None
        w = self.finite_window
        frac = stats.median([stats.unit(r, "clip_fraction") for r in w])
        pre = stats.median([stats.unit(r, "grad_pre_mean") for r in w])
        post = stats.median([stats.unit(r, "grad_post_mean") for r in w])
        shrink = post / pre if stats.finite(pre) and pre > 0 and stats.finite(post) else math.nan
        progress = self.trend["progress"]
        slow = stats.finite(progress) and progress < T.CLIP_SLOW
        if stats.finite(frac) and frac >= T.CLIP_MOST and stats.finite(shrink) and shrink <= T.CLIP_SHRINK and slow:
            return {"clip_fraction": frac, "grad_pre_mean": pre, "grad_post_mean": post, "kept": shrink,
                    "progress": progress}
        return None
