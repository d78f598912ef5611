"""Variable layout, per-gate splits and the gradient-through-time probe."""

from __future__ import annotations

import math

import numpy as np
from lstm_widgets.engine._tf import tf
from lstm_widgets.engine.probes import gate_split_sq

from support.runs import train as run


def test_gate_split_squares_add_up_to_the_whole():
    x = tf.random.normal((5, 4 * 7))
    sq = tf.square(x)
    parts = gate_split_sq(sq, 4).numpy()
    assert parts.shape == (4,)
    np.testing.assert_allclose(parts.sum(), tf.reduce_sum(sq).numpy(), rtol=1e-5)
    # gate f is the second block of the last axis (Keras order i, f, c, o)
    np.testing.assert_allclose(parts[1], tf.reduce_sum(sq[:, 7:14]).numpy(), rtol=1e-5)


def test_gradient_through_time_has_one_value_per_step(sine):
    t = run(sine, epochs=1)
    g = t.history.latest.grad_through_time
    assert len(g) == sine.n_timesteps and all(v >= 0 and math.isfinite(v) for v in g)
    assert g[-1] > 0
