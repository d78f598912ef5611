"""The compiled train step: clipping is Keras's own clipping, with a live threshold."""

from __future__ import annotations

import numpy as np
import pytest
from lstm_widgets.engine._tf import keras, tf
from lstm_widgets.engine.instrument import CLIP_MODE_IDS, clip_gradients

from support.runs import train as run


@pytest.mark.parametrize("mode", ["clipnorm", "global_clipnorm", "clipvalue"])
@pytest.mark.parametrize("threshold", [0.05, 1.0, 100.0])
def test_clipping_matches_keras_optimizer(mode, threshold):
    rng = np.random.default_rng(0)
    grads = [
        tf.constant(rng.normal(size=(3, 8)).astype("float32") * 2.0),
        tf.constant(rng.normal(size=(8,)).astype("float32") * 0.01),
        tf.zeros((2, 2)),  # a zero gradient must stay zero, not NaN
    ]
    keras_opt = keras.optimizers.SGD(learning_rate=0.1, **{mode: threshold})
    expected = keras_opt._clip_gradients(grads)
    sq = tf.stack([tf.reduce_sum(tf.square(g)) for g in grads])
    ours, flags = clip_gradients(grads, sq, tf.constant(CLIP_MODE_IDS[mode]), tf.constant(threshold))
    for e, o in zip(expected, ours):
        np.testing.assert_allclose(o.numpy(), np.asarray(e), rtol=1e-6, atol=1e-7)
    if threshold == 100.0:
        assert not flags.numpy().any()
    if threshold == 0.05:
        assert flags.numpy()[0]


def test_no_clipping_passes_gradients_through():
    grads = [tf.constant([[3.0, 4.0]])]
    out, flags = clip_gradients(grads, tf.constant([25.0]), tf.constant(0), tf.constant(1.0))
    np.testing.assert_array_equal(out[0].numpy(), [[3.0, 4.0]])
    assert not flags.numpy().any()


def test_post_clip_norms_respect_the_threshold_in_training(sine):
    t = run(sine, clipping="clipnorm", clip_threshold=0.01, epochs=1)
    rec = t.history.latest
    for var in t.history.structure.variables:
        assert rec.units["grad_post_max"][var] <= 0.01 * (1 + 1e-4)
        assert rec.units["grad_pre_mean"][var] >= rec.units["grad_post_mean"][var]
    assert rec.units["clip_fraction"]["global"] == 1.0


@pytest.mark.parametrize("mode", ["none", "clipnorm", "global_clipnorm", "clipvalue"])
def test_post_clip_norms_worked_out_from_the_pre_clip_ones_equal_measured_ones(mode):
    """The train step rescales the pre-clip norms instead of measuring the clipped
    gradients again; the numbers must be the same as measuring them."""
    from lstm_widgets.engine.instrument import clip_with_sums
    from lstm_widgets.engine.probes import VariableLayout

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    layout = VariableLayout(model)
    grads = [tf.random.normal(v.shape) * (3.0 if i % 2 else 0.1) for i, v in enumerate(layout.variables)]
    clipped, _, (var_sq, gate_sq) = clip_with_sums(grads, layout.sums(grads), layout, CLIP_MODE_IDS[mode], 0.5)
    want_var, want_gate = layout.sums(clipped)
    np.testing.assert_allclose(var_sq.numpy(), want_var.numpy(), rtol=1e-5)
    np.testing.assert_allclose(gate_sq.numpy(), want_gate.numpy(), rtol=1e-5)
