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
    "accumulate_step",
    "accumulate_update",
    "accumulate_update_sums",
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


def _ratio(delta_sq, weight_sq):
    """sqrt(delta_sq) / sqrt(weight_sq), 0 where nothing moved, +inf where a zero weight moved."""
    d, w = tf.sqrt(delta_sq), tf.sqrt(weight_sq)
    return tf.where(w > 0, d / tf.where(w > 0, w, tf.ones_like(w)), tf.where(d > 0, np.float32(np.inf), 0.0))


def accumulate_update(stats, layout, before, after) -> None:
    """In-graph: add the update one step really applied, ||W_after - W_before|| / ||W_after||,
    per variable, layer, "global" and gate, to ``stats``.

    Shared by :func:`make_train_step` and by the optimizer hook behind ``watch()``: both
    read every trainable variable before and after the optimizer's apply.

    Args:
        stats: The GradientStats to add to.
        layout: The VariableLayout the values follow.
        before, after: The variables' values before and after the step, one tensor each.
    """
    d_var, d_gate = layout.sums([a - b for a, b in zip(after, before)])
    w_var, w_gate = layout.sums(after)
    accumulate_update_sums(stats, layout, (d_var, d_gate), (w_var, w_gate))


def accumulate_update_sums(stats, layout, delta, weight) -> None:
    """:func:`accumulate_update` from the squared norms ``(per variable, per gate)`` of
    the step's weight change and of the weights after it, when the caller has them."""
    d_unit, w_unit = layout.expand_pair(delta[0], weight[0])
    stats.add_update(_ratio(tf.concat([d_unit, delta[1]], 0), tf.concat([w_unit, weight[1]], 0)))


class GradientStats:
    """Accumulators for one epoch's gradient statistics, kept on the device.

    The numbers of a step go into a few packed vectors (one ``assign_add`` or running
    maximum for all units and gates at once) rather than a variable per field: on a small
    model a step's statistics are dozens of tiny ops, and their count, not their
    arithmetic, is the cost. :meth:`read_and_reset` unpacks them into named fields:

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
        #: norms: [pre per unit | pre per gate | post per unit | post per gate]
        self._norms = [("pre", u), ("gate_pre", g), ("post", u), ("gate_post", g)]
        self.acc = {
            "grad_sum": mk(2 * (u + g) + u + v, "grad_sum"),  # norms, clipped (u), nonfinite (v)
            "grad_max": mk(2 * (u + g), "grad_max"),
            "upd_sum": mk(u + g, "upd_sum"),  # applied update per unit, then per gate
            "upd_max": mk(u + g, "upd_max"),
            "pre_first": mk(u, "pre_first"),
            "count": mk(3, "count"),  # loss x samples, samples, steps
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

    def update(self, pre_sq, post_sq, gate_pre_sq, gate_post_sq, clipped, nonfinite, loss, batch):
        """In-graph: add one step's squared norms (per unit and per gate, pre- and
        post-clip), clipping flags per unit, non-finite counts per variable, and loss.
        Max fields treat a non-finite norm as +inf."""
        a = self.acc
        norms = tf.sqrt(tf.concat([pre_sq, gate_pre_sq, post_sq, gate_post_sq], axis=0))
        a["grad_sum"].assign_add(tf.concat([norms, clipped, nonfinite], axis=0))
        a["grad_max"].assign(tf.maximum(a["grad_max"], finite_or_inf(norms)))
        # the epoch's first step: where the gradient started
        a["pre_first"].assign(tf.where(a["count"][2] > 0, a["pre_first"], norms[: self.layout.n_units]))
        self.add_loss(loss, batch)

    def add_loss(self, loss, batch) -> None:
        """In-graph: add one step's loss (weighted by its samples) and count the step."""
        loss = tf.reshape(tf.cast(loss, tf.float32), [])
        batch = tf.reshape(tf.cast(batch, tf.float32), [])
        self.acc["count"].assign_add(tf.stack([loss * batch, batch, 1.0]))

    def add_update(self, ratio) -> None:
        """In-graph: add one step's applied update ||ΔW_step|| / ||W||, per unit then per gate."""
        a = self.acc
        a["upd_sum"].assign_add(ratio)
        a["upd_max"].assign(tf.maximum(a["upd_max"], finite_or_inf(ratio)))

    def unpack(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The named fields (see the class doc) of the packed accumulators' values."""
        u, g = self.layout.n_units, self.layout.n_gate_values
        out: dict[str, np.ndarray] = {}
        pos = 0
        for name, n in self._norms:
            out[f"{name}_sum"] = raw["grad_sum"][pos : pos + n]
            out[f"{name}_max"] = raw["grad_max"][pos : pos + n]
            pos += n
        out["clipped"] = raw["grad_sum"][pos : pos + u]
        out["nonfinite"] = raw["grad_sum"][pos + u :]
        out["upd_sum"], out["gate_upd_sum"] = raw["upd_sum"][:u], raw["upd_sum"][u : u + g]
        out["upd_max"], out["gate_upd_max"] = raw["upd_max"][:u], raw["upd_max"][u : u + g]
        out["pre_first"] = raw["pre_first"]
        out["loss_sum"], out["samples"], out["steps"] = (raw["count"][i : i + 1] for i in range(3))
        return out

    def read_and_reset(self) -> dict[str, np.ndarray]:
        """The epoch's accumulated numbers (one device->host transfer), and zero them."""
        return self.unpack({k: v.numpy() for k, v in self._read_and_reset().items()})


def accumulate_step(stats, layout, grads, clipped, flags, loss, batch, pre=None, post=None) -> None:
    """In-graph: add one step's pre- and post-clip numbers to ``stats``.

    Shared by :func:`make_train_step` and by the optimizer hook behind ``watch()``, which
    calls it from inside a Keras optimizer's own clipping.

    Args:
        stats: The GradientStats to add to.
        layout: The VariableLayout the gradients follow (one per variable, in order).
        grads: Pre-clip gradient tensors.
        clipped: Post-clip gradient tensors.
        flags: bool per variable: did clipping change its gradient this step.
        loss: The step's loss (0 when unknown).
        batch: The step's samples, float32 (0 when unknown).
        pre, post: ``(var_sq, gate_sq)`` of the pre- and post-clip gradients when the
            caller has them already (:meth:`VariableLayout.sums`, :func:`clip_with_sums`).
            Defaults to None: computed here.
    """
    var_sq, gate_sq = pre if pre is not None else layout.sums(grads)
    post_var_sq, post_gate_sq = post if post is not None else layout.sums(clipped)
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
        lambda: tf.zeros([layout.n_vars], tf.float32),
        lambda: tf.stack(
            [tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(g)), tf.float32)) for g in grads]
        ),
    )
    pre_unit, post_unit = layout.expand_pair(var_sq, post_var_sq)
    stats.update(
        pre_unit,
        post_unit,
        gate_sq,
        post_gate_sq,
        unit_flags,
        nonfinite,
        loss,
        batch,
    )


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
            stats.add_loss(loss, tf.cast(tf.shape(idx)[0], tf.float32))
            return
        pre = layout.sums(grads)
        clipped, flags, post = clip_with_sums(grads, pre, layout, clip_mode, clip_threshold)
        before = [tf.identity(v) for v in tvars]
        optimizer.apply(clipped, tvars)
        accumulate_update(stats, layout, before, [tf.identity(v) for v in tvars])
        accumulate_step(stats, layout, grads, clipped, flags, loss, tf.cast(tf.shape(idx)[0], tf.float32), pre, post)

    return step
