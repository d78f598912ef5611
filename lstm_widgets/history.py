"""History: the one owner of everything recorded, epoch by epoch, run by run."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["EpochRecord", "ChangeMarker", "History", "UNIT_FIELDS", "GATE_FIELDS"]

#: Numbers kept per unit (every variable, every layer, and "global"), in gradient-norm
#: or weight-norm units. Means and maxima are over the epoch's steps.
UNIT_FIELDS = (
    "grad_pre_mean",  # mean ||g|| before clipping
    "grad_pre_max",  # max ||g|| before clipping
    "grad_post_mean",  # mean ||g|| after clipping
    "grad_post_max",  # max ||g|| after clipping
    "clip_fraction",  # share of steps where clipping changed this unit's gradient
    "weight_norm",  # ||W|| at the epoch's end
    "delta_norm",  # ||W_end - W_start||
    "update_ratio",  # ||W_end - W_start|| / ||W_end||
)
#: Numbers kept per gate of each gated variable (LSTM i, f, c, o; GRU z, r, h).
GATE_FIELDS = (
    "grad_pre_mean",
    "grad_pre_max",
    "grad_post_mean",
    "grad_post_max",
    "weight_norm",
    "delta_norm",
    "update_ratio",
)


@dataclass
class EpochRecord:
    """Everything measured in one epoch of one run.

    Attributes:
        run_id: The run this epoch belongs to (a restart begins a new run).
        epoch: 1-based epoch number within the run.
        loss: Mean training loss over the epoch's steps (weighted by batch size).
        val_loss: Validation loss at the epoch's end, or None without validation data.
        time_s: Wall time of the epoch, in seconds, instrumentation included.
        steps: Gradient steps taken in the epoch.
        complete: False when the epoch was cut short by stop().
        status: "ok", or "diverged" when the loss, a gradient or a weight was not finite.
        settings: The settings in force at the epoch's end (optimizer, learning_rate,
            momentum, nesterov, clipping, clip_threshold, scaler, scale_target, batch_size).
        units: ``{field: {unit: value}}`` for each of UNIT_FIELDS; a unit is a variable
            name (e.g. "lstm_1/lstm_cell/kernel"), a layer name ("lstm_1") or "global".
        nonfinite: ``{variable: count}`` of non-finite gradient elements over the epoch.
        gates: ``{variable: {gate: {field: value}}}`` for each of GATE_FIELDS.
        grad_through_time: ||dL/dx_t|| per time step t on the fixed probe batch.
        gate_saturation: ``{gate: fraction}`` of the first recurrent layer's input-driven
            gate pre-activations beyond +-3 on the probe batch.
        input_stats: Per-feature mean, std, min and max of the scaled training inputs.
    """

    run_id: int
    epoch: int
    loss: float
    val_loss: float | None
    time_s: float
    steps: int
    complete: bool = True
    status: str = "ok"
    settings: dict[str, Any] = field(default_factory=dict)
    units: dict[str, dict[str, float]] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)
    gates: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    grad_through_time: list[float] = field(default_factory=list)
    gate_saturation: dict[str, float] = field(default_factory=dict)
    input_stats: dict[str, list[float]] = field(default_factory=dict)

    def value(self, field_name: str, unit: str = "global") -> float:
        """One unit number, e.g. ``record.value("update_ratio", "lstm_1")``."""
        return self.units[field_name][unit]

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


@dataclass
class ChangeMarker:
    """A setting that changed during a run.

    Attributes:
        run_id: The run it happened in.
        position: Where on the epoch axis: ``e - 1 + k / steps`` for a change applied
            before batch k of epoch e (epoch e is plotted at x = e).
        setting: The TrainConfig field, e.g. "learning_rate".
        old, new: The values before and after.
        label: A short label for plots, e.g. "lr 0.001 → 0.01".
    """

    run_id: int
    position: float
    setting: str
    old: Any
    new: Any
    label: str


_SHORT = {"learning_rate": "lr", "clip_threshold": "clip", "batch_size": "batch", "scale_target": "scale y"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def marker_label(setting: str, old: Any, new: Any) -> str:
    return f"{_SHORT.get(setting, setting)} {_fmt(old)} → {_fmt(new)}"


class History:
    """Every EpochRecord and ChangeMarker, in order, with the model's structure.

    Appends come from the training thread; readers get consistent copies.

    Attributes:
        records: EpochRecords in the order they were recorded.
        markers: ChangeMarkers in the order they were applied.
        runs: ``{run_id: {"config": dict, "status": str}}``.
        structure: ``{"variables": [...], "layers": [...], "var_layer": {...},
            "layer_cell": {...}, "gated": {variable: [gates]}, "timesteps": int,
            "features": [...]}``, set when the model is built.
    """

    def __init__(self) -> None:
        self.records: list[EpochRecord] = []
        self.markers: list[ChangeMarker] = []
        self.runs: dict[int, dict[str, Any]] = {}
        self.structure: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change, so views can skip redundant redraws

    # -- writing (the trainer) --------------------------------------------------------
    def begin_run(self, run_id: int, config: dict[str, Any]) -> None:
        with self._lock:
            self.runs[run_id] = {"config": dict(config), "status": "training"}
            self.version += 1

    def end_run(self, run_id: int, status: str) -> None:
        with self._lock:
            if run_id in self.runs:
                self.runs[run_id]["status"] = status
            self.version += 1

    def append(self, record: EpochRecord) -> None:
        with self._lock:
            self.records.append(record)
            self.version += 1

    def add_marker(self, marker: ChangeMarker) -> None:
        with self._lock:
            self.markers.append(marker)
            self.version += 1

    # -- reading ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(list(self.records))

    @property
    def latest(self) -> EpochRecord | None:
        return self.records[-1] if self.records else None

    @property
    def run_ids(self) -> list[int]:
        return sorted(self.runs)

    @property
    def current_run(self) -> int | None:
        return max(self.runs) if self.runs else None

    def run(self, run_id: int | None = None) -> list[EpochRecord]:
        """Records of one run (default: the latest run)."""
        run_id = self.current_run if run_id is None else run_id
        return [r for r in list(self.records) if r.run_id == run_id]

    def run_markers(self, run_id: int | None = None) -> list[ChangeMarker]:
        run_id = self.current_run if run_id is None else run_id
        return [m for m in list(self.markers) if m.run_id == run_id]

    def series(self, field_name: str, unit: str = "global", run_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(epochs, values) of one unit field, or of "loss" / "val_loss" / "time_s", for one run."""
        recs = self.run(run_id)
        x = np.array([r.epoch for r in recs], dtype=float)
        if field_name in ("loss", "val_loss", "time_s"):
            y = [getattr(r, field_name) for r in recs]
        else:
            y = [r.units.get(field_name, {}).get(unit, math.nan) for r in recs]
        return x, np.array([math.nan if v is None else v for v in y], dtype=float)

    # -- export -----------------------------------------------------------------------
    def to_frame(self):
        """A pandas DataFrame, one row per epoch record.

        Columns: ``run_id, epoch, loss, val_loss, time_s, steps, complete, status``; one
        column per setting (``optimizer, learning_rate, ...``); ``FIELD[UNIT]`` for each
        unit field and unit (e.g. ``update_ratio[lstm_1]``, ``grad_pre_mean[global]``);
        ``nonfinite[VARIABLE]``; ``FIELD[VARIABLE:GATE]`` for each gate field (e.g.
        ``grad_pre_mean[lstm_1/lstm_cell/kernel:f]``); ``grad_t[T]`` for each time step;
        ``saturation[GATE]``.
        """
        import pandas as pd

        rows = []
        for r in list(self.records):
            row: dict[str, Any] = {
                "run_id": r.run_id, "epoch": r.epoch, "loss": r.loss, "val_loss": r.val_loss,
                "time_s": r.time_s, "steps": r.steps, "complete": r.complete, "status": r.status,
            }
            row.update(r.settings)
            for f, per_unit in r.units.items():
                for u, v in per_unit.items():
                    row[f"{f}[{u}]"] = v
            for var, n in r.nonfinite.items():
                row[f"nonfinite[{var}]"] = n
            for var, per_gate in r.gates.items():
                for gate, vals in per_gate.items():
                    for f, v in vals.items():
                        row[f"{f}[{var}:{gate}]"] = v
            for t, v in enumerate(r.grad_through_time):
                row[f"grad_t[{t}]"] = v
            for gate, v in r.gate_saturation.items():
                row[f"saturation[{gate}]"] = v
            rows.append(row)
        return pd.DataFrame(rows)

    def to_csv(self, path) -> None:
        """Write :meth:`to_frame` as CSV."""
        self.to_frame().to_csv(path, index=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "lstm_widgets.History/1",
            "structure": self.structure,
            "runs": {str(k): v for k, v in self.runs.items()},
            "records": [asdict(r) for r in list(self.records)],
            "markers": [asdict(m) for m in list(self.markers)],
        }

    def to_json(self, path=None) -> str:
        """JSON text of everything recorded (NaN and infinity written as JSON5-style
        ``NaN``/``Infinity``, which Python's json reads back). Writes it to ``path`` if given."""
        text = json.dumps(self.to_dict())
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    @classmethod
    def from_json(cls, text_or_path) -> "History":
        """A History from :meth:`to_json`'s text, or from a file path holding it."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text_or_path, encoding="utf-8") as fh:
                text = fh.read()
        d = json.loads(text)
        if d.get("format") != "lstm_widgets.History/1":
            raise ValueError(f"Not an lstm_widgets History JSON (format {d.get('format')!r}).")
        h = cls()
        h.structure = d["structure"]
        h.runs = {int(k): v for k, v in d["runs"].items()}
        rec_fields = {f.name for f in fields(EpochRecord)}
        h.records = [EpochRecord(**{k: v for k, v in r.items() if k in rec_fields}) for r in d["records"]]
        h.markers = [ChangeMarker(**m) for m in d["markers"]]
        return h
