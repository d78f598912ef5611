"""The instrumented train step.

Gradient clipping happens here, not in the Keras optimizer, because Keras reads its
``clipnorm`` as a Python float when the train function is traced: changing it later does
nothing. Here the mode and the threshold are ``tf.Variable``s, so a slider takes effect
at the next batch. The clipping formulas are Keras's own (``Optimizer._clip_gradients``).

Per step the compiled function adds the pre- and post-clip norms of every variable,
layer and gate, and the update the optimizer really applied (||ΔW_step|| / ||W||, read
from the variables before and after ``optimizer.apply``), to accumulators held in
``tf.Variable``s; the host reads them once per epoch with
:meth:`GradientStats.read_and_reset`.
"""

from __future__ import annotations

import numpy as np

from ._tf import compiled, tf
from .probes import VariableLayout

__all__ = [
    "CLIP_MODE_IDS",
    "clip_gradients",
    "clip_with_sums",
    "GradientStats",
    "accumulate",
    "add_loss",
    "make_train_step",
]

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


def clip_with_sums(grads, sums, layout, mode, threshold):
    """:func:`clip_gradients`, and the squared norms per variable and per gate after it,
    worked out from those before it where clipping only rescales (by norm: a factor per
    variable, or one for all), so the post-clip statistics cost no second pass over the
    gradients; element-wise clipping (clipvalue) measures them again.

    Returns:
        ``(clipped, flags, (post_var_sq, post_gate_sq))``.
    """
    n = len(grads)
    var_sq, gate_sq = sums
    gate_var = tf.constant(layout.gate_var_index, tf.int32)
    norms = tf.sqrt(var_sq)
    threshold = tf.convert_to_tensor(threshold)

    def scaled(var_factor_sq):
        return var_sq * var_factor_sq, gate_sq * tf.gather(var_factor_sq, gate_var) if layout.n_gate_values else gate_sq

    def none():
        return list(grads), tf.zeros([n], tf.bool), (var_sq, gate_sq)

    def per_variable():
        factor = threshold / tf.maximum(norms, threshold)  # keras _clip_by_norm: g * t / max(||g||, t)
        return [g * factor[i] for i, g in enumerate(grads)], norms > threshold, scaled(tf.square(factor))

    def global_norm():
        gn = tf.sqrt(tf.reduce_sum(var_sq))
        scale = threshold * tf.minimum(1.0 / gn, 1.0 / threshold)  # keras clip_by_global_norm
        scale = scale + (gn - gn)  # NaN when gn is not finite, as Keras
        return [g * scale for g in grads], tf.fill([n], gn > threshold), scaled(tf.fill([n], tf.square(scale)))

    def value():
        out = [tf.clip_by_value(g, -threshold, threshold) for g in grads]
        flags = tf.stack([tf.reduce_any(tf.abs(g) > threshold) for g in grads])
        return out, flags, layout.sums(out)

    return tf.switch_case(tf.convert_to_tensor(mode), [none, per_variable, global_norm, value])


def weight_norm(variables) -> float:
    """||W|| over ``variables`` (all of them at once), as a Python float."""
    total = sum(float(np.sum(np.square(np.asarray(v, dtype=np.float64)))) for v in variables)
    return float(np.sqrt(total))


def finite_or_inf(x):
    """In-graph: x with every non-finite value replaced by +inf (for running maxima)."""
    return tf.where(tf.math.is_finite(x), x, tf.fill(tf.shape(x), np.float32(np.inf)))


class GradientStats:
    """Accumulators for one epoch's gradient statistics, kept on the device.

    A step's numbers go into two packed vectors, one running sum and one running maximum
    for every unit, gate and count at once (plus the epoch's first gradient norms), rather
    than a variable per field: on a small model a step's statistics are dozens of tiny ops,
    and their count, not their arithmetic, is the cost. :meth:`read_and_reset` unpacks them
    into named fields:

    * per unit (variables, layers, "global"): ``pre_sum``, ``pre_max``, ``pre_first``,
      ``post_sum``, ``post_max``, ``clipped``, ``upd_sum``, ``upd_max``;
    * per gate: ``gate_pre_sum``, ``gate_pre_max``, ``gate_post_sum``, ``gate_post_max``,
      ``gate_upd_sum``, ``gate_upd_max``;
    * ``nonfinite`` per variable; ``loss_sum``, ``samples`` and ``steps``.
    """

    def __init__(self, layout: VariableLayout):
        self.layout = layout
        u, g, v = layout.n_units, layout.n_gate_values, layout.n_vars
        mk = lambda n, name: tf.Variable(tf.zeros([n]), trainable=False, name=name)  # noqa: E731
        #: sum: [norms: pre per unit | pre per gate | post per unit | post per gate
        #:       | clipped (u) | nonfinite (v) | applied update per unit, then per gate
        #:       | loss x samples, samples, steps];
        #: max: [the norms | the applied update]
        self._n_norms = 2 * (u + g)
        self._n_sum = self._n_norms + u + v + (u + g) + 3
        self.acc = {
            "sum": mk(self._n_sum, "stats_sum"),
            "max": mk(self._n_norms + u + g, "stats_max"),
            "pre_first": mk(u, "pre_first"),
        }

        @compiled
        def read_and_reset():
            return self.read_and_reset_in_graph()

        self._read_and_reset = read_and_reset

    def read_and_reset_in_graph(self) -> dict[str, tf.Tensor]:
        """In-graph: the accumulators' values, and zero them (for a compiled epoch end
        that reads them together with other numbers)."""
        out = {k: tf.identity(a) for k, a in self.acc.items()}
        with tf.control_dependencies(list(out.values())):
            for a in self.acc.values():
                a.assign(tf.zeros_like(a))
        return out

    def add(self, sums, maxima, pre_units) -> None:
        """In-graph: add one step's packed vectors (the layouts of ``acc["sum"]`` and
        ``acc["max"]``, see :func:`accumulate`) and keep the epoch's first pre-clip norms."""
        a = self.acc
        first = a["sum"][-1] > 0  # steps so far: read before this step's count is added
        a["pre_first"].assign(tf.where(first, a["pre_first"], pre_units))
        a["sum"].assign_add(sums)
        a["max"].assign(tf.maximum(a["max"], finite_or_inf(maxima)))

    def unpack(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The named fields (see the class doc) of the packed accumulators' values."""
        u, g, v = self.layout.n_units, self.layout.n_gate_values, self.layout.n_vars
        out: dict[str, np.ndarray] = {}
        pos = 0
        for name, n in (("pre", u), ("gate_pre", g), ("post", u), ("gate_post", g)):
            out[f"{name}_sum"] = raw["sum"][pos : pos + n]
            out[f"{name}_max"] = raw["max"][pos : pos + n]
            pos += n
        sums, maxima = raw["sum"][pos:], raw["max"][pos:]
        out["clipped"], out["nonfinite"] = sums[:u], sums[u : u + v]
        upd = sums[u + v : u + v + u + g]
        out["upd_sum"], out["gate_upd_sum"] = upd[:u], upd[u:]
        out["upd_max"], out["gate_upd_max"] = maxima[:u], maxima[u : u + g]
        out["pre_first"] = raw["pre_first"]
        out["loss_sum"], out["samples"], out["steps"] = (sums[-3 + i : len(sums) - 2 + i] for i in range(3))
        return out

    def read_and_reset(self) -> dict[str, np.ndarray]:
        """The epoch's accumulated numbers (one device->host transfer), and zero them."""
        return self.unpack({k: v.numpy() for k, v in self._read_and_reset().items()})


def accumulate(stats, layout, var_sq, gate_sq, grads, flags, loss, batch) -> None:
    """In-graph: add one step's numbers to ``stats``, all of them in a few packed ops.

    Shared by :func:`make_train_step` and by the optimizer hook behind ``watch()``, which
    both read every trainable variable before and after the optimizer's apply.

    Args:
        stats: The GradientStats to add to.
        layout: The VariableLayout the values follow (one per variable, in order).
        var_sq, gate_sq: Squared norms, ``(rows x variables)`` and ``(rows x gate
            values)`` (:meth:`VariableLayout.sums_stacked`), rows: the pre-clip gradient,
            the post-clip gradient and, when the caller saw the step's apply, the step's
            weight change and the weights after it (the update ||ΔW_step|| / ||W||; a
            step without them adds no update).
        grads: The pre-clip gradient tensors (non-finite elements are counted in them
            only when a squared norm is not finite).
        flags: bool per variable: did clipping change its gradient this step.
        loss: The step's loss (0 when unknown).
        batch: The step's samples, float32 (0 when unknown).
    """
    u, g = layout.n_units, layout.n_gate_values
    rows = tf.concat([layout.expand_rows(var_sq), gate_sq], axis=1)  # rows x (units + gates)
    norms = tf.sqrt(rows)
    grad_norms = tf.reshape(norms[:2], [-1])  # pre (units, gates), then post
    if var_sq.shape[0] == 4:  # ||ΔW|| / ||W||: 0 where nothing moved, +inf where a zero weight moved
        d, w = norms[2], norms[3]
        ratio = tf.where(w > 0, d / tf.where(w > 0, w, 1.0), tf.where(d > 0, np.float32(np.inf), 0.0))
    else:
        ratio = tf.zeros([u + g], tf.float32)
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
        tf.reduce_all(tf.math.is_finite(var_sq[0])),
        lambda: tf.zeros([layout.n_vars], tf.float32),
        lambda: tf.stack(
            [tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(t)), tf.float32)) for t in grads]
        ),
    )
    loss = tf.reshape(tf.cast(loss, tf.float32), [])
    batch = tf.reshape(tf.cast(batch, tf.float32), [])
    counts = tf.stack([loss * batch, batch, 1.0])
    stats.add(
        tf.concat([grad_norms, unit_flags, nonfinite, ratio, counts], axis=0),
        tf.concat([grad_norms, ratio], axis=0),
        norms[0, :u],
    )


def add_loss(stats, loss, batch) -> None:
    """In-graph: add only one step's loss (weighted by its samples) and count the step."""
    loss = tf.reshape(tf.cast(loss, tf.float32), [])
    batch = tf.reshape(tf.cast(batch, tf.float32), [])
    n = stats.acc["sum"].shape[0]
    stats.acc["sum"].assign_add(tf.concat([tf.zeros([n - 3]), tf.stack([loss * batch, batch, 1.0])], 0))


def make_train_step(model, optimizer, loss_fn, layout, stats, X, Y, clip_mode, clip_threshold,
                    instruments: bool = True):
    """A compiled ``step(idx)``: one batch ``X[idx], Y[idx]`` forward and backward, clip,
    apply, and accumulate the statistics. X and Y are tf.Variables holding the (scaled)
    training data on the device, so a rescale swaps their values without a retrace.

    With ``instruments=False`` the same step accumulates only the loss: the bare loop
    ``benchmarks/overhead.py`` measures the statistics' cost against."""
    tvars = layout.variables
    optimizer.build(tvars)

    @compiled(input_signature=[tf.TensorSpec([None], tf.int32)])
    def step(idx):
        x = tf.gather(X, idx)
        y = tf.gather(Y, idx)
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = loss_fn(y, pred)
        grads = tape.gradient(loss, tvars)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, tvars)]
        if not instruments:
            var_sq = tf.stack([tf.reduce_sum(tf.square(g)) for g in grads])
            clipped, _ = clip_gradients(grads, var_sq, clip_mode, clip_threshold)
            optimizer.apply(clipped, tvars)
            add_loss(stats, loss, tf.cast(tf.shape(idx)[0], tf.float32))
            return
        pre = layout.sums(grads)
        clipped, flags, post = clip_with_sums(grads, pre, layout, clip_mode, clip_threshold)
        before = [tf.identity(v) for v in tvars]
        optimizer.apply(clipped, tvars)
        after = [tf.identity(v) for v in tvars]
        var_sq, gate_sq = layout.sums_stacked([[a - b for a, b in zip(after, before)], after])
        accumulate(stats, layout, tf.concat([tf.stack([pre[0], post[0]]), var_sq], 0),
                   tf.concat([tf.stack([pre[1], post[1]]), gate_sq], 0), grads, flags, loss,
                   tf.cast(tf.shape(idx)[0], tf.float32))

    return step
