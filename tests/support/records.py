"""Synthetic EpochRecords and Histories, for unit tests of the diagnosis rules at their
thresholds' edges (no training: each test builds exactly the numbers it needs)."""

from __future__ import annotations

import math

import numpy as np

from lstm_widgets.history import ChangeMarker, EpochRecord, History, ModelStructure, RunSettings

VARIABLES = ["lstm_1/lstm_cell/kernel", "lstm_1/lstm_cell/recurrent_kernel", "lstm_1/lstm_cell/bias",
             "output/kernel", "output/bias"]
LAYERS = ["lstm_1", "output"]
STRUCTURE = ModelStructure(
    variables=VARIABLES, layers=LAYERS,
    var_layer={v: v.split("/")[0] for v in VARIABLES}, layer_cell={"lstm_1": "lstm", "output": None},
    gated={v: ["i", "f", "c", "o"] for v in VARIABLES[:3]}, timesteps=20, features=["a", "b"], dataset="synthetic",
)
SETTINGS = RunSettings.from_config(__import__("lstm_widgets").TrainConfig())
SGD = RunSettings.from_config(__import__("lstm_widgets").TrainConfig(optimizer="sgd", learning_rate=0.01))


def record(epoch: int, *, loss: float = 1.0, val_loss: float | None = None, steps: int = 9,
           step_ratio: float = 1e-3, layer_step_ratio: dict | None = None, grad: float = 1.0,
           grad_max: float | None = None, post: float | None = None, clip_fraction: float = 0.0,
           var_grad_max: float | None = None, gates: dict | None = None, grad_through_time=None,
           input_rms=(1.0, 1.0), saturation: dict | None = None, status: str = "ok",
           settings: RunSettings | None = None, nonfinite: int = 0, run_id: int = 1,
           baseline: float | None = None, persistence: float | None = None) -> EpochRecord:
    """One epoch with the given measures; everything else is unremarkable.

    ``step_ratio`` is the measured update per step (mean over the epoch; the largest step
    is 1.5x it; the per-epoch ratio is step_ratio * sqrt(steps)); ``layer_step_ratio``
    overrides it per layer; ``grad`` is the mean pre-clip norm of every unit, ``grad_max``
    its largest step (default 2x), ``post`` the mean post-clip norm (default = grad);
    ``baseline`` / ``persistence`` are the losses of no learning on the validation split
    (``val_loss`` is compared with them).
    """
    grad_max = 2 * grad if grad_max is None else grad_max
    post = grad if post is None else post
    units_names = VARIABLES + LAYERS + ["global"]
    per_layer = {"lstm_1": step_ratio, "output": step_ratio, **(layer_step_ratio or {})}

    def step_of(u):
        return per_layer.get(u, per_layer.get(u.split("/")[0], step_ratio))

    def ratio_of(u):
        return step_of(u) * math.sqrt(steps)

    units = {
        "grad_pre_mean": {u: grad for u in units_names},
        "grad_pre_max": {u: (grad_max if var_grad_max is None or u in LAYERS + ["global"] else var_grad_max)
                         for u in units_names},
        "grad_post_mean": {u: post for u in units_names},
        "grad_post_max": {u: min(grad_max, max(post, grad_max * post / grad)) for u in units_names},
        "clip_fraction": {u: clip_fraction for u in units_names},
        "weight_norm": {u: 1.0 for u in units_names},
        "delta_norm": {u: ratio_of(u) for u in units_names},
        "update_ratio": {u: ratio_of(u) for u in units_names},
        "step_ratio_mean": {u: step_of(u) for u in units_names},
        "step_ratio_max": {u: 1.5 * step_of(u) for u in units_names},
    }
    gates = gates if gates is not None else {
        v: {g: {"grad_pre_mean": grad, "update_ratio": ratio_of(v), "delta_norm": ratio_of(v), "weight_norm": 1.0,
                "step_ratio_mean": step_of(v), "step_ratio_max": 1.5 * step_of(v)}
            for g in "ifco"} for v in VARIABLES[:3]
    }
    gtt = list(np.geomspace(0.5, 1.0, 20)) if grad_through_time is None else list(grad_through_time)
    stats = {"mean": [0.0] * len(input_rms), "std": list(input_rms), "min": [-1.0] * len(input_rms),
             "max": [1.0] * len(input_rms)}
    return EpochRecord(
        run_id=run_id, epoch=epoch, loss=loss, val_loss=val_loss, time_s=0.1, steps=steps, status=status,
        settings=settings or SETTINGS, units=units, nonfinite={v: nonfinite for v in VARIABLES}, gates=gates,
        grad_through_time=gtt, gate_saturation=saturation or {g: 0.0 for g in "ifco"}, input_stats=stats,
        baseline_loss=baseline, persistence_loss=persistence, baseline_split="val" if baseline is not None else "",
    )


def history(records, settings: RunSettings | None = None, status: str = "finished",
            markers=(), structure: ModelStructure | None = None, initial_weight_norm: float | None = None) -> History:
    """A History of one run holding ``records``."""
    h = History()
    h.set_structure(structure or STRUCTURE)
    h.begin_run(1, settings or (records[0].settings if records else SETTINGS), initial_weight_norm=initial_weight_norm)
    for r in records:
        h.append(r)
    for m in markers:
        h.add_marker(m if isinstance(m, ChangeMarker) else ChangeMarker(1, *m))
    h.end_run(1, status)
    return h


def run(n: int = 6, *, losses=None, run_status: str = "finished", run_settings: RunSettings | None = None,
        initial_weight_norm: float | None = None, **kw) -> History:
    """A finished run of ``n`` epochs; ``losses`` per epoch (default: falling 10% an
    epoch); any :func:`record` keyword applies to every epoch (a callable gets the epoch)."""
    losses = losses or [0.9**e for e in range(n)]
    recs = []
    for e in range(1, n + 1):
        args = {k: (v(e) if callable(v) else v) for k, v in kw.items()}
        recs.append(record(e, loss=losses[e - 1], **args))
    return history(recs, settings=run_settings, status=run_status, initial_weight_norm=initial_weight_norm)
