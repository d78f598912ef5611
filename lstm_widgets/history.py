"""History: the one owner of everything recorded, epoch by epoch, run by run."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Sequence

import numpy as np

__all__ = [
    "EpochRecord",
    "ChangeMarker",
    "History",
    "RunSettings",
    "ModelStructure",
    "RunInfo",
    "UNIT_FIELDS",
    "GATE_FIELDS",
    "marker_label",
    "merge_markers",
    "ShownMarker",
]

#: Numbers kept per unit (every variable, every layer, and "global"), in gradient-norm
#: or weight-norm units. Means and maxima are over the epoch's steps.
UNIT_FIELDS = (
    "grad_pre_mean",  # mean ||g|| before clipping
    "grad_pre_max",  # max ||g|| before clipping
    "grad_pre_first",  # ||g|| before clipping at the epoch's first step
    "grad_post_mean",  # mean ||g|| after clipping
    "grad_post_max",  # max ||g|| after clipping
    "clip_fraction",  # share of steps where clipping changed this unit's gradient
    "weight_norm",  # ||W|| at the epoch's end
    "delta_norm",  # ||W_end - W_start||
    "update_ratio",  # ||W_end - W_start|| / ||W_end|| over the whole epoch
    "step_ratio_mean",  # mean over the epoch's steps of ||ΔW_step|| / ||W|| (the update each step applied)
    "step_ratio_max",  # max over the epoch's steps of ||ΔW_step|| / ||W||
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
    "step_ratio_mean",
    "step_ratio_max",
)


#: Settings added after Histories were first saved, with the value every run had before:
#: unit_forget_bias (Keras's default, the only forget bias a model here had until then).
_ADDED_LATER = {"unit_forget_bias": True}


@dataclass(frozen=True)
class RunSettings:
    """The settings in force in one epoch, read the same way whoever recorded them.

    The Trainer knows every TrainConfig setting; ``watch()`` reads what the user's Keras
    optimizer holds and cannot see the scaler, the batch size or the model's own
    settings, which it leaves as None ("not known"). Every field of TrainConfig is here
    (tests check it), plus two that only a user's optimizer can have.

    Attributes:
        optimizer: "adam", "rmsprop", "nadam", "sgd", or a user optimizer's class name
            lower-cased. None when unknown.
        optimizer_class: The Keras class name, e.g. "Adam".
        learning_rate: The learning rate in force (NaN when a schedule cannot be read).
        lr_schedule: True when the learning rate follows a Keras LearningRateSchedule.
        momentum, nesterov: SGD's momentum (0 for other optimizers) and Nesterov flag.
        clipping: "none", "clipnorm", "global_clipnorm" or "clipvalue".
        clip_threshold: The threshold, or None without clipping (watch()).
        scaler, scale_target, batch_size, epochs, pace, units, layers, cell, recurrent_gain,
            unit_forget_bias, loss, seed: As in TrainConfig; None when unknown.
    """

    optimizer: str | None = None
    optimizer_class: str | None = None
    learning_rate: float | None = None
    lr_schedule: bool = False
    momentum: float = 0.0
    nesterov: bool = False
    clipping: str = "none"
    clip_threshold: float | None = None
    scaler: str | None = None
    scale_target: bool | None = None
    epochs: int | None = None
    pace: float | None = None
    batch_size: int | None = None
    units: int | None = None
    layers: int | None = None
    cell: str | None = None
    recurrent_gain: float | None = None
    unit_forget_bias: bool | None = None
    loss: str | None = None
    seed: int | None = None

    @classmethod
    def from_config(cls, config) -> "RunSettings":
        """The settings of a TrainConfig."""
        from .config import OPTIMIZER_CLASSES

        return cls(optimizer_class=OPTIMIZER_CLASSES[config.optimizer], **config.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "RunSettings":
        """From :meth:`to_dict` (or an older History's settings dict); unknown keys are
        dropped. A Trainer's run saved before a setting existed (its model settings known,
        that one missing) was made with the value every run had then (_ADDED_LATER)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in (d or {}).items() if k in names}
        if values.get("cell") is not None:
            for k, v in _ADDED_LATER.items():
                values.setdefault(k, v)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> "RunSettings":
        return replace(self, **changes)

    def to_config(self):
        """The TrainConfig closest to these settings (what is not known takes the default;
        the scaler "none" when unknown, as a user's own fit scales or not before the kit
        sees it), or None when the optimizer is not one TrainConfig knows. Used to print
        Keras code for what was recorded and for a finding's patch."""
        from .config import CLIPPING_MODES, OPTIMIZERS, SETTINGS, TrainConfig

        if self.optimizer not in OPTIMIZERS:
            return None
        known = {s.name: getattr(self, s.name) for s in SETTINGS if getattr(self, s.name, None) is not None}
        known.setdefault("scaler", "none")
        lr = known.get("learning_rate")
        if lr is None or not (math.isfinite(lr) and 0 < lr <= 10):
            known.pop("learning_rate", None)
        if known.get("clipping") not in CLIPPING_MODES or known.get("clipping") == "none":
            known.pop("clip_threshold", None)
        known["momentum"] = min(max(float(known.get("momentum") or 0.0), 0.0), 0.999)
        try:
            return TrainConfig(**known)
        except ValueError:
            return None

    def known(self) -> dict[str, Any]:
        """The settings that are known (not None), as a dict."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ModelStructure:
    """What the model is made of, as recorded when it was built (or first watched).

    Attributes:
        variables: Each trainable variable's ``variable.path`` without the model's name
            (e.g. "lstm_1/lstm_cell/kernel"), in model order.
        layers: The layers that own them, in model order.
        var_layer: ``{variable: layer}``.
        layer_cell: ``{layer: "lstm" | "gru" | "simple_rnn" | None}``.
        gated: ``{variable: [gates]}`` for the variables split per gate.
        timesteps: Time steps per input sequence, or None when unknown.
        features: One name per input feature.
        dataset: The data's (or the watched model's) name.
        source: "trainer" or "watch".
        notes: Plain-language notes on what could not be measured.
    """

    variables: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    var_layer: dict[str, str] = field(default_factory=dict)
    layer_cell: dict[str, str | None] = field(default_factory=dict)
    gated: dict[str, list[str]] = field(default_factory=dict)
    timesteps: int | None = None
    features: list[str] = field(default_factory=list)
    dataset: str = ""
    source: str = "trainer"
    notes: list[str] = field(default_factory=list)

    @property
    def recurrent_layers(self) -> list[str]:
        """The layers with an LSTM, GRU or SimpleRNN cell, in model order."""
        return [name for name in self.layers if self.layer_cell.get(name)]

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ModelStructure":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunInfo:
    """One run of a History.

    Attributes:
        settings: The settings it began with.
        status: "training", "finished", "stopped", "diverged" or "error".
        initial_loss: The loss before the first step (the first check of a run), or None.
        zero_loss: The loss of predicting 0 everywhere on the same samples: what a freshly
            initialised network (outputs near 0) is expected to score. None when unknown.
        initial_weight_norm: ||W|| over all trainable weights before the first step (the
            size a first epoch that blows up leaves no record of). None when unknown.
        initial_grad_through_time: ||dL/dx_t|| per time step on the probe batch before the
            first step (what a run that explodes in its first epoch leaves no record of in
            its epochs); [] when not probed.
    """

    settings: RunSettings = field(default_factory=RunSettings)
    status: str = "training"
    initial_loss: float | None = None
    zero_loss: float | None = None
    initial_weight_norm: float | None = None
    initial_grad_through_time: list[float] = field(default_factory=list)


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
        settings: The :class:`RunSettings` in force at the epoch's end.
        units: ``{field: {unit: value}}`` for each of UNIT_FIELDS; a unit is a variable
            name (e.g. "lstm_1/lstm_cell/kernel"), a layer name ("lstm_1") or "global".
        nonfinite: ``{variable: count}`` of non-finite gradient elements over the epoch.
        gates: ``{variable: {gate: {field: value}}}`` for each of GATE_FIELDS.
        grad_through_time: ||dL/dx_t|| per time step t on the fixed probe batch.
        gate_saturation: ``{gate: fraction}`` of the first recurrent layer's input-driven
            gate pre-activations beyond +-3 on the probe batch.
        input_stats: Per-feature mean, std, min and max of the scaled training inputs.
        baseline_loss: The loss of no learning, always predicting the training targets'
            mean, on ``baseline_split``, in the model's units; None when unknown.
        persistence_loss: For a windowed series, the loss of repeating the target's last
            value, on the same split; None when it does not apply.
        baseline_split: Where the baselines were computed: "val", "train" or "probe"
            (watch(): the probe batch, against ``probe_loss``).
        probe_loss: The model's loss on the fixed probe batch at the epoch's end.
    """

    run_id: int
    epoch: int
    loss: float
    val_loss: float | None
    time_s: float
    steps: int
    complete: bool = True
    status: str = "ok"
    settings: RunSettings = field(default_factory=RunSettings)
    units: dict[str, dict[str, float]] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)
    gates: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    grad_through_time: list[float] = field(default_factory=list)
    gate_saturation: dict[str, float] = field(default_factory=dict)
    input_stats: dict[str, list[float]] = field(default_factory=dict)
    baseline_loss: float | None = None
    persistence_loss: float | None = None
    baseline_split: str = ""
    probe_loss: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EpochRecord":
        """An EpochRecord from ``dataclasses.asdict(record)`` (History JSON, a sweep's
        stream); unknown keys are ignored, so newer records read in older code."""
        kw = {k: v for k, v in d.items() if k in _RECORD_FIELDS}
        kw["settings"] = RunSettings.from_dict(kw.get("settings"))
        return cls(**kw)

    def value(self, field_name: str, unit: str = "global") -> float:
        """One unit number, e.g. ``record.value("update_ratio", "lstm_1")``."""
        return self.units[field_name][unit]

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


_RECORD_FIELDS = frozenset(f.name for f in fields(EpochRecord))


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


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def marker_label(setting: str, old: Any, new: Any) -> str:
    """A change marker's label, e.g. "lr 0.001 → 0.01" (short names from config.SETTINGS)."""
    from .config import SETTING

    short = SETTING[setting].short if setting in SETTING else ""
    return f"{short or setting} {_fmt(old)} → {_fmt(new)}"


@dataclass
class ShownMarker:
    """A change marker as drawn: where, and its (possibly merged) label."""

    position: float
    label: str


def merge_markers(markers: Sequence, window: float = 1.0) -> list:
    """Change markers as they are best drawn: a run of changes to one setting within
    ``window`` epochs (a slider moved step by step) becomes one marker "lr 0.001 → 0.002"
    at the first change; changes at the same position are joined in one label."""
    runs: list[list] = []
    for m in markers:
        last = runs[-1] if runs else None
        if last and last[0].setting == m.setting and float(m.position) - float(last[-1].position) <= window:
            last.append(m)
        else:
            runs.append([m])
    shown: list[ShownMarker] = []
    for run in runs:
        label = marker_label(run[0].setting, run[0].old, run[-1].new)
        pos = float(run[0].position)
        if shown and abs(shown[-1].position - pos) < 1e-6:
            shown[-1].label += "; " + label
        else:
            shown.append(ShownMarker(pos, label))
    return shown


_FORMAT = "lstm_widgets.History/2"
_FORMAT_1 = "lstm_widgets.History/1"


class History:
    """Every EpochRecord and ChangeMarker, in order, with the model's structure.

    Appends come from the training thread; readers get consistent copies.

    Attributes:
        records: EpochRecords in the order they were recorded.
        markers: ChangeMarkers in the order they were applied.
        runs: ``{run_id: RunInfo}``: the settings each run began with and its status.
        structure: The :class:`ModelStructure`, set when the model is built.
    """

    def __init__(self) -> None:
        self.records: list[EpochRecord] = []
        self.markers: list[ChangeMarker] = []
        self.runs: dict[int, RunInfo] = {}
        self.structure = ModelStructure()
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change, so views can skip redundant redraws

    # -- writing (the trainer) --------------------------------------------------------
    def begin_run(self, run_id: int, settings: RunSettings, initial_loss: float | None = None,
                  zero_loss: float | None = None, initial_weight_norm: float | None = None,
                  initial_grad_through_time: list[float] | None = None) -> None:
        with self._lock:
            self.runs[run_id] = RunInfo(settings, "training", initial_loss, zero_loss, initial_weight_norm,
                                        list(initial_grad_through_time or []))
            self.version += 1

    def end_run(self, run_id: int, status: str) -> None:
        with self._lock:
            if run_id in self.runs:
                self.runs[run_id].status = status
            self.version += 1

    def set_structure(self, structure: ModelStructure) -> None:
        with self._lock:
            self.structure = structure
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

    def run_status(self, run_id: int | None = None) -> str:
        """The status of a run (default: the latest), "" when there is none."""
        run_id = self.current_run if run_id is None else run_id
        info = self.runs.get(run_id)
        return info.status if info is not None else ""

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
            row.update(r.settings.to_dict())
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
            "format": _FORMAT,
            "structure": self.structure.to_dict(),
            "runs": {str(k): {"settings": v.settings.to_dict(), "status": v.status, "initial_loss": v.initial_loss,
                              "zero_loss": v.zero_loss, "initial_weight_norm": v.initial_weight_norm,
                              "initial_grad_through_time": v.initial_grad_through_time}
                     for k, v in self.runs.items()},
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
        if d.get("format") not in (_FORMAT, _FORMAT_1):
            raise ValueError(f"Not an lstm_widgets History JSON (format {d.get('format')!r}).")
        h = cls()
        h.structure = ModelStructure.from_dict(d["structure"])
        h.runs = {
            # format 1 kept the settings a run began with under "config"
            int(k): RunInfo(RunSettings.from_dict(v.get("settings", v.get("config"))), v.get("status", ""),
                            v.get("initial_loss"), v.get("zero_loss"), v.get("initial_weight_norm"),
                            list(v.get("initial_grad_through_time") or []))
            for k, v in d["runs"].items()
        }
        h.records = [EpochRecord.from_dict(r) for r in d["records"]]
        h.markers = [ChangeMarker(**m) for m in d["markers"]]
        return h
