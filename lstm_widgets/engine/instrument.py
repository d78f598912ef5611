"""The instrumented train step.

Gradient clipping happens here, not in the Keras optimizer, because Keras reads its
``clipnorm`` as a Python float when the train function is traced: changing it later does
nothing. Here the mode and the threshold are ``tf.Variable``s, so a slider takes effect
at the next batch. The clipping formulas are Keras's own (``Optimizer._clip_gradients``).

Per step the compiled function adds the pre- and post-clip norms of every variable,
layer and gate to accumulators held in ``tf.Variable``s; the host reads them once per
epoch with :meth:`GradientStats.read_and_reset`.
"""

from __future__ import annotations

import numpy as np

from ._tf import tf
from .probes import VariableLayout

__all__ = ["CLIP_MODE_IDS", "clip_gradients", "GradientStats", "accumulate_step", "make_train_step"]

CLIP_MODE_IDS = {"none": 0, "clipnorm": 1, "global_clipnorm": 2, "clipvalue": 3}


def clip_gradients(grads, sq_norms, mode, threshold):
    """Clip ``grads`` as Keras's optimizers do; returns (clipped, clipped_flag per variable).

    Args:
        grads: list of gradient tensors.
        sq_norms: their squared L2 norms, a vector.
        mode: int32 scalar, one of CLIP_MODE_IDS.
        threshold: float32 scalar, in gradient-norm units (element units for clipvalue).
    """
    n = len(grads)
    norms = tf.sqrt(sq_norms)

    def none():
        return list(grads), tf.zeros([n], tf.bool)

    def per_variable():
        # keras Optimizer._clip_by_norm: g * t / max(||g||, t), with 0 for a zero gradient.
        out = []
        for i, g in enumerate(grads):
            norm = norms[i]
            out.append(g * threshold / tf.maximum(norm, threshold))
        return out, norms > threshold

    def global_norm():
        # keras clip_by_global_norm: scale = t * min(1/gn, 1/t); NaN when gn is not finite.
        gn = tf.sqrt(tf.reduce_sum(sq_norms))
        scale = threshold * tf.minimum(1.0 / gn, 1.0 / threshold)
        scale = scale + (gn - gn)
        return [g * scale for g in grads], tf.fill([n], gn > threshold)

    def value():
        out = [tf.clip_by_value(g, -threshold, threshold) for g in grads]
        flags = tf.stack([tf.reduce_any(tf.abs(g) > threshold) for g in grads])
        return out, flags

    mode = tf.convert_to_tensor(mode)
    threshold = tf.convert_to_tensor(threshold)
    return tf.switch_case(mode, [none, per_variable, global_norm, value])


class GradientStats:
    """Accumulators for one epoch's gradient statistics, kept on the device."""

    FIELDS = ("pre_sum", "pre_max", "post_sum", "post_max", "clipped")
    GATE_FIELDS = ("gate_pre_sum", "gate_pre_max", "gate_post_sum", "gate_post_max")

    def __init__(self, layout: VariableLayout):
        self.layout = layout
        u, g, v = layout.n_units, max(layout.n_gate_values, 1), layout.n_vars
        mk = lambda n, name: tf.Variable(tf.zeros([n]), trainable=False, name=name)  # noqa: E731
        self.acc = {f: mk(u, f) for f in self.FIELDS}
        self.acc.update({f: mk(g, f) for f in self.GATE_FIELDS})
        self.acc["nonfinite"] = mk(v, "nonfinite")
        self.acc["loss_sum"] = mk(1, "loss_sum")
        self.acc["samples"] = mk(1, "samples")
        self.acc["steps"] = mk(1, "steps")

        @tf.function
        def read_and_reset():
            out = {k: tf.identity(a) for k, a in self.acc.items()}
            with tf.control_dependencies(list(out.values())):
                for a in self.acc.values():
                    a.assign(tf.zeros_like(a))
            return out

        self._read_and_reset = read_and_reset

    def update(self, pre_sq, post_sq, gate_pre_sq, gate_post_sq, clipped, nonfinite, loss, batch):
        """In-graph: add one step's numbers. Max fields treat a non-finite norm as +inf."""
        a = self.acc

        def finite_or_inf(x):
            return tf.where(tf.math.is_finite(x), x, tf.fill(tf.shape(x), np.float32(np.inf)))

        groups = [("", pre_sq, post_sq)]
        if self.layout.n_gate_values:
            groups.append(("gate_", gate_pre_sq, gate_post_sq))
        for prefix, *squares in groups:
            for kind, sq in zip(("pre", "post"), squares):
                norm = tf.sqrt(sq)
                a[f"{prefix}{kind}_sum"].assign_add(norm)
                a[f"{prefix}{kind}_max"].assign(tf.maximum(a[f"{prefix}{kind}_max"], finite_or_inf(norm)))
        a["clipped"].assign_add(clipped)
        a["nonfinite"].assign_add(nonfinite)
        a["loss_sum"].assign_add(tf.reshape(loss * batch, [1]))
        a["samples"].assign_add(tf.reshape(batch, [1]))
        a["steps"].assign_add(tf.ones([1]))

    def read_and_reset(self) -> dict[str, np.ndarray]:
        """The epoch's accumulated numbers (one device->host transfer), and zero them."""
        return {k: v.numpy() for k, v in self._read_and_reset().items()}


def accumulate_step(stats, layout, grads, squares, var_sq, clipped, flags, loss, batch):
    """In-graph: add one step's pre- and post-clip numbers to ``stats``.

    Shared by :func:`make_train_step` and by :class:`lstm_widgets.watch.Monitor`, which
    calls it from inside a Keras optimizer's own clipping.

    Args:
        stats: The GradientStats to add to.
        layout: The VariableLayout the gradients follow (one per variable, in order).
        grads: Pre-clip gradient tensors.
        squares: Their element-wise squares.
        var_sq: Their squared norms, a vector.
        clipped: Post-clip gradient tensors.
        flags: bool per variable: did clipping change its gradient this step.
        loss: The step's loss (0 when unknown).
        batch: The step's samples, float32 (0 when unknown).
    """
    post_squares = [tf.square(g) for g in clipped]
    post_var_sq = tf.stack([tf.reduce_sum(s) for s in post_squares])
    flags_f = tf.cast(flags, tf.float32)
    unit_flags = tf.concat(
        [
            flags_f,
            tf.cast(tf.linalg.matvec(tf.constant(layout.membership), flags_f) > 0, tf.float32),
            tf.cast(tf.reduce_any(flags), tf.float32)[None],
        ],
        axis=0,
    )
    # Counting non-finite elements touches every element again; a finite squared norm
    # proves there are none, so count only when one is not finite.
    nonfinite = tf.cond(
        tf.reduce_all(tf.math.is_finite(var_sq)),
        lambda: tf.zeros([len(grads)], tf.float32),
        lambda: tf.stack(
            [tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(g)), tf.float32)) for g in grads]
        ),
    )
    stats.update(
        layout.expand(var_sq),
        layout.expand(post_var_sq),
        layout.gate_sq(squares),
        layout.gate_sq(post_squares),
        unit_flags,
        nonfinite,
        loss,
        batch,
    )


def make_train_step(model, optimizer, loss_fn, layout, stats, X, Y, clip_mode, clip_threshold):
    """A compiled ``step(idx)``: one batch ``X[idx], Y[idx]`` forward and backward, clip,
    apply, and accumulate the statistics. X and Y are tf.Variables holding the (scaled)
    training data on the device, so a rescale swaps their values without a retrace."""
    tvars = layout.variables
    optimizer.build(tvars)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def step(idx):
        x = tf.gather(X, idx)
        y = tf.gather(Y, idx)
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = loss_fn(y, pred)
        grads = tape.gradient(loss, tvars)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, tvars)]
        squares = [tf.square(g) for g in grads]
        var_sq = tf.stack([tf.reduce_sum(s) for s in squares])
        clipped, flags = clip_gradients(grads, var_sq, clip_mode, clip_threshold)
        optimizer.apply(clipped, tvars)
        accumulate_step(
            stats, layout, grads, squares, var_sq, clipped, flags,
            loss, tf.cast(tf.shape(idx)[0], tf.float32),
        )

    return step
