"""The one place an EpochRecord is built, for the Trainer and for ``watch()`` alike.

A :class:`Recorder` owns the in-graph instruments of one model (the gradient
accumulators, the weight tracker and the gradient-through-time probe), turns what they
hold at an epoch's end into an :class:`~lstm_widgets.history.EpochRecord` (per-unit
and per-gate tables, the divergence test), appends it to the History and hands it to
the subscribers. Whoever trains (the Trainer's own loop, or a user's ``model.fit``
watched by the Monitor) only says when an epoch begins and ends and what settings were
in force; every consumer then reads records of one layout.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable

import numpy as np

from ..history import EpochRecord, History, ModelStructure, RunSettings
from .instrument import GradientStats
from .probes import VariableLayout, WeightTracker

__all__ = ["Recorder", "Subscribers", "epoch_tables", "is_diverged"]

log = logging.getLogger("lstm_widgets")

#: Subscriber errors kept (the latest ones).
_KEEP_ERRORS = 20


class Subscribers:
    """Callbacks that must never break training: one that raises is logged, its error
    kept in :attr:`errors` (the latest 20), and the others still run.

    Attributes:
        errors: ``(callback name, exception)`` pairs, oldest first.
    """

    def __init__(self, errors: list | None = None) -> None:
        self._fns: list[Callable[[Any], Any]] = []
        self.errors: list[tuple[str, BaseException]] = [] if errors is None else errors

    def add(self, fn: Callable[[Any], Any]) -> Callable:
        self._fns.append(fn)
        return fn

    def remove(self, fn: Callable[[Any], Any]) -> None:
        """Stop calling ``fn`` (nothing happens if it was not added)."""
        if fn in self._fns:
            self._fns.remove(fn)

    def __call__(self, arg: Any) -> None:
        for fn in list(self._fns):
            try:
                fn(arg)
            except Exception as exc:  # a broken subscriber must never kill training
                self.errors.append((getattr(fn, "__name__", repr(fn)), exc))
                del self.errors[:-_KEEP_ERRORS]
                log.exception("lstm_widgets: subscriber %r failed", fn)


def is_diverged(loss: float, val_loss: float | None, units: dict, nonfinite: dict) -> bool:
    """True when the loss, the validation loss, a gradient element or a weight is not finite."""
    return (
        not math.isfinite(loss)
        or sum(nonfinite.values()) > 0
        or not math.isfinite(units["weight_norm"]["global"])
        or (val_loss is not None and not math.isfinite(val_loss))
    )


class Recorder:
    """Builds, stores and announces one EpochRecord per epoch of one model.

    Args:
        history: The History to append to.
        layout: The model's VariableLayout.
        probe: A compiled probe from :func:`~lstm_widgets.engine.probes.make_time_probe`,
            or None (no gradient through time).
        probe_xy: The fixed probe batch ``(x, y)`` as tensors, with ``probe``.
        errors: A list to keep subscriber errors in (shared with the owner). Defaults to
            a new one.
        instruments: False records only the loss, the validation loss and the time (the
            bare loop of benchmarks/overhead.py). Defaults to True.
        stats, tracker: Instruments built already for this layout (a Trainer's reused
            bench, see engine/bench.py). Defaults to new ones.

    Attributes:
        stats, tracker: The in-graph gradient accumulators and weight tracker; the train
            step (or the Keras optimizer hook) adds to ``stats`` every step.
        input_stats: Per-feature statistics of the inputs the model sees, recorded with
            every epoch (set by the owner).
        on_record: The subscribers called with every record.
        notes: Notes added while recording (a probe that failed).
    """

    def __init__(self, history: History, layout: VariableLayout, probe=None, probe_xy=None,
                 errors: list | None = None, instruments: bool = True, stats: GradientStats | None = None,
                 tracker: WeightTracker | None = None) -> None:
        self.history = history
        self.layout = layout
        self.instruments = instruments
        self.stats = GradientStats(layout) if stats is None else stats
        self.tracker = WeightTracker(layout) if tracker is None else tracker
        self.probe = probe
        self.probe_xy = probe_xy
        self.input_stats: dict[str, list[float]] = {}
        #: {"mean": float | None, "persistence": float | None, "split": str}, set by the owner.
        self.baselines: dict = {}
        self.on_record = Subscribers(errors)
        self.notes: list[str] = []
        self._t0 = time.perf_counter()

    # -- the model ---------------------------------------------------------------------
    def structure(self, *, timesteps: int | None, features: list[str], dataset: str, source: str,
                  notes: list[str] | None = None) -> ModelStructure:
        """The ModelStructure of this recorder's model, set on the History."""
        layout = self.layout
        structure = ModelStructure(
            variables=list(layout.names),
            layers=list(layout.layers),
            var_layer=dict(zip(layout.names, layout.var_layer)),
            layer_cell=dict(layout.layer_cell),
            gated={layout.names[g.index]: list(g.gates) for g in layout.gated},
            timesteps=None if timesteps is None else int(timesteps),
            features=[str(f) for f in features],
            dataset=str(dataset),
            source=source,
            notes=list(notes or []) + [n for n in self.notes if n not in (notes or [])],
        )
        self.history.set_structure(structure)
        return structure

    def add_note(self, note: str) -> None:
        """A plain-language note on what could not be measured, kept in the structure."""
        if note not in self.notes:
            self.notes.append(note)
        if note not in self.history.structure.notes:
            self.history.structure.notes.append(note)

    # -- an epoch ------------------------------------------------------------------------
    def reset(self) -> None:
        """Drop whatever the accumulators hold (steps taken outside a recorded epoch)."""
        self.stats.read_and_reset()

    def begin_epoch(self, snapshot: bool = True) -> None:
        """Snapshot the weights (for the epoch's weight change) and start the clock.

        Args:
            snapshot: False when the owner took the snapshot already (the Monitor's
                compiled epoch calls). Defaults to True."""
        if self.instruments and snapshot:
            self.tracker.snapshot()
        self._t0 = time.perf_counter()

    def initial_grad_through_time(self, probe_out: dict | None = None) -> list[float]:
        """The probe's ||dL/dx_t|| per time step for the weights as they are now (before a
        run's first step); [] without a probe.

        Args:
            probe_out: The probe's arrays, when the owner ran it already (a Trainer's
                compiled epoch end). Defaults to None: run here."""
        return self._probe(probe_out)[0]

    def _probe(self, out: dict | None = None) -> tuple[list[float], dict[str, float], float | None]:
        if self.probe is None:
            return [], {}, None
        if out is None:
            try:
                out = {k: v.numpy() for k, v in self.probe(*self.probe_xy).items()}
            except Exception as exc:  # e.g. integer inputs have no gradient: never break training
                self.probe = None
                self.add_note(f"The gradient through time is skipped: the probe batch failed ({exc}).")
                return [], {}, None
        grad_t = [float(v) for v in out["time"]]
        saturation = (
            {g: float(v) for g, v in zip(self.probe.gates, out["saturation"])} if "saturation" in out else {}
        )
        return grad_t, saturation, float(out["loss"])

    def record(self, *, run_id: int, epoch: int, settings: RunSettings, val_loss: float | None,
               loss: float | None = None, time_s: float | None = None,
               expected_steps: int | None = None, readings: dict | None = None) -> EpochRecord:
        """Read the epoch's numbers, build its EpochRecord, append it and announce it.

        Args:
            run_id, epoch: Where the record belongs (epoch is 1-based).
            settings: The settings in force at the epoch's end.
            val_loss: The validation loss, or None without validation data.
            loss: The epoch's mean training loss. Defaults to None: the one the train
                step accumulated (the Trainer's), weighted by batch size.
            time_s: The epoch's training time; recording time is added. Defaults to
                None: the time since :meth:`begin_epoch`.
            expected_steps: Steps a complete epoch has; fewer were taken when it was
                cut short. Defaults to None: the epoch counts as complete.
            readings: The epoch's accumulators, weight measures and probe arrays when the
                owner read them already (:meth:`lstm_widgets.engine.bench.Bench.end_epoch`;
                a missing "probe" entry runs the probe here). Defaults to None: read here.
        """
        t0 = time.perf_counter()
        readings = readings or {}
        acc = readings["acc"] if "acc" in readings else self.stats.read_and_reset()
        if self.instruments:
            weights = readings["weights"] if "weights" in readings else self.tracker.measure()
            units, gates, nonfinite = epoch_tables(self.layout, acc, weights)
        else:
            units, gates, nonfinite = {"weight_norm": {"global": 0.0}}, {}, {}
        steps = int(acc["steps"][0])
        if loss is None:
            loss = float(acc["loss_sum"][0] / max(float(acc["samples"][0]), 1.0))
        grad_t, saturation, probe_loss = self._probe(readings.get("probe"))
        if time_s is None:
            time_s = t0 - self._t0
        rec = EpochRecord(
            run_id=run_id,
            epoch=epoch,
            loss=float(loss),
            val_loss=val_loss,
            time_s=float(time_s) + (time.perf_counter() - t0),
            steps=steps,
            complete=not expected_steps or steps >= expected_steps,
            status="diverged" if is_diverged(loss, val_loss, units, nonfinite) else "ok",
            settings=settings,
            units=units,
            nonfinite=nonfinite,
            gates=gates,
            grad_through_time=grad_t,
            gate_saturation=saturation,
            input_stats=self.input_stats,
            baseline_loss=self.baselines.get("mean"),
            persistence_loss=self.baselines.get("persistence"),
            baseline_split=self.baselines.get("split", ""),
            probe_loss=probe_loss,
        )
        self.history.append(rec)
        self.on_record(rec)
        return rec


def epoch_tables(layout, acc, w):
    """Turn one epoch's accumulators and weight measures into EpochRecord tables.

    Args:
        layout: The VariableLayout.
        acc: :meth:`GradientStats.read_and_reset`'s numbers.
        w: :meth:`lstm_widgets.engine.probes.WeightTracker.measure`'s numbers.

    Returns:
        ``(units, gates, nonfinite)`` as EpochRecord holds them.
    """
    n = max(float(acc["steps"][0]), 1.0)
    units: dict[str, dict[str, float]] = {}
    with np.errstate(invalid="ignore", divide="ignore"):  # a diverged run's inf/inf is NaN, said by status
        ratio = w["delta"] / np.where(w["weight"] > 0, w["weight"], np.nan)
        g_ratio = w["gate_delta"] / np.where(w["gate_weight"] > 0, w["gate_weight"], np.nan)
    cols = {
        "grad_pre_mean": acc["pre_sum"] / n,
        "grad_pre_max": acc["pre_max"],
        "grad_pre_first": acc["pre_first"],
        "grad_post_mean": acc["post_sum"] / n,
        "grad_post_max": acc["post_max"],
        "clip_fraction": acc["clipped"] / n,
        "weight_norm": w["weight"],
        "delta_norm": w["delta"],
        "update_ratio": ratio,
        "step_ratio_mean": acc["upd_sum"] / n,
        "step_ratio_max": acc["upd_max"],
    }
    for f, arr in cols.items():
        units[f] = {u: float(v) for u, v in zip(layout.units, arr)}
    gates: dict[str, dict[str, dict[str, float]]] = {}
    gcols = {
        "grad_pre_mean": acc["gate_pre_sum"] / n,
        "grad_pre_max": acc["gate_pre_max"],
        "grad_post_mean": acc["gate_post_sum"] / n,
        "grad_post_max": acc["gate_post_max"],
        "weight_norm": w["gate_weight"],
        "delta_norm": w["gate_delta"],
        "update_ratio": g_ratio,
        "step_ratio_mean": acc["gate_upd_sum"] / n,
        "step_ratio_max": acc["gate_upd_max"],
    }
    for j, (var, gate) in enumerate(layout.gate_labels()):
        gates.setdefault(var, {})[gate] = {f: float(arr[j]) for f, arr in gcols.items()}
    nonfinite = {name: int(c) for name, c in zip(layout.names, acc["nonfinite"])}
    return units, gates, nonfinite
