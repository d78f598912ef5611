"""Trainer: trains in a background thread, takes setting changes while it runs, and
hands one EpochRecord per epoch to its History and subscribers."""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from typing import Any, Callable

import numpy as np

from ..config import ARCHITECTURE_FIELDS, BATCH_FIELDS, TrainConfig
from ..data import SequenceData
from ..history import ChangeMarker, EpochRecord, History, RunSettings, marker_label
from ..scaling import SequenceScaler, input_stats
from ._tf import tf
from . import bench as bench_pool
from .instrument import CLIP_MODE_IDS, weight_norm
from .recorder import Recorder, Subscribers

__all__ = ["Trainer", "STATES"]

#: Settings whose change is not marked on the panels: they change no result.
_UNMARKED = frozenset({"pace"})

log = logging.getLogger("lstm_widgets")

STATES = ("idle", "training", "paused", "stopped", "finished", "diverged", "error")

# When a live change applies is declared in config.SETTINGS: BATCH_FIELDS before the next
# batch, EPOCH_FIELDS before the next epoch, ARCHITECTURE_FIELDS at the next restart().
_OPTIMIZER_FIELDS = ("optimizer", "momentum", "nesterov")
_PROBE_SIZE = 16  # the gradient-through-time probe batch: a profile of its shape, cheap per epoch
_EVAL_CHUNK = 2048


class Trainer:
    """Train a recurrent model on ``data`` in a background thread, instrumented.

    Args:
        config: A TrainConfig. Defaults to TrainConfig().
        data: The SequenceData to train on (raw; the config's scaler is applied here).
        instruments: False trains with the same loop but records only the loss, the
            validation loss and the time: the bare loop benchmarks/overhead.py measures the
            statistics' cost against. Defaults to True.
        **overrides: Settings that replace the config's, e.g. ``learning_rate=1e-2``.

    Example:
        >>> trainer = Trainer(TrainConfig(epochs=5), load_dataset("sine"))
        >>> trainer.start(); trainer.wait()
        >>> trainer.history.latest.loss
    """

    def __init__(self, config: TrainConfig | None = None, data: SequenceData | None = None, *,
                 instruments: bool = True, **overrides: Any):
        if data is None:
            raise ValueError("data is missing: pass a SequenceData, e.g. lstm_widgets.load_dataset('adding').")
        if not isinstance(data, SequenceData):
            raise ValueError(
                f"data must be a SequenceData; got {type(data).__name__}. Wrap arrays with "
                f"SequenceData(X_train, y_train, X_val, y_val)."
            )
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}.")
        self._config = config.replace(**overrides) if overrides else config
        self.data = data
        self.history = History()
        self.error: BaseException | None = None
        #: Errors raised by subscribers (the latest 20); they never stop training.
        self.subscriber_errors: list[tuple[str, BaseException]] = []
        self._state = "idle"
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._pending: list[dict[str, Any]] = []  # live changes queued for the training thread
        self._taking_live = False  # the training loop still drains _pending (see _run's end)
        self._pending_restart: dict[str, Any] = {}  # model changes waiting for restart()
        self._epoch_subs = Subscribers(self.subscriber_errors)
        self._state_subs = Subscribers(self.subscriber_errors)
        self._change_subs = Subscribers(self.subscriber_errors)
        self._recorder: Recorder | None = None
        self._instruments = bool(instruments)
        self._built_config: TrainConfig | None = None
        self._run_id = 0
        self._epoch = 0  # epochs done in the current run
        self._target_epoch = 0
        self._position = 0.0  # where on the epoch axis the trainer is (for markers)
        self._begin_new_run = True
        self._after_stop = False
        self._run_start_epoch = 0
        self._bench = None
        self._parked: dict | None = None  # weights and optimizer state while the bench is lent
        self._release = weakref.finalize(self, lambda: None)

    # -- public state -------------------------------------------------------------------
    @property
    def model_(self):
        """The Keras model being trained (None before the first run and after close()).
        A model read here is never handed to another Trainer (engine/bench.py)."""
        with self._lock:  # not lent away between the unpark and the read
            self._ensure_bench()
            b = self._bench
            return None if b is None else b.model

    @property
    def config(self) -> TrainConfig:
        """The settings in force (pending changes included once applied)."""
        return self._config

    @property
    def state(self) -> str:
        """One of "idle", "training", "paused", "stopped", "finished", "diverged", "error"."""
        return self._state

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def epoch(self) -> int:
        """Epochs finished in the current run."""
        return self._epoch

    @property
    def target_epoch(self) -> int:
        """The epoch the current Train will stop after."""
        return self._target_epoch

    def next_train(self, after_stop: bool | None = None) -> tuple[str, int, int]:
        """What the next start() does, as (kind, from epoch, to epoch): "new" begins a run
        (the first, after restart() or a model change); "finish" takes a stopped Train to
        the end of its budget; "continue" trains ``config.epochs`` more on the current
        weights and optimizer state (a finished run)."""
        after_stop = self._state == "stopped" if after_stop is None else after_stop
        cfg = self._config
        if self._built_config is None or self._begin_new_run or (
            set(self._built_config.diff(cfg)) & ARCHITECTURE_FIELDS
        ):
            return "new", 0, cfg.epochs
        end = self._run_start_epoch + cfg.epochs
        if after_stop and end > self._epoch:
            return "finish", self._epoch, end
        return "continue", self._epoch, self._epoch + cfg.epochs

    @property
    def run_id(self) -> int:
        return self._run_id

    @property
    def pending_restart(self) -> dict[str, Any]:
        """Model settings (units, layers, cell, loss, seed) set after a run began, waiting
        for :meth:`restart`."""
        with self._lock:
            return dict(self._pending_restart)

    @property
    def wanted(self) -> TrainConfig:
        """The config every queued change leads to: live changes not applied yet and the
        model settings waiting for :meth:`restart`."""
        with self._lock:
            cfg = self._config
            for p in self._pending:
                cfg = cfg.replace(**p)
            return cfg.replace(**self._pending_restart)

    # -- subscriptions --------------------------------------------------------------------
    def on_epoch(self, fn: Callable[[EpochRecord], Any]) -> Callable:
        """Call ``fn(record)`` after every epoch, from the training thread. An exception
        in ``fn`` is logged and kept in ``subscriber_errors``; training goes on."""
        return self._epoch_subs.add(fn)

    def off_epoch(self, fn: Callable[[EpochRecord], Any]) -> None:
        """Stop calling ``fn`` after every epoch (a function given to :meth:`on_epoch`)."""
        self._epoch_subs.remove(fn)

    def on_state(self, fn: Callable[[str], Any]) -> Callable:
        """Call ``fn(state)`` whenever the state changes."""
        return self._state_subs.add(fn)

    def on_change(self, fn: Callable[[ChangeMarker], Any]) -> Callable:
        """Call ``fn(marker)`` whenever a setting change takes effect."""
        return self._change_subs.add(fn)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._state_subs(state)

    # -- control --------------------------------------------------------------------------
    def start(self) -> "Trainer":
        """Train for ``config.epochs`` epochs in a background thread.

        Continues the current run from its weights; the first start, or a start after an
        architecture change, begins a new run. Raises RuntimeError if already training.
        """
        with self._lock:
            if self.is_running:
                raise RuntimeError(
                    "The trainer is already training; a second start() would race the first. "
                    "Use pause()/resume() or stop(), or change settings live with set(...)."
                )
            self._after_stop = self._state == "stopped"
            self._stop.clear()
            self._running.set()
            self.error = None
            self._taking_live = True
            self._thread = threading.Thread(target=self._run, name="lstm_widgets-trainer", daemon=True)
            self._set_state("training")
            self._thread.start()
        return self

    def pause(self) -> None:
        """Hold training before the next batch (the thread waits, weights kept)."""
        if self.is_running:
            self._running.clear()
            self._set_state("paused")

    def resume(self) -> None:
        if self.is_running:
            self._running.set()
            self._set_state("training")

    def stop(self, wait: bool = True, timeout: float | None = 30.0) -> None:
        """Stop before the next batch. The epoch in progress is recorded as incomplete."""
        self._stop.set()
        self._running.set()
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until training ends; True if it ended, False on timeout. Re-raises an
        error that ended training."""
        t = self._thread
        if t is not None:
            t.join(timeout)
            if t.is_alive():
                return False
        if self.error is not None:
            raise RuntimeError(f"Training failed: {self.error}") from self.error
        return True

    def restart(self, start: bool = True) -> "Trainer":
        """Stop, apply the model settings waiting for a restart, go back to the seed's
        initial weights with a fresh optimizer, and begin a new run (training it if
        ``start``)."""
        self.stop(wait=True)
        with self._lock:
            self._drain_pending(force=True)
            if self._pending_restart:
                arch, self._pending_restart = self._pending_restart, {}
                self._apply(arch)
            self._begin_new_run = True
            self._epoch = 0
            self._position = 0.0
            self._set_state("idle")
        if start:
            self.start()
        return self

    def close(self) -> None:
        """Stop training and drop the model. Its compiled steps go back to a pool that the
        next Trainer of the same shape reuses (engine/bench.py says why)."""
        self._stop.set()
        self._running.set()
        t = self._thread
        if t is not None:
            t.join(30.0)  # not wait(): a run that ended in an error must still close
            if t.is_alive():  # still stepping: its bench must not serve another Trainer
                log.warning("lstm_widgets: training did not stop within 30 s; its model is not reused")
                return
        with self._lock:
            bench, self._bench = self._bench, None
            self._built_config = None
            self._parked = None
            self._release.detach()
        bench_pool.release(bench)

    # -- settings -------------------------------------------------------------------------
    def set(self, **changes: Any) -> TrainConfig:
        """Change settings. While training, each takes effect before the next batch
        (learning rate, clipping, optimizer, epochs) or epoch (scaler, batch size) and is
        recorded as a ChangeMarker. Model settings (units, layers, cell, loss, seed) apply
        at once before the first run; once a run exists they wait for :meth:`restart`
        (see :attr:`pending_restart`), which builds the new model.

        Returns:
            The config the changes lead to (:attr:`wanted`).

        Raises:
            ValueError: an unknown setting or an invalid value; nothing changes then.
        """
        if not changes:
            return self.wanted
        with self._lock:
            base = self.wanted
            new = base.replace(**changes)  # validates every change first
            changed = {k: v for k, v in new.to_dict().items() if v != getattr(base, k)}
            arch = {k: v for k, v in changes.items() if k in ARCHITECTURE_FIELDS}
            live = {k: v for k, v in changed.items() if k not in ARCHITECTURE_FIELDS}
            if arch:
                if self._run_id == 0 and not self.is_running:
                    self._apply(arch)  # nothing trained yet: the first run simply uses it
                else:
                    for k, v in arch.items():
                        if getattr(self._config, k) == v:
                            self._pending_restart.pop(k, None)
                        else:
                            self._pending_restart[k] = getattr(new, k)
            if live:
                if self.is_running and self._taking_live:
                    self._pending.append(live)
                else:
                    self._apply(live)
            return self.wanted

    def _drain_pending(self, force: bool = False, epoch_boundary: bool = False) -> None:
        if not self._pending:
            return
        with self._lock:
            keep, now = [], {}
            for p in self._pending:
                for k, v in p.items():
                    if force or epoch_boundary or k in BATCH_FIELDS:
                        now[k] = v
                    else:
                        keep.append({k: v})
            self._pending = keep
        if now:
            self._apply(now)

    def _apply(self, changes: dict[str, Any]) -> None:
        old = self._config
        new = old.replace(**changes)
        diff = old.diff(new)
        if not diff:
            return
        self._config = new
        arch = set(diff) & ARCHITECTURE_FIELDS
        # A parked Trainer applies the config in force when it takes a bench back.
        if self._bench is not None and self._parked is None and not arch:
            self._apply_to_model(old, new, diff)
        for k, (a, b) in diff.items():
            if self._built_config is None or self._run_id == 0 or k in _UNMARKED:
                continue  # nothing trained yet: the next run simply starts with it
            m = ChangeMarker(self._run_id, round(self._position, 4), k, a, b, marker_label(k, a, b))
            self.history.add_marker(m)
            self._change_subs(m)

    def _apply_to_model(self, old: TrainConfig, new: TrainConfig, diff: dict) -> None:
        if "learning_rate" in diff:
            self._optimizer.learning_rate.assign(new.learning_rate)
        if "clipping" in diff or "clip_threshold" in diff:
            self._clip_mode.assign(CLIP_MODE_IDS[new.clipping])
            self._clip_threshold.assign(new.clip_threshold)
        if any(k in diff for k in _OPTIMIZER_FIELDS):
            self._use_optimizer(new)
        if "scaler" in diff or "scale_target" in diff:
            self._rescale(new)
        if "epochs" in diff and self.is_running:
            self._target_epoch = self._run_start_epoch + new.epochs

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        cfg, d = self._config, self.data
        old, self._bench = self._bench, None
        self._parked = None
        bench_pool.release(old)  # an architecture change: the old bench serves the next Trainer
        b = self._attach(bench_pool.acquire(cfg, d, self._instruments, owner=self))
        self._initial_weights = b.initial_weights
        self._recorder = Recorder(self.history, b.layout, b.probe, errors=self.subscriber_errors,
                                  instruments=self._instruments, stats=b.stats, tracker=b.tracker)
        self._recorder.on_record.add(self._epoch_subs)
        self._rescale(cfg)
        self._use_optimizer(cfg)
        self._recorder.structure(timesteps=d.n_timesteps, features=list(d.feature_names), dataset=d.name,
                                 source="trainer")
        self._built_config = cfg

    def _attach(self, b: "bench_pool.Bench") -> "bench_pool.Bench":
        """Use bench ``b``: its model, layout, loss, data variables and compiled sums."""
        self._bench = b
        self._release.detach()
        self._release = weakref.finalize(self, bench_pool.release_later, b)
        self.layout_ = b.layout
        self._loss_fn = b.loss_fn
        self._clip_mode, self._clip_threshold = b.clip_mode, b.clip_threshold
        self._X, self._Y, self._Xv, self._Yv = b.X, b.Y, b.Xv, b.Yv
        self._eval_sum, self._train_sum = b.eval_sum, b.train_sum
        return b

    # -- lending the bench while idle (engine/bench.py) --------------------------------------
    def _lend(self, b: "bench_pool.Bench") -> bool:
        """Park (keep weights and optimizer state as arrays) and give up bench ``b``, if
        idle. Called by another Trainer that needs a bench of the same shape."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self.is_running or self._bench is not b or b.held_elsewhere():
                return False
            self._parked = {
                "weights": [v.numpy() for v in b.model.weights],
                "optimizer": self._opt_key,
                "slots": [v.numpy() for v in self._optimizer.variables],
            }
            self._bench = None
            self._optimizer = self._step = None
            self._X = self._Y = self._Xv = self._Yv = None
            self._eval_sum = self._train_sum = None
            self._recorder.probe_xy = None  # a copy of the data: _rescale makes it again
            self._release.detach()
            return True
        finally:
            self._lock.release()

    def _ensure_bench(self) -> None:
        """Take a bench back after parking and restore the weights and optimizer state."""
        if self._parked is None:
            return
        with self._lock:
            if self._parked is None:
                return
            state, cfg = self._parked, self._config
            # The bench of the model that was built (a model change waiting for Restart
            # must not shape it); the live settings come from the config in force.
            b = self._attach(bench_pool.acquire(self._built_config, self.data, self._instruments, owner=self))
            self._parked = None
            for v, w in zip(b.model.weights, state["weights"]):
                v.assign(w)
            r = self._recorder
            r.layout, r.stats, r.tracker = b.layout, b.stats, b.tracker
            if r.probe is not None:  # a probe the recorder turned off stays off
                r.probe = b.probe
            self._rescale(cfg)
            self._use_optimizer(cfg)
            if self._opt_key == state["optimizer"]:
                for v, value in zip(self._optimizer.variables, state["slots"]):
                    v.assign(value)
                self._optimizer.learning_rate.assign(cfg.learning_rate)
            b.set_clipping(cfg)

    def _use_optimizer(self, cfg: TrainConfig) -> None:
        """Switch to a fresh optimizer for ``cfg`` (weights kept, optimizer state new)."""
        self._optimizer, self._step = self._bench.optimizer(cfg)
        self._opt_key = (cfg.optimizer, cfg.momentum, cfg.nesterov)

    def _rescale(self, cfg: TrainConfig) -> None:
        d = self.data
        self.scaler_ = SequenceScaler(cfg.scaler, cfg.scale_target).fit(d)
        Xs = self.scaler_.transform_X(d.X_train)
        self._X.assign(Xs)
        self._Y.assign(self.scaler_.transform_y(d.y_train))
        if self._Xv is not None:
            self._Xv.assign(self.scaler_.transform_X(d.X_val))
            self._Yv.assign(self.scaler_.transform_y(d.y_val))
        self._recorder.input_stats = input_stats(Xs)
        n_probe = min(_PROBE_SIZE, len(d.X_val) if d.has_val else len(d.X_train))
        src_x = self._Xv if self._Xv is not None else self._X
        src_y = self._Yv if self._Yv is not None else self._Y
        self._recorder.probe_xy = (tf.constant(src_x[:n_probe]), tf.constant(src_y[:n_probe]))
        self._recorder.baselines = self._baselines()

    def _baselines(self) -> dict:
        """The loss of no learning, in the model's units, on the validation split (the
        training split without one): always predicting the training targets' mean, and,
        for a windowed series, repeating the target's last value (persistence)."""
        d, sc = self.data, self.scaler_
        split = "val" if d.has_val else "train"
        X, y = (d.X_val, d.y_val) if d.has_val else (d.X_train, d.y_train)
        y_s = sc.transform_y(y)
        mean = sc.transform_y(d.y_train).mean(0, keepdims=True)
        out = {"mean": float(self._loss_fn(y_s, np.broadcast_to(mean, y_s.shape).astype(np.float32))),
               "persistence": None, "split": split}
        if d.target_features is not None:
            last = np.asarray(X[:, -1, d.target_features], dtype=np.float32)
            out["persistence"] = float(self._loss_fn(y_s, sc.transform_y(last)))
        return out

    def _initial_losses(self) -> tuple[float, float]:
        """(the untrained model's training loss, the loss of predicting 0 everywhere): the
        first check of a run (a freshly initialised network outputs values near 0)."""
        n = int(self._X.shape[0])
        idx = np.arange(min(n, _EVAL_CHUNK), dtype=np.int32)
        loss = float(self._train_sum(idx)) / len(idx)
        y = self._Y.numpy()[idx]
        return loss, float(self._loss_fn(y, np.zeros_like(y)))

    def _new_run(self) -> None:
        if self._built_config is None or set(self._built_config.diff(self._config)) & ARCHITECTURE_FIELDS:
            self._build()
        else:
            for v, w in zip(self.model_.weights, self._initial_weights):
                v.assign(w)
            self._rescale(self._config)
            self._use_optimizer(self._config)
            self._bench.set_clipping(self._config)
        self._run_id += 1
        self._epoch = 0
        self._position = 0.0
        self._rng = np.random.default_rng(self._config.seed)
        initial, zero = self._initial_losses()
        # The probe through the epoch end's compiled function (one graph for both); what
        # else it reads is dropped: the accumulators are reset before the first step anyway.
        probe_out = self._end_epoch().get("probe")
        self.history.begin_run(self._run_id, RunSettings.from_config(self._config), initial_loss=initial,
                               zero_loss=zero, initial_weight_norm=weight_norm(self.model_.trainable_variables),
                               initial_grad_through_time=self._recorder.initial_grad_through_time(probe_out))
        self._begin_new_run = False

    # -- the training thread -----------------------------------------------------------------
    def _run(self) -> None:
        final = "finished"
        try:
            self._drain_pending(force=True)
            kind, _, end = self.next_train(self._after_stop)
            if kind == "new":
                self._new_run()
            self._ensure_bench()
            self._bench.last_used = time.monotonic()  # lent last among idle benches (bench.py)
            if kind != "finish":
                self._run_start_epoch = self._epoch
            self._target_epoch = self._run_start_epoch + self._config.epochs if kind == "finish" else end
            self._recorder.reset()
            while self._epoch < self._target_epoch:
                if self._stop.is_set():
                    final = "stopped"
                    break
                began = time.perf_counter()
                record = self._one_epoch()
                if record is None:
                    final = "stopped"
                    break
                if record.status == "diverged":
                    final = "diverged"
                    break
                if not record.complete:
                    final = "stopped"
                    break
                # config.pace: a fast run slowed down to be watched (Stop ends the wait).
                left = self._config.pace - (time.perf_counter() - began)
                if left > 0 and self._epoch < self._target_epoch:
                    self._stop.wait(left)
        except Exception as exc:  # reported through state and wait(); never a silent death
            log.exception("lstm_widgets: training failed")
            self.error = exc
            final = "error"
        finally:
            # A change queued after the last batch (a schedule acting on the last epoch)
            # applies now, under the lock: left queued, it would overwrite a set() made
            # after the run ended when the next run starts.
            with self._lock:
                self._taking_live = False
                try:
                    self._drain_pending(force=True)
                except Exception:  # the run's own outcome stays what is reported
                    log.exception("lstm_widgets: applying a change queued at the end of the run failed")
                    self._pending = []
            self.history.end_run(self._run_id, final)
            self._set_state(final)

    def _one_epoch(self) -> EpochRecord | None:
        self._drain_pending(epoch_boundary=True)
        cfg = self._config
        n = len(self.data.X_train)
        bs = min(cfg.batch_size, n)
        n_steps = math.ceil(n / bs)
        perm = self._rng.permutation(n).astype(np.int32)
        self._recorder.begin_epoch()
        t0 = time.perf_counter()
        done = 0
        for k in range(n_steps):
            self._position = self._epoch + k / n_steps
            if self._pending:
                self._drain_pending()
            if not self._running.is_set():
                paused_at = time.perf_counter()
                self._running.wait()
                t0 += time.perf_counter() - paused_at  # paused time is not epoch time
                if self._pending:
                    self._drain_pending()
            if self._stop.is_set():
                break
            self._step(perm[k * bs : (k + 1) * bs])
            done += 1
        if done == 0:
            return None
        return self._record(n_steps, time.perf_counter() - t0)

    def _record(self, n_steps: int, train_time: float) -> EpochRecord:
        t0 = time.perf_counter()
        readings = self._end_epoch()
        val_loss = None
        if self._Xv is not None:
            n_val = int(self._Xv.shape[0])
            total = readings.pop("val_sum")  # the first chunk, read with the epoch's numbers
            for s in range(_EVAL_CHUNK, n_val, _EVAL_CHUNK):
                total += float(self._eval_sum(np.arange(s, min(s + _EVAL_CHUNK, n_val), dtype=np.int32)))
            val_loss = total / n_val
        self._epoch += 1
        self._position = float(self._epoch)
        return self._recorder.record(
            run_id=self._run_id, epoch=self._epoch, settings=RunSettings.from_config(self._config),
            val_loss=val_loss, time_s=train_time + (time.perf_counter() - t0), expected_steps=n_steps,
            readings=readings,
        )

    def _end_epoch(self) -> dict:
        """The bench's compiled epoch end (validation's first chunk, the probe, the
        accumulators and the weight measures in one call, see Bench.end_epoch). A probe
        that fails is left to the recorder, which runs it alone and says why it failed."""
        val_idx = None
        if self._Xv is not None:
            val_idx = np.arange(min(int(self._Xv.shape[0]), _EVAL_CHUNK), dtype=np.int32)
        r = self._recorder
        probe_xy = r.probe_xy if r.probe is not None else None
        try:
            return self._bench.end_epoch(val_idx, probe_xy)
        except Exception:
            if probe_xy is None:
                raise
            return self._bench.end_epoch(val_idx, None)  # without "probe": the recorder runs it

    # -- convenience ---------------------------------------------------------------------
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for raw inputs X, in the target's original units."""
        with self._lock:  # the bench stays with this Trainer while it predicts
            model = self.model_
            if model is None:
                raise RuntimeError("Nothing trained yet; call start() first.")
            Xs = self.scaler_.transform_X(np.asarray(X, dtype=np.float32))
            return self.scaler_.inverse_transform_y(np.asarray(model(Xs, training=False)))
