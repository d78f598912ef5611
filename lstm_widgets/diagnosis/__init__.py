"""``diagnose(history, data) -> list[Finding]``: why the weights are (not) updating.

Pure functions of recorded numbers; no widgets, no TensorFlow. A
:class:`~lstm_widgets.diagnosis.context.Context` is built once per call (the epochs
judged, the settings in force, the loss trend); every rule in
:mod:`lstm_widgets.diagnosis.rules` reads it and returns its findings; every threshold
is named, with its source, in :mod:`lstm_widgets.diagnosis.thresholds`; the statistics
the lessons share are in :mod:`lstm_widgets.diagnosis.stats`.

What comes back:
    * an empty list when the run has recorded no epoch yet (nothing to judge, so nothing
      to say: the UI shows its own "not trained yet");
    * a single "waiting" info finding when a setting changed after the last recorded
      epoch (the new setting cannot be judged before an epoch has run with it);
    * otherwise the findings, most severe first, or a single "healthy" info finding
      when there are none at all.
"""

from __future__ import annotations

from . import thresholds as T
from .context import Context
from .finding import SEVERITIES, Finding, clean, epochs_text, fmt
from .rules import RULES
from .stats import finite, median, per_step_ratio, step_ratio

__all__ = ["Finding", "SEVERITIES", "CODES", "diagnose", "step_ratio", "per_step_ratio", "Context", "CachedDiagnosis"]

#: Every finding code, in the order findings of equal severity are listed.
CODES = tuple(rule.CODE for rule in RULES) + ("waiting", "healthy")


def _waiting(ctx: Context) -> Finding:
    m = ctx.last_change
    return Finding(
        "waiting", "info", "Waiting for an epoch with the new settings",
        "A setting changed after the last recorded epoch; the diagnosis judges it once an "
        "epoch has run with it.",
        [f"Changed: {m.label} (at {m.position:g} on the epoch axis)."],
        clean({"setting": m.setting, "old": m.old, "new": m.new, "position": m.position}),
    )


def _healthy(ctx: Context) -> Finding:
    window = ctx.finite_window or ctx.window
    steps = [x for _, x in ctx.step_ratios]
    trend = ctx.trend
    evidence = []
    if len(trend["loss"]) >= 2:
        evidence.append(f"Training loss {fmt(trend['loss'][0])} → {fmt(trend['loss'][-1])} over {epochs_text(window)}.")
    if steps:
        evidence.append(f"Update ratio about {fmt(median(steps))} per step (healthy near {T.UPDATE_RATIO_PER_STEP:g}).")
    g = window[-1].units.get("grad_pre_mean", {}).get("global")
    if finite(g):
        evidence.append(f"Mean gradient norm {fmt(g)} in epoch {window[-1].epoch}; nothing non-finite.")
    if finite(ctx.vs_mean):  # what it was judged against: the loss of no learning
        line = f"Best {ctx.split_name} loss {fmt(ctx.judged_best)}: {ctx.vs_mean:.2g}x that of always predicting the mean"
        if finite(ctx.vs_persistence):
            line += f", {ctx.vs_persistence:.2g}x that of repeating the last value"
        evidence.append(line + ".")
    return Finding(
        "healthy", "info", "Weights are updating normally",
        "Gradients are finite and steady, every layer and gate is moving, and the update "
        "size is in a sensible band. Nothing here stops the weights from updating.",
        evidence,
        clean({"epochs": [r.epoch for r in window], "loss": trend["loss"], "update_ratio_step": steps}),
    )


#: In a run that blew up these findings keep their patches; the others wait (see below).
_DIVERGENCE_PATCHES = ("nonfinite", "exploding_gradients")


def _divergence_first(findings: list[Finding]) -> None:
    """In a run that diverged or whose gradients exploded, only the fixes of the blow-up are
    offered: the other findings were judged on numbers the blow-up distorted, and their
    fixes alone cannot stop it (scaling does not tame a learning rate 100x too high; in the
    corpus, scaling alone left such runs diverging). The blow-up's own fix scales the
    inputs and target where they are unscaled; the rest is judged again once the run
    stays finite."""
    blown = [f for f in findings if f.code in _DIVERGENCE_PATCHES]
    if not blown:
        return
    first = next((f for f in blown if f.code == "nonfinite"), blown[0])
    for f in findings:
        if f.code not in _DIVERGENCE_PATCHES and f.patch:
            f.patch = {}
            f.fix = (f"Fix the blow-up first (see '{first.title}'); this is judged again once the run stays "
                     "finite and its gradients calm down.")


def diagnose(history, data=None) -> list[Finding]:
    """Why the latest run's weights are (not) updating, from the recorded numbers.

    Args:
        history: A :class:`~lstm_widgets.history.History` (live, or read back with
            ``History.from_json``).
        data: The raw (unscaled) SequenceData the run trained on, optional. Used for the
            raw feature scales and the target's scale and baseline. Defaults to None.

    Returns:
        Findings, most severe first; ``[]`` when the latest run has recorded no epoch;
        a single "waiting" info finding when a setting changed after the last epoch; a
        single "healthy" info finding when nothing is found. Every finding's ``patch`` is
        valid for ``TrainConfig.replace(**patch)`` and relative to the settings in force.

    Raises:
        ValueError: ``history`` is not a History-like object.
    """
    if not (hasattr(history, "run") and hasattr(history, "run_markers") and hasattr(history, "runs")):
        raise ValueError(
            f"history must be an lstm_widgets History; got {type(history).__name__}. "
            f"Pass trainer.history (or History.from_json(text))."
        )
    ctx = Context.build(history, data)
    if not ctx.records:
        return []
    if not ctx.window:
        return [_waiting(ctx)]
    findings = [f for rule in RULES for f in rule.check(ctx)]
    if not findings:
        return [_healthy(ctx)]
    _divergence_first(findings)
    if ctx.last_change is not None:
        for f in findings:
            f.evidence.append(f"Judged on {epochs_text(ctx.window)}, after the change {ctx.last_change.label}.")
    for f in findings:
        f.data = clean(f.data)
    rank = {c: i for i, c in enumerate(CODES)}
    findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), rank.get(f.code, len(CODES))))
    return findings


class CachedDiagnosis:
    """``diagnose(history, data)``, computed once per History version.

    The Lab and the monitor view ask it for the findings every time they redraw, and
    ``lab.findings`` asks it too; they all get the same answer without diagnosing twice.
    Safe to call from the training thread and the user's thread at once.

    Args:
        data: The raw SequenceData passed on to :func:`diagnose`. Defaults to None.
    """

    def __init__(self, data=None) -> None:
        import threading

        self.data = data
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._findings: list[Finding] = []

    def __call__(self, history) -> list[Finding]:
        key = (id(history), history.version)
        with self._lock:
            if key != self._key:
                self._findings = diagnose(history, self.data)
                self._key = key
            return list(self._findings)
