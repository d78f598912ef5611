"""watch(model): instrument a user's own ``model.fit`` with a Keras callback.

The Monitor records into a :class:`~lstm_widgets.history.History` with the same
EpochRecord layout as the Trainer's, so the same panels, diagnosis and report work.

How it measures without a custom train step: Keras 3 optimizers clip inside
``optimizer.apply``; the TensorFlow trainer calls it from the compiled train function
with the pre-clip gradients, and ``_backend_apply_gradients(grads, variables)`` calls
``_clip_gradients(grads)`` (after dropping variables without a gradient). The Monitor
wraps those two methods on the optimizer *instance* for the duration of ``fit``: the
first remembers which variables the gradients belong to, the second calls Keras's own
clipping and adds the pre- and post-clip norms to in-graph accumulators
(:class:`~lstm_widgets.instrument.GradientStats`). The host reads them once per epoch.
The train function is rebuilt when fit begins and ends so the wrappers are traced in,
and traced out again afterwards. Nothing is pulled to the host per batch.

This module imports no widget; ``watch(display=True)`` imports the UI lazily.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
import types
from typing import Any, Callable

import numpy as np

from ._tf import keras, tf
from .history import ChangeMarker, EpochRecord, History, marker_label
from .instrument import GradientStats, accumulate_step, epoch_tables
from .probes import VariableLayout, WeightTracker, make_time_probe
from .scaling import input_stats

__all__ = ["Monitor", "watch", "NO_RECURRENT_NOTE"]

log = logging.getLogger("lstm_widgets")

#: The note recorded (``history.structure["notes"]``, ``Monitor.notes``) for a model
#: without any LSTM, GRU or SimpleRNN layer.
NO_RECURRENT_NOTE = (
    "This model has no recurrent layer (LSTM, GRU or SimpleRNN): there are no gates to "
    "split, so the per-gate numbers are empty; per-variable and per-layer gradient norms, "
    "clipping and weight updates are recorded as usual."
)

_MAX_PROBE = 64
_OPTIMIZER_NAMES = {"Adam": "adam", "RMSprop": "rmsprop", "Nadam": "nadam", "SGD": "sgd"}


def _check_probe(probe):
    if probe is None:
        return None
    if not isinstance(probe, (tuple, list)) or len(probe) != 2:
        raise ValueError(
            f"probe must be a pair (X_sample, y_sample); got {type(probe).__name__}. "
            f"Try probe=(X_train[:64], y_train[:64])."
        )
    X, y = probe
    try:
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            "probe must hold numeric arrays (X_sample, y_sample); got values that are not "
            "numbers. Try probe=(X_train[:64], y_train[:64])."
        ) from None
    if X.ndim != 3:
        raise ValueError(
            f"probe X must be 3-D (samples, timesteps, features) to show the gradient "
            f"through time; got shape {X.shape}. Pass probe=None for a model without a "
            f"time axis."
        )
    if len(X) == 0 or len(X) != len(y):
        raise ValueError(
            f"probe X and y must hold the same number of samples, at least one; got "
            f"{len(X)} and {len(y)}."
        )
    n = min(len(X), _MAX_PROBE)
    return X[:n], y[:n]


def _settings(optimizer) -> dict[str, Any]:
    """The settings in force, read from a Keras optimizer (LossScaleOptimizer unwrapped)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    cls = type(inner).__name__
    try:
        lr = float(f"{float(np.asarray(inner.learning_rate)):.6g}")  # float32 noise off
    except Exception:  # an exotic schedule: record what we cannot read as NaN
        lr = math.nan
    mode, threshold = _clip_mode(inner)
    return {
        "optimizer": _OPTIMIZER_NAMES.get(cls, cls.lower()),
        "optimizer_class": cls,
        "learning_rate": lr,
        "lr_schedule": isinstance(getattr(inner, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule),
        "momentum": float(getattr(inner, "momentum", 0.0) or 0.0),
        "nesterov": bool(getattr(inner, "nesterov", False)),
        "clipping": mode,
        "clip_threshold": None if threshold is None else float(f"{threshold:.6g}"),
        "scaler": None,  # unknown: the user scales (or not) before fit
        "batch_size": None,
    }


def _clip_mode(optimizer) -> tuple[str, float | None]:
    """Which clipping Keras's ``_clip_gradients`` applies, in its own order of precedence."""
    for mode in ("clipnorm", "global_clipnorm", "clipvalue"):
        t = getattr(optimizer, mode, None)
        if t and t > 0:
            return mode, float(t)
    return "none", None


class _Instruments:
    """The in-graph pieces for one model's trainable variables."""

    def __init__(self, model, probe_xy):
        self.layout = VariableLayout(model)
        self.index = {id(v): i for i, v in enumerate(self.layout.variables)}
        self.stats = GradientStats(self.layout)
        self.tracker = WeightTracker(self.layout)
        self.probe = None
        self.probe_xy = None
        self.notes: list[str] = []
        if probe_xy is not None:
            inputs = getattr(model, "inputs", None)
            if inputs is not None and len(inputs) != 1:
                self.notes.append("The gradient through time is skipped: the model has several inputs.")
            else:

                def loss_fn(y, y_pred):
                    return model._compute_loss(x=None, y=y, y_pred=y_pred, training=False)

                self.probe = make_time_probe(model, loss_fn, self.layout)
                self.probe_xy = (tf.constant(probe_xy[0]), tf.constant(probe_xy[1]))

    def same_variables(self, model) -> bool:
        return [id(v) for v in model.trainable_variables] == [id(v) for v in self.layout.variables]


class Monitor(keras.callbacks.Callback):
    """A Keras callback that records why the weights are (not) updating, epoch by epoch.

    Pass it to your own ``model.fit(..., callbacks=[monitor])``. Per epoch it records one
    :class:`~lstm_widgets.history.EpochRecord` into :attr:`history`: per variable, layer
    and "global", the gradient norm before and after the optimizer's own clipping
    (``clipnorm``, ``global_clipnorm``, ``clipvalue`` or none; mean and max over the
    steps), the fraction of steps clipped, non-finite gradient counts, per-gate numbers
    for LSTM and GRU layers, the weight change and update ratio, the gradient through
    time on the probe batch, the loss and val_loss from Keras's logs and the optimizer
    settings. The gradient numbers are accumulated in-graph and read once per epoch.

    Calling ``fit`` again continues the same run (epochs keep counting); a recompile with
    another optimizer, learning rate or clipping adds a ChangeMarker. Training a model
    with different trainable variables (e.g. after unfreezing a layer) begins a new run.

    Args:
        probe: A small batch ``(X_sample, y_sample)``, X shaped (samples, timesteps,
            features), for the gradient through time and the input statistics; at most
            64 samples are used. Without it, ``grad_through_time`` is saved as [].
            Defaults to None.
        stop_on_nan: Stop ``fit`` (``model.stop_training = True``) at the end of the first
            epoch whose loss, gradients or weights are not finite. Off by default so the
            Monitor never changes your training; the epoch is recorded with status
            "diverged" either way. Defaults to False.
        history: The History to record into. Defaults to a new one.

    Attributes:
        history: The History recorded into.
        notes: Plain-language notes about what could not be measured (e.g. no recurrent
            layer); also in ``history.structure["notes"]``.
        listener_errors: Exceptions raised by :meth:`on_epoch` listeners (they never stop
            training).
    """

    def __init__(self, probe=None, stop_on_nan: bool = False, history: History | None = None):
        super().__init__()
        if history is not None and not isinstance(history, History):
            raise ValueError(f"history must be an lstm_widgets History; got {type(history).__name__}.")
        self.history = History() if history is None else history
        self.stop_on_nan = bool(stop_on_nan)
        self.notes: list[str] = []
        self.listener_errors: list[tuple[str, BaseException]] = []
        self._probe_xy = _check_probe(probe)
        self._input_stats = input_stats(self._probe_xy[0]) if self._probe_xy is not None else {}
        self._listeners: list[Callable[[EpochRecord], Any]] = []
        self._inst: _Instruments | None = None
        self._watched = None  # the model watch() bound, if any
        self._run_id = 0
        self._epoch = 0
        self._fit_status = "finished"
        self._restore: Callable[[], None] | None = None
        self._ctx = threading.local()
        self._t0 = 0.0
        self._closed_over_model = None
        self._last_settings: dict[str, Any] = {}
        self.view = None  # the MonitorView watch(display=True) shows, if any

    # -- listeners ------------------------------------------------------------------------
    def on_epoch(self, fn: Callable[[EpochRecord], Any]) -> Callable:
        """Call ``fn(record)`` after every epoch's record is appended (from the thread that
        runs ``fit``). An exception in ``fn`` is logged and kept in ``listener_errors``."""
        self._listeners.append(fn)
        return fn

    def _notify(self, record: EpochRecord) -> None:
        for fn in list(self._listeners):
            try:
                fn(record)
            except Exception as exc:  # a broken view must never break the user's fit
                self.listener_errors.append((getattr(fn, "__name__", repr(fn)), exc))
                del self.listener_errors[:-20]
                log.exception("lstm_widgets: monitor listener %r failed", fn)

    # -- Keras hooks ------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        model = self.model
        if getattr(model, "optimizer", None) is None:
            raise ValueError("The model has no optimizer; call model.compile(optimizer=..., loss=...) first.")
        new_run = self._inst is None or not self._inst.same_variables(model) or self._closed_over_model is not model
        settings = _settings(model.optimizer)
        if new_run:
            self._inst = _Instruments(model, self._probe_xy)
            self._closed_over_model = model
            self._run_id = (self.history.current_run or 0) + 1
            self._epoch = 0
            self._set_structure(model)
            self.history.begin_run(self._run_id, settings)
        else:
            if self._last_settings:
                self._mark_changes(self._last_settings, settings, float(self._epoch))
            self.history.end_run(self._run_id, "training")  # (re)opens the run's status
        self._last_settings = settings
        self._fit_status = "finished"
        self._install(model)
        self._inst.stats.read_and_reset()

    def on_epoch_begin(self, epoch, logs=None):
        if self._inst is None:
            return
        self._inst.tracker.snapshot()
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._inst is None:
            return
        logs = logs or {}
        inst, layout = self._inst, self._inst.layout
        acc = inst.stats.read_and_reset()
        w = inst.tracker.measure()
        units, gates, nonfinite = epoch_tables(layout, acc, w)
        grad_t: list[float] = []
        saturation: dict[str, float] = {}
        if inst.probe is not None:
            try:
                out = {k: v.numpy() for k, v in inst.probe(*inst.probe_xy).items()}
                grad_t = [float(v) for v in out["time"]]
                if "saturation" in out:
                    saturation = {g: float(v) for g, v in zip(inst.probe.gates, out["saturation"])}
            except Exception as exc:  # e.g. integer inputs have no gradient
                inst.probe = None
                self._add_note(f"The gradient through time is skipped: the probe batch failed ({exc}).")
        loss = _as_float(logs.get("loss"))
        val_loss = _as_float(logs.get("val_loss")) if "val_loss" in logs else None
        settings = _settings(self.model.optimizer)
        steps = int(acc["steps"][0])
        expected = (self.params or {}).get("steps")
        diverged = (
            not math.isfinite(loss)
            or sum(nonfinite.values()) > 0
            or not math.isfinite(units["weight_norm"]["global"])
            or (val_loss is not None and not math.isfinite(val_loss))
        )
        if self._last_settings:  # e.g. ReduceLROnPlateau or a callback changed the lr
            self._mark_changes(self._last_settings, settings, float(self._epoch))
        self._last_settings = settings
        self._epoch += 1
        record = EpochRecord(
            run_id=self._run_id,
            epoch=self._epoch,
            loss=loss,
            val_loss=val_loss,
            time_s=time.perf_counter() - self._t0,
            steps=steps,
            complete=not expected or steps >= expected,
            status="diverged" if diverged else "ok",
            settings=settings,
            units=units,
            nonfinite=nonfinite,
            gates=gates,
            grad_through_time=grad_t,
            gate_saturation=saturation,
            input_stats=self._input_stats,
        )
        self.history.append(record)
        if diverged:
            self._fit_status = "diverged"
            if self.stop_on_nan:
                self.model.stop_training = True
        self._notify(record)

    def on_train_end(self, logs=None):
        self._uninstall()
        if self._inst is not None:
            status = self._fit_status
            if status == "finished" and getattr(self.model, "stop_training", False):
                status = "stopped"
            self.history.end_run(self._run_id, status)

    # -- the optimizer wrappers ---------------------------------------------------------------
    def _install(self, model) -> None:
        self._uninstall()
        opt = getattr(model.optimizer, "inner_optimizer", model.optimizer)
        for name in ("_clip_gradients", "_backend_apply_gradients"):
            if not callable(getattr(opt, name, None)):
                raise RuntimeError(
                    f"This Keras version's optimizer has no {name}(); lstm_widgets.watch needs "
                    f"Keras 3 (tested with 3.12 to 3.15). Installed: keras {keras.__version__}."
                )
        own = {n: opt.__dict__[n] for n in ("_clip_gradients", "_backend_apply_gradients") if n in opt.__dict__}
        orig_clip = opt._clip_gradients
        orig_apply = opt._backend_apply_gradients
        ctx = self._ctx
        monitor = self

        def _backend_apply_gradients(grads, trainable_variables):
            ctx.variables = list(trainable_variables)
            try:
                return orig_apply(grads, trainable_variables)
            finally:
                ctx.variables = None

        def _clip_gradients(grads):
            clipped = orig_clip(grads)
            try:
                monitor._accumulate(opt, list(grads), list(clipped), getattr(ctx, "variables", None))
            except Exception as exc:  # never break the user's fit over a statistic
                log.exception("lstm_widgets: could not instrument the gradients")
                monitor._add_note(f"Gradient statistics are unavailable for this model: {exc}")
            return clipped

        object.__setattr__(opt, "_clip_gradients", _clip_gradients)
        object.__setattr__(opt, "_backend_apply_gradients", _backend_apply_gradients)

        def restore():
            for n in ("_clip_gradients", "_backend_apply_gradients"):
                if n in own:
                    object.__setattr__(opt, n, own[n])
                else:
                    opt.__dict__.pop(n, None)
            # The compiled train function has the wrappers traced in: rebuild it, so the
            # next fit (with or without the Monitor) traces the plain step again.
            model.train_function = None

        self._restore = restore
        # Keras built (and may have traced) the train function before on_train_begin;
        # a fresh one traces the wrappers in on its first call.
        model.make_train_function(force=True)

    def _uninstall(self) -> None:
        if self._restore is not None:
            restore, self._restore = self._restore, None
            restore()

    def _accumulate(self, opt, grads, clipped, variables) -> None:
        """In-graph (called while the train function is traced): add one step's numbers."""
        layout, index = self._inst.layout, self._inst.index
        if variables is None or len(variables) != len(grads):
            if len(grads) != layout.n_vars:
                raise RuntimeError("cannot tell which variable each gradient belongs to")
            positions = list(range(layout.n_vars))
        else:
            positions = [index.get(id(v), -1) for v in variables]
        pre: list = [None] * layout.n_vars
        post: list = [None] * layout.n_vars
        for pos, g, c in zip(positions, grads, clipped):
            if pos < 0 or g is None:
                continue
            pre[pos] = tf.cast(tf.convert_to_tensor(g), tf.float32)
            post[pos] = tf.cast(tf.convert_to_tensor(c), tf.float32)
        for i, v in enumerate(layout.variables):
            if pre[i] is None:  # no gradient reached this variable this step
                pre[i] = post[i] = tf.zeros(v.shape, tf.float32)
        squares = [tf.square(g) for g in pre]
        var_sq = tf.stack([tf.reduce_sum(s) for s in squares])
        mode, t = _clip_mode(opt)
        n = layout.n_vars
        if mode == "clipnorm":  # Keras: g * t / max(||g||, t) changes g when ||g|| > t
            flags = var_sq > t * t
        elif mode == "global_clipnorm":
            flags = tf.fill([n], tf.reduce_sum(var_sq) > t * t)
        elif mode == "clipvalue":
            flags = tf.stack([tf.reduce_max(s) > t * t for s in squares])
        else:
            flags = tf.zeros([n], tf.bool)
            post = pre
        accumulate_step(
            self._inst.stats, layout, pre, squares, var_sq, post, flags,
            tf.constant(0.0), tf.constant(0.0),
        )

    # -- records ------------------------------------------------------------------------------
    def _set_structure(self, model) -> None:
        layout = self._inst.layout
        notes = list(self._inst.notes)
        if not any(layout.layer_cell.values()):
            notes.insert(0, NO_RECURRENT_NOTE)
        if self._probe_xy is None:
            notes.append(
                "No probe batch: the gradient through time is not measured. Pass "
                "probe=(X_train[:64], y_train[:64]) to see how far back the gradient reaches."
            )
        self.notes = notes
        timesteps, n_features = None, None
        shape = self._probe_xy[0].shape if self._probe_xy is not None else _input_shape(model)
        if shape is not None and len(shape) == 3:
            timesteps, n_features = shape[1], shape[2]
        self.history.structure = {
            "variables": list(layout.names),
            "layers": list(layout.layers),
            "var_layer": dict(zip(layout.names, layout.var_layer)),
            "layer_cell": dict(layout.layer_cell),
            "gated": {layout.names[g.index]: list(g.gates) for g in layout.gated},
            "timesteps": None if timesteps is None else int(timesteps),
            "features": [f"x{i}" for i in range(int(n_features))] if n_features else [],
            "dataset": getattr(model, "name", "model"),
            "source": "watch",
            "notes": notes,
        }

    def _add_note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)
            self.history.structure.setdefault("notes", [])
            if note not in self.history.structure["notes"]:
                self.history.structure["notes"].append(note)

    def _mark_changes(self, old: dict, new: dict, position: float) -> None:
        for k in ("optimizer", "learning_rate", "momentum", "nesterov", "clipping", "clip_threshold"):
            a, b = old.get(k), new.get(k)
            if a == b or (k == "learning_rate" and (new.get("lr_schedule") or _close(a, b))):
                continue
            m = ChangeMarker(self._run_id, position, k, a, b, marker_label(k, a, b))
            self.history.add_marker(m)

    # -- outputs --------------------------------------------------------------------------------
    def diagnose(self) -> list:
        """:func:`lstm_widgets.diagnosis.diagnose` on what has been recorded."""
        from .diagnosis import diagnose

        return diagnose(self.history)

    def report(self, path, title: str | None = None, findings: list | None = None) -> str:
        """Write a self-contained HTML report of what was recorded; returns the path.

        Args:
            path: The .html file to write.
            title: The page title. Defaults to "LSTM training report: MODEL NAME".
            findings: Findings to include. Defaults to :meth:`diagnose`'s (none if the
                diagnosis is unavailable).
        """
        from .report import write_report

        if findings is None:
            try:
                findings = self.diagnose()
            except NotImplementedError:
                findings = None
        name = self.history.structure.get("dataset", "model")
        return write_report(path, self.history, findings=findings,
                            title=title or f"LSTM training report: {name}")

    def __repr__(self) -> str:
        return f"<lstm_widgets.Monitor: run {self._run_id}, {self._epoch} epochs recorded>"


def _input_shape(model):
    try:
        shape = model.input_shape
    except Exception:  # not built, or several inputs
        return None
    return shape if isinstance(shape, tuple) else None


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _close(a, b) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    except (TypeError, ValueError):
        return False


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def watch(model, probe=None, display: bool = True, stop_on_nan: bool = False) -> Monitor:
    """Watch a Keras model's own ``fit``: returns a Monitor to pass as a callback.

    Example:
        >>> monitor = lstm_widgets.watch(model, probe=(X_train[:64], y_train[:64]))
        >>> model.fit(X_train, y_train, epochs=10, callbacks=[monitor])
        >>> monitor.history.latest.value("grad_pre_max", "global")

    Args:
        model: A compiled Keras 3 model (TensorFlow backend): Sequential, functional or
            subclassed, with or without recurrent layers.
        probe: A small batch ``(X_sample, y_sample)`` for the gradient through time.
            Defaults to None (not measured).
        display: In a notebook, show live panels and the diagnosis below the cell; they
            update at the end of every epoch while ``fit`` runs. Ignored outside a
            Jupyter kernel. Defaults to True.
        stop_on_nan: Stop ``fit`` after the first epoch that diverges. Defaults to False.

    Raises:
        ValueError: ``model`` is not a Keras model, or ``probe`` is malformed.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"model must be a Keras 3 model (keras.Model, e.g. keras.Sequential); got "
            f"{type(model).__name__}. tf.keras (Keras 2) models are not supported."
        )
    monitor = Monitor(probe=probe, stop_on_nan=stop_on_nan)
    monitor.set_model(model)
    monitor._watched = model
    if display and _in_notebook():
        try:
            from .ui.monitor import show_monitor
        except ImportError as exc:  # the UI is optional for recording
            log.warning("lstm_widgets: live panels unavailable (%s); recording only.", exc)
        else:
            show_monitor(monitor)
    return monitor


class _CallableModule(types.ModuleType):
    """``lstm_widgets.watch`` names both this module and the function: importing the
    module (``from lstm_widgets.watch import Monitor``) makes Python set the package's
    ``watch`` attribute to the module, which would hide the function. Calling the module
    calls the function, so ``lstm_widgets.watch(model)`` works either way."""

    def __call__(self, *args, **kwargs):
        return watch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
