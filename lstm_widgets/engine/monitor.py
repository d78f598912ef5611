"""Monitor: the Keras callback behind ``watch()``, recording a user's own ``model.fit``.

It records into a :class:`~lstm_widgets.history.History` through the same
:class:`~lstm_widgets.engine.recorder.Recorder` as the Trainer, so the same panels,
diagnosis and report work. The gradients are seen from inside the Keras optimizer
(:mod:`lstm_widgets.engine._keras_patch`); the numbers are accumulated in-graph and read
once per epoch, in one compiled call with the weight measures and the probe, taken on a
second thread while Keras runs the epoch's validation pass when there is one. Nothing is
pulled to the host per batch.
"""

from __future__ import annotations

import concurrent.futures
import math
from typing import Any, Callable

import numpy as np

from ..history import ChangeMarker, EpochRecord, History, RunSettings, marker_label
from ..scaling import input_stats
from . import _keras_patch
from ._tf import compiled, keras, tf
from .instrument import accumulate, weight_norm
from .probes import VariableLayout, make_time_probe
from .recorder import Recorder

__all__ = ["Monitor", "NO_RECURRENT_NOTE", "check_probe", "check_probe_fits"]

#: The note recorded (``history.structure.notes``, ``Monitor.notes``) for a model
#: without any LSTM, GRU or SimpleRNN layer.
NO_RECURRENT_NOTE = (
    "This model has no recurrent layer (LSTM, GRU or SimpleRNN): there are no gates to "
    "split, so the per-gate numbers are empty; per-variable and per-layer gradient norms, "
    "clipping and weight updates are recorded as usual."
)
_NO_PROBE_NOTE = (
    "No probe batch: the gradient through time is not measured. Pass "
    "probe=(X_train[:64], y_train[:64]) to see how far back the gradient reaches."
)
_MAX_PROBE = 64
#: Settings whose change between fits (or epochs) is marked on the plots.
_MARKED = ("optimizer", "learning_rate", "momentum", "nesterov", "clipping", "clip_threshold")


def check_probe(probe) -> tuple[np.ndarray, np.ndarray] | None:
    """The probe batch as float32 arrays (at most 64 samples), or a ValueError that says
    what is wrong with it."""
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


class Monitor(keras.callbacks.Callback):
    """A Keras callback that records why the weights are (not) updating, epoch by epoch.

    Pass it to your own ``model.fit(..., callbacks=[monitor])``. Per epoch it records one
    :class:`~lstm_widgets.history.EpochRecord` into :attr:`history`: per variable, layer
    and "global", the gradient norm before and after the optimizer's own clipping
    (``clipnorm``, ``global_clipnorm``, ``clipvalue`` or none; mean and max over the
    steps), the fraction of steps clipped, non-finite gradient counts, per-gate numbers
    for LSTM and GRU layers, the weight change and update ratio, the gradient through
    time on the probe batch, the loss and val_loss from Keras's logs and the optimizer
    settings.

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
            layer); also in ``history.structure.notes``.
        subscriber_errors: Exceptions raised by :meth:`on_epoch` subscribers (they never
            stop training).
    """

    def __init__(self, probe=None, stop_on_nan: bool = False, history: History | None = None):
        super().__init__()
        if history is not None and not isinstance(history, History):
            raise ValueError(f"history must be an lstm_widgets History; got {type(history).__name__}.")
        self.history = History() if history is None else history
        self.stop_on_nan = bool(stop_on_nan)
        self.subscriber_errors: list[tuple[str, BaseException]] = []
        self._probe_xy = check_probe(probe)
        self._subs: list[Callable[[EpochRecord], Any]] = []
        self._recorder: Recorder | None = None
        self._model = None  # the model the recorder was built for
        self._run_id = 0
        self._epoch = 0
        self._fit_status = "finished"
        self._hook: _keras_patch.Hook | None = None
        self._last_settings: RunSettings | None = None
        self._probe_losses: dict = {}
        self._epoch_end = None  # compiled: the accumulators, weight measures and probe at once
        self._epoch_begin = None  # compiled: zero the accumulators and snapshot the weights
        self._fit_begins = True  # the next epoch is a fit's first
        self._snapped = False  # the last epoch end took the next epoch's weight snapshot
        self._in_epoch = False  # between on_epoch_begin and on_epoch_end
        self._pending: concurrent.futures.Future | None = None  # the epoch's readings, read during validation
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def notes(self) -> list[str]:
        return list(self.history.structure.notes)

    def on_epoch(self, fn: Callable[[EpochRecord], Any]) -> Callable:
        """Call ``fn(record)`` after every epoch's record is appended (from the thread that
        runs ``fit``). An exception in ``fn`` is logged and kept in ``subscriber_errors``."""
        self._subs.append(fn)
        if self._recorder is not None:
            self._recorder.on_record.add(fn)
        return fn

    # -- Keras hooks ------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._end_pool(keep=True)  # readings a fit interrupted during validation left behind
        model = self.model
        if getattr(model, "optimizer", None) is None:
            raise ValueError("The model has no optimizer; call model.compile(optimizer=..., loss=...) first.")
        settings = _keras_patch.settings_of(model.optimizer)
        same = (
            self._recorder is not None and self._model is model
            and [id(v) for v in model.trainable_variables] == [id(v) for v in self._recorder.layout.variables]
        )
        if not same:
            self._probe_losses = {}
            self._new_recorder(model)
            self._run_id = (self.history.current_run or 0) + 1
            self._epoch = 0
            self.history.begin_run(self._run_id, settings, initial_loss=self._probe_losses.get("initial"),
                                   zero_loss=self._probe_losses.get("zero"),
                                   initial_weight_norm=weight_norm(model.trainable_variables))
        else:
            self._mark_changes(settings)
            self.history.end_run(self._run_id, "training")  # (re)opens the run's status
        self._last_settings = settings
        self._fit_status = "finished"
        if self._hook is not None and same and self._hook.holds(model):
            self._hook.resume()  # the step traced with the wrappers is still Keras's train function
        else:
            self.detach()
            self._hook = _keras_patch.install(model, self._accumulate, self._instrument_failed)
        self._fit_begins = True  # the first epoch zeroes what the accumulators hold (see on_epoch_begin)

    def on_epoch_begin(self, epoch, logs=None):
        if self._recorder is None:
            return
        if self._fit_begins:
            # Zero what steps outside a recorded epoch left (a fit interrupted mid-epoch,
            # whose hook was never paused) and snapshot the weights, in one call.
            self._epoch_begin()
            self._fit_begins = False
        elif not self._snapped:
            self._recorder.tracker.snapshot()
        self._snapped = False
        self._in_epoch = True
        self._recorder.begin_epoch(snapshot=False)

    def on_test_begin(self, logs=None):
        """Keras's validation pass inside ``fit``: the epoch's steps are done and the
        weights are final, so the epoch's closing numbers are read now, on a second
        thread, while the validation pass runs (both only read the weights; the probe
        then costs next to nothing on a machine with a core to spare). Outside a fit's
        epoch (a ``model.evaluate`` of your own) this does nothing."""
        if self._recorder is None or not self._in_epoch or self._pending is not None:
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lstm_widgets-epoch-end")
        self._pending = self._pool.submit(self._read_epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self._recorder is None:
            return
        logs = logs or {}
        settings = _keras_patch.settings_of(self.model.optimizer)
        self._mark_changes(settings)  # e.g. ReduceLROnPlateau or a callback changed the lr
        self._last_settings = settings
        self._epoch += 1
        record = self._recorder.record(
            run_id=self._run_id, epoch=self._epoch, settings=settings,
            loss=_as_float(logs.get("loss")),
            val_loss=_as_float(logs.get("val_loss")) if "val_loss" in logs else None,
            expected_steps=(self.params or {}).get("steps"),
            readings=self._readings(),
        )
        if record.diverged:
            self._fit_status = "diverged"
            if self.stop_on_nan:
                self.model.stop_training = True

    def _readings(self) -> dict:
        """The epoch's readings: those taken during validation (on_test_begin), else now."""
        pending, self._pending = self._pending, None
        self._in_epoch = False
        return pending.result() if pending is not None else self._read_epoch()

    def _read_epoch(self) -> dict:
        """The epoch's accumulators, weight measures and probe arrays in one compiled call,
        which also snapshots the weights for the next epoch of this fit (nothing trains
        between one epoch's end and the next one's beginning; a new fit snapshots
        afresh). One call rather than four: each call to a compiled function costs its
        own dispatch, a few per cent of a small model's epoch. A probe that fails is left
        to the recorder, which runs it alone and says why it failed."""
        r = self._recorder
        probe_xy = r.probe_xy if r.probe is not None else (None, None)
        try:
            out = self._epoch_end(*probe_xy)
        except Exception:
            if probe_xy[0] is None:
                raise
            out = self._epoch_end(None, None)  # without "probe": the recorder runs it
        self._snapped = True
        res = {k: {n: a.numpy() for n, a in v.items()} for k, v in out.items()}
        res["acc"] = r.stats.unpack(res["acc"])
        return res

    def on_train_end(self, logs=None):
        self._end_pool(keep=True)
        self._snapped = False  # between fits the weights may be set: the next fit snapshots
        if self._hook is not None:  # stays installed (a next fit is not retraced), measuring nothing
            self._hook.pause()
        if self._recorder is not None:
            status = self._fit_status
            if status == "finished" and getattr(self.model, "stop_training", False):
                status = "stopped"
            self.history.end_run(self._run_id, status)

    # -- instruments --------------------------------------------------------------------------
    def _new_recorder(self, model) -> None:
        check_probe_fits(self._probe_xy, model)  # before fit's first step: nothing lost
        layout = VariableLayout(model)
        notes = [] if any(layout.layer_cell.values()) else [NO_RECURRENT_NOTE]
        probe = probe_xy = None
        if self._probe_xy is None:
            notes.append(_NO_PROBE_NOTE)
        elif getattr(model, "inputs", None) is not None and len(model.inputs) != 1:
            notes.append("The gradient through time is skipped: the model has several inputs.")
        else:
            def loss_fn(y, y_pred):
                return model._compute_loss(x=None, y=y, y_pred=y_pred, training=False)

            probe = make_time_probe(model, loss_fn, layout)
            probe_xy = (tf.constant(self._probe_xy[0]), tf.constant(self._probe_xy[1]))
            self._probe_losses = self._probe_baselines(model, loss_fn)
        self._recorder = Recorder(self.history, layout, probe, probe_xy, errors=self.subscriber_errors)
        for fn in self._subs:
            self._recorder.on_record.add(fn)
        self._epoch_begin, self._epoch_end = _epoch_calls(self._recorder)
        if self._probe_xy is not None:
            self._recorder.input_stats = input_stats(self._probe_xy[0])
        if probe is not None and self._probe_losses:
            self._recorder.baselines = {"mean": self._probe_losses["mean"], "persistence": None, "split": "probe"}
        shape = self._probe_xy[0].shape if self._probe_xy is not None else _input_shape(model)
        timesteps, n_features = (shape[1], shape[2]) if shape is not None and len(shape) == 3 else (None, 0)
        self._recorder.structure(
            timesteps=timesteps, features=[f"x{i}" for i in range(int(n_features or 0))],
            dataset=getattr(model, "name", "model"), source="watch", notes=notes,
        )
        self._model = model

    def _probe_baselines(self, model, loss_fn) -> dict:
        """On the probe batch: the model's loss before this run's first step, the loss of
        predicting 0, and of always predicting the batch's mean target (the loss of no
        learning the probe-batch losses are judged against)."""
        X, y = self._probe_xy
        try:
            y_t = tf.constant(y)
            pred = model(tf.constant(X), training=False)
            mean = np.broadcast_to(y.mean(0, keepdims=True), y.shape).astype(np.float32)
            return {
                "initial": float(loss_fn(y_t, pred)),
                "zero": float(loss_fn(y_t, tf.zeros_like(pred))),
                "mean": float(loss_fn(y_t, tf.constant(mean))),
            }
        except Exception as exc:  # an unusual model or loss: say so, never break fit
            self.history.structure.notes.append(f"The probe batch's baselines could not be computed ({exc}).")
            return {}

    def _instrument_failed(self, exc: Exception) -> None:
        self._recorder.add_note(f"Gradient statistics are unavailable for this model: {exc}")

    def _end_pool(self, keep: bool = False) -> None:
        """Wait for readings still being taken (a fit stopped during validation) and,
        unless ``keep``, let the reading thread go (it idles between fits otherwise)."""
        pending, self._pending = self._pending, None
        self._in_epoch = False
        if pending is not None:
            concurrent.futures.wait([pending])
        if self._pool is not None and not keep:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True)

    def detach(self) -> None:
        """Take the Monitor's wrappers off the model's optimizer; the next ``fit`` traces
        Keras's plain step again. Between fits the wrappers measure nothing (a paused
        flag in the compiled step), so detaching is needed only to get Keras's own
        train function back; training with this Monitor again re-attaches it."""
        self._end_pool()
        if self._hook is not None:
            hook, self._hook = self._hook, None
            hook.restore()

    def _accumulate(self, opt, grads, clipped, variables, applied) -> None:
        """In-graph (called while the train function is traced): add one step's numbers,
        the gradients before and after Keras's clipping and, with ``applied = (before,
        after)``, the update the optimizer applied (a variable it did not touch moved by
        nothing)."""
        layout = self._recorder.layout
        n = layout.n_vars
        index = {id(v): i for i, v in enumerate(layout.variables)}
        if variables is None or len(variables) != len(grads):
            if len(grads) != n:
                raise RuntimeError("cannot tell which variable each gradient belongs to")
            positions = list(range(n))
        else:
            positions = [index.get(id(v), -1) for v in variables]
        pre: list = [None] * n
        post: list = [None] * n
        for pos, g, c in zip(positions, grads, clipped):
            if pos < 0 or g is None:
                continue
            pre[pos] = tf.cast(tf.convert_to_tensor(g), tf.float32)
            post[pos] = tf.cast(tf.convert_to_tensor(c), tf.float32)
        for i, v in enumerate(layout.variables):
            if pre[i] is None:  # no gradient reached this variable this step
                pre[i] = post[i] = tf.zeros(v.shape, tf.float32)
        mode, t = _keras_patch.clip_mode(opt)
        groups = [pre] if mode == "none" else [pre, post]  # unclipped: post is pre
        if applied is not None:
            b: list = [None] * n
            a: list = [None] * n
            for v, x0, x1 in zip(variables, *applied):
                i = index.get(id(v), -1)
                if i >= 0:
                    b[i], a[i] = tf.cast(x0, tf.float32), tf.cast(x1, tf.float32)
            for i, v in enumerate(layout.variables):
                if a[i] is None:
                    a[i] = b[i] = tf.cast(tf.convert_to_tensor(v), tf.float32)
            groups += [[x1 - x0 for x0, x1 in zip(b, a)], a]
        # All squared norms of the step in one pass: a few ops per variable, not per tensor.
        var_sq, gate_sq = layout.sums_stacked(groups)
        if mode == "none":  # the post-clip row is the pre-clip one
            var_sq = tf.concat([var_sq[:1], var_sq], 0)
            gate_sq = tf.concat([gate_sq[:1], gate_sq], 0)
        if mode == "clipnorm":  # Keras: g * t / max(||g||, t) changes g when ||g|| > t
            flags = var_sq[0] > t * t
        elif mode == "global_clipnorm":
            flags = tf.fill([n], tf.reduce_sum(var_sq[0]) > t * t)
        elif mode == "clipvalue":
            flags = tf.stack([tf.reduce_max(tf.abs(g)) > t for g in pre])
        else:
            flags = tf.zeros([n], tf.bool)
        accumulate(self._recorder.stats, layout, var_sq, gate_sq, pre, flags, tf.constant(0.0), tf.constant(0.0))

    def _mark_changes(self, new: RunSettings) -> None:
        old = self._last_settings
        if old is None:
            return
        for k in _MARKED:
            a, b = getattr(old, k), getattr(new, k)
            if a == b or (k == "learning_rate" and (new.lr_schedule or _close(a, b))):
                continue
            self.history.add_marker(ChangeMarker(self._run_id, float(self._epoch), k, a, b, marker_label(k, a, b)))

    # -- outputs --------------------------------------------------------------------------------
    def diagnose(self) -> list:
        """:func:`lstm_widgets.diagnose` on what has been recorded."""
        from ..diagnosis import diagnose

        return diagnose(self.history)

    def report(self, path, title: str | None = None, findings: list | None = None) -> str:
        """Write a self-contained HTML report of what was recorded; returns the path.

        Args:
            path: The .html file to write.
            title: The page title. Defaults to "LSTM training report: MODEL NAME".
            findings: Findings to include. Defaults to :meth:`diagnose`'s.
        """
        from ..render.report import write_report

        if findings is None:
            findings = self.diagnose()
        name = self.history.structure.dataset or "model"
        return write_report(path, self.history, findings=findings, title=title or f"LSTM training report: {name}")

    def __repr__(self) -> str:
        return f"<lstm_widgets.Monitor: run {self._run_id}, {self._epoch} epochs recorded>"


def _epoch_calls(recorder: Recorder):
    """The Monitor's two compiled calls around an epoch: ``begin()`` zeroes the
    accumulators and snapshots the weights; ``end(probe_x, probe_y)`` reads and zeroes
    the accumulators, measures the weights against the snapshot, runs the probe (unless
    its inputs are None) and then snapshots the weights for the next epoch."""
    stats, tracker, probe = recorder.stats, recorder.tracker, recorder.probe

    @compiled
    def begin():
        stats.read_and_reset_in_graph()
        tracker.snapshot_in_graph()

    @compiled
    def end(probe_x, probe_y):
        out = {"acc": stats.read_and_reset_in_graph(), "weights": tracker.measure_in_graph()}
        if probe_x is not None and probe is not None:
            out["probe"] = probe.fn(probe_x, probe_y)
        tracker.snapshot_in_graph()  # after the measures: TensorFlow keeps each variable's reads and writes in order
        return out

    return begin, end


def check_probe_fits(probe_xy, model) -> None:
    """A ValueError that names the mismatch when the probe batch's time steps or features
    are not what ``model`` takes (its input shape, when it is known)."""
    shape = _input_shape(model)
    if probe_xy is None or shape is None or len(shape) != 3:
        return
    X = probe_xy[0]
    for axis, what in ((1, "time steps"), (2, "features")):
        if shape[axis] is not None and X.shape[axis] != shape[axis]:
            raise ValueError(
                f"probe X has {X.shape[axis]} {what} per sample, but the model takes {shape[axis]} "
                f"(its input shape is {shape}). Pass a slice of the data you fit on, e.g. "
                f"probe=(X_train[:64], y_train[:64])."
            )


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
