"""Benches: a model with its compiled train steps and instruments, reused across Trainers.

Every ``tf.function`` TensorFlow traces stays in memory after its Python owner is gone:
the traced FuncGraphs are held from C++ (tensorflow/tensorflow#62854, "RAM memory leak
with tf.function when training multiple models in a loop", open with no fix). A Trainer
traces eleven of them (the train step per optimizer, the evaluation sums, the
gradient-through-time probe, the weight tracker and the gradient accumulators), about
8.6 MB, so a class that builds a new Lab per exercise grew by that much per Lab without
end. A :class:`Bench` holds one model and everything compiled around it; when its
Trainer is closed or collected it goes back to a process-wide pool, and the next Trainer
of the same shape (cell, units, layers, loss, the data's shapes, instruments on or off)
takes it, loads its own seed's initial weights and traces nothing new.

In a notebook a Lab is rarely closed or collected (ipywidgets keep every widget until it
is closed), so a bench can also be *lent*: when no free bench fits, one held by an idle
Trainer of the same key is taken over. That Trainer parks: it keeps its weights and its
optimizer's state as arrays, and takes a bench back (restoring both) the moment it is
used again, so going back to an earlier Lab carries on where it was.

Nothing compiled here refers to a Trainer: the closures capture the bench's own
variables only, so a bench in the pool keeps no Trainer, History or widget alive.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from ..config import TrainConfig
from ..data import SequenceData
from ._tf import compiled, tf
from .instrument import CLIP_MODE_IDS, GradientStats, make_train_step
from .model import build_model, make_loss, make_optimizer
from .probes import VariableLayout, WeightTracker, make_time_probe

__all__ = ["Bench", "acquire", "release", "pool_size", "lent_count", "built_count", "clear_pool"]

#: Free benches kept, all shapes together (the least recently released goes first).
POOL_LIMIT = 6
#: Compiled steps kept per bench, one per (optimizer, momentum, nesterov).
STEPS_LIMIT = 8


def bench_key(config: TrainConfig, data: SequenceData, instruments: bool) -> tuple:
    """What must match for a bench to be reused: everything its compiled graphs depend on."""
    shape = lambda a: None if a is None else tuple(a.shape)  # noqa: E731
    has_val = data.has_val
    return (
        config.cell, config.units, config.layers, config.loss, bool(instruments),
        shape(data.X_train), shape(data.y_train),
        shape(data.X_val) if has_val else None, shape(data.y_val) if has_val else None,
    )


def _init_key(config: TrainConfig) -> tuple:
    """What the initial weights depend on besides the bench's shape."""
    return config.seed, config.recurrent_gain, config.unit_forget_bias


class Bench:
    """One model, its VariableLayout, loss, data variables, instruments and compiled
    steps. Built for a key (see :func:`bench_key`); the weights are set per run."""

    def __init__(self, key: tuple, config: TrainConfig, data: SequenceData, instruments: bool):
        global _built
        _built += 1
        self.key = key
        self.instruments = bool(instruments)
        tf.config.set_soft_device_placement(True)
        self.model = model = build_model(config, data.n_timesteps, data.n_features, data.n_outputs)
        self.layout = layout = VariableLayout(model)
        self.loss_fn = loss_fn = make_loss(config)
        self.stats = GradientStats(layout)
        self.tracker = WeightTracker(layout)
        self.probe = make_time_probe(model, loss_fn, layout) if self.instruments else None
        self.clip_mode = tf.Variable(CLIP_MODE_IDS[config.clipping], dtype=tf.int32, trainable=False)
        self.clip_threshold = tf.Variable(config.clip_threshold, dtype=tf.float32, trainable=False)
        self.X = X = tf.Variable(tf.zeros(data.X_train.shape), trainable=False)
        self.Y = Y = tf.Variable(tf.zeros(data.y_train.shape), trainable=False)
        has_val = data.has_val and len(data.X_val) > 0
        self.Xv = Xv = tf.Variable(tf.zeros(data.X_val.shape), trainable=False) if has_val else None
        self.Yv = Yv = tf.Variable(tf.zeros(data.y_val.shape), trainable=False) if has_val else None

        @compiled(input_signature=[tf.TensorSpec([None], tf.int32)])
        def eval_sum(idx):
            x, y = tf.gather(Xv, idx), tf.gather(Yv, idx)
            return loss_fn(y, model(x, training=False)) * tf.cast(tf.shape(idx)[0], tf.float32)

        @compiled(input_signature=[tf.TensorSpec([None], tf.int32)])
        def train_sum(idx):
            x, y = tf.gather(X, idx), tf.gather(Y, idx)
            return loss_fn(y, model(x, training=False)) * tf.cast(tf.shape(idx)[0], tf.float32)

        self.eval_sum = eval_sum if has_val else None
        self.train_sum = train_sum

        @compiled
        def epoch_end(val_idx, probe_x, probe_y):
            out = {"acc": self.stats.read_and_reset_in_graph()}
            if val_idx is not None:
                out["val_sum"] = eval_sum.python_function(val_idx)
            if probe_x is not None:
                out["probe"] = self.probe.fn(probe_x, probe_y)
            if self.instruments:
                out["weights"] = self.tracker.measure_in_graph()
            return out

        self._epoch_end = epoch_end
        self._steps: OrderedDict[tuple, tuple] = OrderedDict()
        # The model's weights as this config's seed built them: the first run's start.
        self.initial_weights = [v.numpy() for v in model.weights]
        self._init_key = _init_key(config)
        # References to the model that the bench itself holds (the closures, Keras'
        # own tracking): more than these at release means a user still holds the model.
        self._own_refs = sys.getrefcount(model)
        self._poolable = True
        self.owner: Any = None  # a weakref to the Trainer using the bench, None when free
        self.last_used = time.monotonic()

    # -- per run --------------------------------------------------------------------------
    def seed(self, config: TrainConfig, data: SequenceData) -> list[np.ndarray]:
        """Load the initial weights ``config.seed`` (with ``recurrent_gain`` and
        ``unit_forget_bias``) give this architecture (the very weights a freshly built model
        would have) and return them."""
        if _init_key(config) != self._init_key:
            fresh = build_model(config, data.n_timesteps, data.n_features, data.n_outputs)
            self.initial_weights = [v.numpy() for v in fresh.weights]
            self._init_key = _init_key(config)
            del fresh
        for v, w in zip(self.model.weights, self.initial_weights):
            v.assign(w)
        return self.initial_weights

    def optimizer(self, config: TrainConfig) -> tuple[Any, Any]:
        """A fresh optimizer for ``config`` and its compiled step (weights kept, optimizer
        state new). Steps are cached per optimizer, so switching back traces nothing."""
        key = (config.optimizer, config.momentum, config.nesterov)
        if key not in self._steps:
            before = sys.getrefcount(self.model)
            opt = make_optimizer(config)
            step = make_train_step(
                self.model, opt, self.loss_fn, self.layout, self.stats, self.X, self.Y,
                self.clip_mode, self.clip_threshold, instruments=self.instruments,
            )
            self._steps[key] = (opt, step, [v.numpy() for v in opt.variables])
            self._own_refs += sys.getrefcount(self.model) - before  # the new step's closure
            if len(self._steps) > STEPS_LIMIT:  # bound memory if someone cycles many momentums
                self._steps.popitem(last=False)
                # The dropped step's reference goes whenever the collector frees it: the
                # count can no longer tell a user's reference apart, so never pool again.
                self._poolable = False
        self._steps.move_to_end(key)
        opt, step, fresh = self._steps[key]
        for v, init in zip(opt.variables, fresh):
            v.assign(init)
        opt.learning_rate.assign(config.learning_rate)
        return opt, step

    def end_epoch(self, val_idx: np.ndarray | None, probe_xy: tuple | None) -> dict:
        """An epoch's closing numbers in one compiled call: the loss summed over the
        validation samples ``val_idx``, the probe on ``probe_xy``, the gradient
        accumulators (read and zeroed) and the weight tracker's measures.

        One call rather than four: the validation pass and the probe are independent, so
        TensorFlow runs them side by side, and each call to a compiled function costs its
        own dispatch. Measured on two cores, the four together took 6.9 ms against 10.9 ms
        called one by one for LSTM(16), T=40, and 31 ms against 46 ms for LSTM(64), T=100.

        Returns:
            ``{"acc": GradientStats.unpack numbers, "val_sum": float (with val_idx),
            "probe": the probe's arrays (with probe_xy), "weights":
            WeightTracker.measure numbers (with instruments)}``.
        """
        idx = None if val_idx is None or self.eval_sum is None else tf.constant(val_idx, tf.int32)
        px, py = probe_xy if probe_xy is not None and self.probe is not None else (None, None)
        out = self._epoch_end(idx, px, py)
        res = {k: {n: a.numpy() for n, a in v.items()} for k, v in out.items() if isinstance(v, dict)}
        res["acc"] = self.stats.unpack(res["acc"])
        if "val_sum" in out:
            res["val_sum"] = float(out["val_sum"])
        return res

    def set_clipping(self, config: TrainConfig) -> None:
        self.clip_mode.assign(CLIP_MODE_IDS[config.clipping])
        self.clip_threshold.assign(config.clip_threshold)

    def held_elsewhere(self) -> bool:
        """True when something outside the bench still refers to its model (a user's
        ``model = trainer.model_``): such a bench must not be handed to another Trainer."""
        return not self._poolable or sys.getrefcount(self.model) > self._own_refs


_built = 0  # benches built in this process (each traced its own graphs)
_pool: OrderedDict[int, Bench] = OrderedDict()
#: Benches lent to a Trainer (weak: a bench lives as long as its Trainer, or in _pool).
_lent: "weakref.WeakValueDictionary[int, Bench]" = weakref.WeakValueDictionary()
_lock = threading.Lock()
#: Benches of collected Trainers, queued by their finalizers: a finalizer runs inside
#: garbage collection, which may start while this thread holds _lock, so it must not
#: take it; the queue is emptied into the pool by the next acquire or release.
_returned: "queue.SimpleQueue[Bench]" = queue.SimpleQueue()


def release_later(bench: "Bench") -> None:
    """A finalizer's release: queue the bench (no lock taken, see _returned)."""
    _returned.put(bench)


def _drain_returned() -> None:
    while True:
        try:
            bench = _returned.get_nowait()
        except queue.Empty:
            return
        release(bench)


def acquire(config: TrainConfig, data: SequenceData, instruments: bool, owner: Any = None) -> Bench:
    """A bench for this config and data: a free one of the same key from the pool, else
    one an idle Trainer of the same key lends (it parks, see the module doc), else a new
    one. Its weights are set to ``config.seed``'s initial weights.

    ``owner`` is the Trainer that will use it; it must have a ``_lend(bench) -> bool``
    that parks it if it is idle."""
    key = bench_key(config, data, instruments)
    _drain_returned()
    with _lock:
        found = next((k for k, b in reversed(_pool.items()) if b.key == key), None)
        bench = _pool.pop(found) if found is not None else None
        lent = sorted((b for b in _lent.values() if b.key == key), key=lambda b: b.last_used)
    if bench is None:
        for candidate in lent:
            holder = candidate.owner() if candidate.owner is not None else None
            # A model someone holds (``model = trainer.model_``) is never lent: its holder
            # would see another Trainer's weights.
            if holder is None or holder is owner or candidate.held_elsewhere():
                continue
            if holder._lend(candidate):
                bench = candidate
                break
    if bench is None:
        bench = Bench(key, config, data, instruments)
    else:
        bench.seed(config, data)
        bench.set_clipping(config)
    bench.owner = weakref.ref(owner) if owner is not None else None
    bench.last_used = time.monotonic()
    with _lock:
        _lent[id(bench)] = bench
    return bench


def release(bench: Bench | None) -> None:
    """Give a bench back to the pool (a no-op for None, or when its model is still held
    outside, which then stays with whoever holds it)."""
    if bench is None:
        return
    bench.owner = None
    with _lock:
        _lent.pop(id(bench), None)
    if bench.held_elsewhere():
        return
    with _lock:
        _pool[id(bench)] = bench
        while len(_pool) > POOL_LIMIT:
            _pool.popitem(last=False)


def pool_size() -> int:
    """Free benches in the pool."""
    _drain_returned()
    return len(_pool)


def built_count() -> int:
    """Benches built in this process so far: each traced its graphs once, for good."""
    return _built


def lent_count() -> int:
    """Benches in use by a Trainer."""
    return len(_lent)


def clear_pool() -> None:
    """Drop every free bench (their traced graphs stay with TensorFlow, see the module doc)."""
    _drain_returned()
    with _lock:
        _pool.clear()
