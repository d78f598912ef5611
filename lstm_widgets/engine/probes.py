"""Where each number comes from: variable naming, layer grouping, per-gate splits,
weight deltas and the gradient-through-time probe.

Everything here runs inside compiled TensorFlow functions; nothing is pulled to the
host per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._tf import compiled, tf
from .model import GATES

__all__ = ["VariableLayout", "gate_split_sq", "WeightTracker", "make_time_probe"]

#: Pre-activations beyond this magnitude put a sigmoid within 5% of 0 or 1
#: (sigmoid(3) = 0.953) where its slope is under 0.05: the gate is "saturated".
SATURATION_THRESHOLD = 3.0


def _short_path(path: str, model_name: str | None) -> str:
    if model_name and path.startswith(model_name + "/"):
        return path[len(model_name) + 1 :]
    return path


@dataclass(frozen=True)
class GatedVariable:
    index: int  # position in the trainable-variable list
    gates: tuple[str, ...]
    offset: int  # position of its first gate in the flat gate vector


class VariableLayout:
    """Names and groups of a model's trainable variables.

    * ``names``: each variable's ``variable.path`` without the model's own name
      (e.g. "lstm_1/lstm_cell/kernel").
    * ``layers``: the layer each variable belongs to, in model order.
    * ``gated``: the recurrent kernels, recurrent kernels and biases whose last axis
      holds one block per gate (LSTM i, f, c, o; GRU z, r, h).
    * ``units``: the names of the norm vector the stats use: every variable, then every
      layer (all its variables together), then "global" (all variables together).
    """

    def __init__(self, model):
        self.variables = list(model.trainable_variables)
        if not self.variables:
            raise ValueError("The model has no trainable variables; there is nothing to watch.")
        name = getattr(model, "name", None)
        self.names = [_short_path(v.path, name) for v in self.variables]
        self.kinds = [n.rsplit("/", 1)[-1] for n in self.names]
        owner = {}
        for layer in model.layers:
            for w in layer.trainable_weights:
                owner[id(w)] = layer
        self.var_layer = []
        self.layers: list[str] = []
        self.layer_cell: dict[str, str | None] = {}
        gated, offset = [], 0
        for i, v in enumerate(self.variables):
            layer = owner.get(id(v))
            lname = layer.name if layer is not None else self.names[i].split("/")[0]
            if lname not in self.layers:
                self.layers.append(lname)
            self.var_layer.append(lname)
            cell = _cell_type(layer)
            self.layer_cell[lname] = cell
            if cell in GATES and self.kinds[i] in ("kernel", "recurrent_kernel", "bias"):
                n_gates = len(GATES[cell])
                if v.shape[-1] % n_gates == 0:
                    gated.append(GatedVariable(i, GATES[cell], offset))
                    offset += n_gates
        self.gated = gated
        self.n_gate_values = offset
        self.units = list(self.names) + list(self.layers) + ["global"]
        m = np.zeros((len(self.layers), len(self.variables)), dtype=np.float32)
        for j, lname in enumerate(self.var_layer):
            m[self.layers.index(lname), j] = 1.0
        self.membership = m  # layers x variables
        #: For each entry of the flat gate vector, the variable it belongs to.
        self.gate_var_index = np.array([g.index for g in gated for _ in g.gates], dtype=np.int32)

    @property
    def n_vars(self) -> int:
        return len(self.variables)

    @property
    def n_units(self) -> int:
        return len(self.units)

    def gate_labels(self) -> list[tuple[str, str]]:
        """(variable name, gate) for each entry of the flat gate vector."""
        return [(self.names[g.index], gate) for g in self.gated for gate in g.gates]

    def sums(self, tensors) -> tuple[tf.Tensor, tf.Tensor]:
        """In-graph: (squared norm per variable, squared norm per gate) of one tensor per
        variable (gradients, weights or weight changes). One reduction per variable and a
        reshape per gated one: on the CPU this beats a segment sum over all elements
        flattened together by 4x (measured on 2 x LSTM(128): 0.5 ms against 2.3 ms)."""
        squares = [tf.square(tf.cast(t, tf.float32)) for t in tensors]
        return tf.stack([tf.reduce_sum(s) for s in squares]), self.gate_sq(squares)

    def sums_stacked(self, groups: list[list]) -> tuple[tf.Tensor, tf.Tensor]:
        """In-graph: :meth:`sums` of several tensors per variable at once (e.g. the
        gradient before and after clipping, the step's weight change and the weights):
        ``(k x variables, k x gate values)`` for ``k`` groups of one tensor per variable.

        The k tensors of a variable are stacked and reduced together: a handful of ops per
        variable instead of a handful per tensor. On a small model the op count, not the
        arithmetic, is what a step's statistics cost."""
        k = len(groups)
        stacked = [tf.square(tf.stack([tf.cast(g[i], tf.float32) for g in groups])) for i in range(self.n_vars)]
        var_sq = tf.stack([tf.reduce_sum(tf.reshape(s, [k, -1]), axis=1) for s in stacked], axis=1)
        if not self.gated:
            return var_sq, tf.zeros([k, 0], tf.float32)
        gate_sq = tf.concat(
            [
                tf.reduce_sum(tf.reshape(stacked[g.index], [k, -1, len(g.gates), int(self.variables[g.index].shape[-1]) // len(g.gates)]), axis=[1, 3])
                for g in self.gated
            ],
            axis=1,
        )
        return var_sq, gate_sq

    def expand_rows(self, var_sq: tf.Tensor) -> tf.Tensor:
        """:meth:`expand` of each row of a k x variables matrix (one matmul for all)."""
        layer_sq = tf.matmul(var_sq, tf.constant(self.membership), transpose_b=True)
        return tf.concat([var_sq, layer_sq, tf.reduce_sum(var_sq, axis=1, keepdims=True)], axis=1)

    def expand(self, var_sq: tf.Tensor) -> tf.Tensor:
        """Squared norms per variable -> squared norms per unit (variables, layers, global)."""
        layer_sq = tf.linalg.matvec(tf.constant(self.membership), var_sq)
        return tf.concat([var_sq, layer_sq, tf.reduce_sum(var_sq, keepdims=True)], axis=0)

    def expand_pair(self, a_sq: tf.Tensor, b_sq: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """:meth:`expand` of two vectors at once (one matmul for both, fewer ops a step)."""
        both = tf.stack([a_sq, b_sq])  # 2 x variables
        layer_sq = tf.matmul(both, tf.constant(self.membership), transpose_b=True)
        out = tf.concat([both, layer_sq, tf.reduce_sum(both, axis=1, keepdims=True)], axis=1)
        return out[0], out[1]

    def gate_sq(self, squares: list[tf.Tensor]) -> tf.Tensor:
        """Flat vector of squared norms per gate, from element-wise squares per variable."""
        if not self.gated:
            return tf.zeros([0], tf.float32)
        return tf.concat([gate_split_sq(squares[g.index], len(g.gates)) for g in self.gated], axis=0)


def _cell_type(layer) -> str | None:
    if layer is None:
        return None
    cls = type(getattr(layer, "cell", None) or layer).__name__.lower()
    inner = getattr(layer, "forward_layer", None)  # Bidirectional
    if inner is not None:
        cls = type(getattr(inner, "cell", inner)).__name__.lower()
    if "lstm" in cls:
        return "lstm"
    if "gru" in cls:
        return "gru"
    if "simplernn" in cls or "simple_rnn" in cls:
        return "simple_rnn"
    return None


def gate_split_sq(sq: tf.Tensor, n_gates: int) -> tf.Tensor:
    """Sum of element-wise squares per gate block of the last axis (gate-major layout).

    Keras stores an LSTM kernel as (inputs, 4 * units) with the blocks i, f, c, o in
    that order, so reshaping the last axis to (4, units) separates them.
    """
    last = tf.shape(sq)[-1]
    blocks = tf.reshape(sq, [-1, n_gates, last // n_gates])
    return tf.reduce_sum(blocks, axis=[0, 2])


class WeightTracker:
    """Weight change over an epoch: ||W_end - W_start|| and ||W_end||, per variable,
    layer, global and gate, computed in-graph from a snapshot taken at epoch start."""

    def __init__(self, layout: VariableLayout):
        self.layout = layout
        self.start = [
            tf.Variable(tf.zeros_like(v), trainable=False, name=f"start_{i}")
            for i, v in enumerate(layout.variables)
        ]

        def snapshot():
            for s, v in zip(self.start, layout.variables):
                s.assign(v)

        def measure():
            d_sq = [tf.square(tf.convert_to_tensor(v) - s) for s, v in zip(self.start, layout.variables)]
            w_sq = [tf.square(tf.convert_to_tensor(v)) for v in layout.variables]
            d_var = tf.stack([tf.reduce_sum(d) for d in d_sq])
            w_var = tf.stack([tf.reduce_sum(w) for w in w_sq])
            return {
                "delta": tf.sqrt(layout.expand(d_var)),
                "weight": tf.sqrt(layout.expand(w_var)),
                "gate_delta": tf.sqrt(layout.gate_sq(d_sq)),
                "gate_weight": tf.sqrt(layout.gate_sq(w_sq)),
            }

        self.snapshot = compiled(snapshot)
        #: In-graph: the snapshot and the measures as tensors (for a compiled epoch end,
        #: engine/bench.py and the Monitor's).
        self.snapshot_in_graph = snapshot
        self.measure_in_graph = measure
        self._measure = compiled(measure)

    def measure(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self._measure().items()}


def make_time_probe(model, loss_fn, layout: VariableLayout):
    """A compiled function ``probe(x, y) -> dict``:

    * ``time``: ||dL/dx_t|| for each time step t (norm over the batch and the features):
      how strongly the loss still depends on step t, i.e. how far back the gradient reaches.
    * ``saturation``: for the first LSTM/GRU layer, the fraction of input-driven gate
      pre-activations x_t W + b beyond +-SATURATION_THRESHOLD, per gate.
    * ``loss``: the loss on the probe batch.
    """
    first = next((g for g in layout.gated if layout.kinds[g.index] == "kernel"), None)
    bias = None
    if first is not None:
        lname = layout.var_layer[first.index]
        bias = next(
            (g for g in layout.gated if layout.var_layer[g.index] == lname and layout.kinds[g.index] == "bias"),
            None,
        )

    def probe(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(y, model(x, training=False))
        dx = tape.gradient(loss, x)
        per_t = tf.sqrt(tf.reduce_sum(tf.square(dx), axis=[0, 2]))
        out = {"time": per_t, "loss": loss}
        # Saturation reads the first gated layer's kernel against x, so it needs that
        # layer to see x itself (always so for Trainer models; a user's model may put a
        # Dense or Conv layer first, then the feature counts differ and it is skipped).
        if first is not None and x.shape[-1] == layout.variables[first.index].shape[0]:
            kernel = tf.convert_to_tensor(layout.variables[first.index])
            z = tf.einsum("btf,fk->btk", x, kernel)
            if bias is not None:
                b = tf.convert_to_tensor(layout.variables[bias.index])
                b = tf.reshape(b, [-1, tf.shape(kernel)[-1]])[0]  # GRU reset_after keeps 2 rows
                z = z + b
            n_g = len(first.gates)
            z = tf.reshape(z, [-1, n_g, tf.shape(kernel)[-1] // n_g])
            sat = tf.cast(tf.abs(z) > SATURATION_THRESHOLD, tf.float32)
            out["saturation"] = tf.reduce_mean(sat, axis=[0, 2])
        return out

    return _Probe(probe, first.gates if first is not None else ())


class _Probe:
    """The compiled probe, a plain graph. Not XLA: compiling it with XLA made the probe
    about 4x faster on the CPU (0.74 ms against 2.8 ms for LSTM(16) over 40 steps, a few
    ms per epoch), but loading XLA's compiler costs a kernel about 120 MB resident for
    good (measured: 813 MB against 694 MB after one Trainer), which put a lesson kernel
    over its 1 GB budget on a machine like CI's.

    Attributes:
        gates: The gates of the "saturation" entry (empty when it is skipped).
        fn: The probe's Python function, for a compiled function that runs it together
            with other work (the Trainer's epoch end, engine/bench.py).
    """

    def __init__(self, fn, gates):
        self.gates = gates
        self.fn = fn
        self._fn = compiled(fn, reduce_retracing=True)

    def __call__(self, x, y):
        return self._fn(x, y)
