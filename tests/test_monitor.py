"""watch() / Monitor on users' own models: clipping modes, architectures, divergence, bad input."""

from __future__ import annotations

import math

import numpy as np

import lstm_widgets
import pytest
from lstm_widgets.engine._tf import keras

from support.runs import fit_watched, user_model

TOL = 1 + 1e-5


def check_record_layout(monitor, epochs, steps=4):
    h = monitor.history
    assert len(h) == epochs and [r.epoch for r in h] == list(range(1, epochs + 1))
    for r in h:
        assert set(r.units) >= {"grad_pre_mean", "grad_pre_max", "grad_post_mean", "grad_post_max",
                                "clip_fraction", "weight_norm", "delta_norm", "update_ratio"}
        units = set(h.structure.variables) | set(h.structure.layers) | {"global"}
        assert set(r.units["grad_pre_mean"]) == units
        for u in units:
            pre, post = r.units["grad_pre_max"][u], r.units["grad_post_max"][u]
            assert pre > 0 and math.isfinite(pre)
            assert post <= pre * TOL
            assert r.units["grad_post_mean"][u] <= r.units["grad_pre_mean"][u] * TOL
            assert r.units["delta_norm"][u] > 0
        assert r.steps == steps and r.complete and r.status == "ok" and math.isfinite(r.loss)
        assert set(r.nonfinite) == set(h.structure.variables) and sum(r.nonfinite.values()) == 0


def test_user_model_clipnorm_recorded(data):
    model = user_model(clipnorm=0.01)
    monitor = fit_watched(model, data, epochs=3, validation_split=0.25)
    check_record_layout(monitor, 3, steps=3)  # 96 training samples, batch 32
    h = monitor.history
    r = h.latest
    assert r.settings.clipping == "clipnorm" and r.settings.clip_threshold == pytest.approx(0.01)
    assert r.settings.optimizer == "adam" and r.settings.learning_rate == pytest.approx(1e-3)
    assert r.val_loss is not None and math.isfinite(r.val_loss)
    for v in h.structure.variables:  # each variable clipped on its own
        assert r.units["grad_post_max"][v] <= 0.01 * TOL
        if r.units["grad_pre_max"][v] > 0.01 * TOL:
            assert r.units["clip_fraction"][v] > 0
    assert r.units["clip_fraction"]["global"] == 1.0
    # per gate, for the LSTM's kernel, recurrent kernel and bias
    lstm = model.layers[0].name  # Keras numbers auto-names per process: "lstm", "lstm_3", ...
    assert set(r.gates) == {f"{lstm}/lstm_cell/{k}" for k in ("kernel", "recurrent_kernel", "bias")}
    for per_gate in r.gates.values():
        assert list(per_gate) == ["i", "f", "c", "o"]
        for g in per_gate.values():
            assert g["grad_post_mean"] <= g["grad_pre_mean"] * TOL and g["delta_norm"] > 0
    assert len(r.grad_through_time) == 30 and all(v > 0 for v in r.grad_through_time)
    assert h.runs[1].status == "finished"
    # a plain fit after it records nothing; detach() gives Keras its own step back
    model.fit(*data, epochs=1, verbose=0)
    assert len(h) == 3
    monitor.detach()
    assert "_clip_gradients" not in model.optimizer.__dict__ and model.train_function is None
    model.fit(*data, epochs=1, verbose=0)
    assert len(h) == 3


def test_fit_after_fit_is_traced_once_and_a_paused_hook_measures_nothing(data):
    model = user_model(clipnorm=1.0)
    monitor = fit_watched(model, data, epochs=1)
    traced = model.train_function
    n = monitor._hook.traces
    stats = monitor._recorder.stats
    model.fit(*data, epochs=1, verbose=0)  # without the Monitor: the hook is paused
    assert model.train_function is traced and monitor._hook.traces == n
    assert all(float(abs(v.numpy()).sum()) == 0 for v in stats.acc.values()), "a paused hook accumulated"
    model.fit(*data, epochs=2, callbacks=[monitor], verbose=0)
    assert model.train_function is traced and monitor._hook.traces == n
    h = monitor.history
    assert [r.epoch for r in h] == [1, 2, 3] and h.run_ids == [1]
    assert all(r.steps == 4 and r.units["grad_pre_max"]["global"] > 0 for r in h)
    # the clipping changed: Keras traces its step again, and the wrappers with it
    model.optimizer.clipnorm = 1e-3
    model.fit(*data, epochs=1, callbacks=[monitor], verbose=0)
    assert model.train_function is not traced
    assert h.latest.settings.clip_threshold == pytest.approx(1e-3)
    assert all(h.latest.units["grad_post_max"][v] <= 1e-3 * TOL for v in h.structure.variables)
    # a second Monitor on the same model takes the wrappers over: one set measures at a time
    other = fit_watched(model, data, epochs=1)
    assert len(other.history) == 1 and other.history.latest.units["grad_pre_max"]["global"] > 0
    assert model.optimizer.__dict__["_lstm_widgets_hook"] is other._hook
    model.fit(*data, epochs=1, callbacks=[monitor], verbose=0)
    assert len(h) == 5 and h.latest.units["grad_pre_max"]["global"] > 0
    monitor.detach()
    assert "_lstm_widgets_hook" not in model.optimizer.__dict__


def test_global_clipnorm_and_clipvalue(data):
    m = fit_watched(user_model(global_clipnorm=0.01), data)
    check_record_layout(m, 2)
    r = m.history.latest
    assert r.settings.clipping == "global_clipnorm"
    assert r.units["grad_post_max"]["global"] <= 0.01 * TOL
    assert r.units["clip_fraction"]["global"] == 1.0

    m = fit_watched(user_model(clipvalue=1e-3), data, probe=False)
    check_record_layout(m, 2)
    r = m.history.latest
    assert r.settings.clipping == "clipvalue" and r.grad_through_time == []
    for v in m.history.structure.variables:
        assert r.units["clip_fraction"][v] > 0


def test_no_clipping_pre_equals_post_and_second_fit_continues(data):
    model = user_model()
    m = fit_watched(model, data)
    r = m.history.latest
    assert r.settings.clipping == "none" and r.settings.clip_threshold is None
    assert r.units["grad_post_mean"]["global"] == pytest.approx(r.units["grad_pre_mean"]["global"], rel=1e-5)
    assert r.units["clip_fraction"]["global"] == 0.0
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2, clipnorm=1.0), loss="mse")
    model.fit(*data, epochs=1, callbacks=[m], verbose=0)
    assert [r.epoch for r in m.history] == [1, 2, 3] and m.history.run_ids == [1]
    assert {mk.setting for mk in m.history.markers} == {"learning_rate", "clipping", "clip_threshold"}
    assert all(mk.position == 2.0 for mk in m.history.markers)


def _fit_model(model, data, loss="mse", epochs=2):
    model.compile(optimizer=keras.optimizers.RMSprop(clipnorm=0.05), loss=loss)
    return fit_watched(model, data, epochs=epochs)


def test_functional_bidirectional_stacked(data):
    keras.utils.set_random_seed(1)
    inp = keras.Input((30, 4))
    h = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True))(inp)
    h = keras.layers.LSTM(8)(h)
    out = keras.layers.Dense(1)(h)
    m = _fit_model(keras.Model(inp, out), data, loss="huber")
    check_record_layout(m, 2)
    s = m.history.structure
    bidi = next(name for name in s.layers if name.startswith("bidirectional"))  # "bidirectional", "bidirectional_1", ...
    assert s.layer_cell[bidi] == "lstm"
    gated = [v for v in s.gated if v.startswith(bidi + "/")]
    assert len(gated) == 6  # forward and backward kernel, recurrent kernel, bias
    r = m.history.latest
    assert r.settings.optimizer == "rmsprop"
    for v in s.variables:
        assert r.units["grad_post_max"][v] <= 0.05 * TOL
    assert len(r.grad_through_time) == 30 and set(r.gate_saturation) == {"i", "f", "c", "o"}


@pytest.mark.parametrize("layer,gates", [("GRU", ["z", "r", "h"]), ("SimpleRNN", None)])
def test_gru_and_simple_rnn(data, layer, gates):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((30, 4)), getattr(keras.layers, layer)(8), keras.layers.Dense(1)])
    m = _fit_model(model, data, loss="mae")
    check_record_layout(m, 2)
    r = m.history.latest
    if gates:
        assert r.gates and all(list(g) == gates for g in r.gates.values())
    else:
        assert r.gates == {}
    from lstm_widgets.watch import NO_RECURRENT_NOTE

    assert NO_RECURRENT_NOTE not in m.notes  # it is recurrent
    assert callable(lstm_widgets.watch)  # still the function after importing the module


def test_dense_only_model_gets_layers_and_a_note(data):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    m = _fit_model(model, data)
    check_record_layout(m, 2)
    from lstm_widgets.watch import NO_RECURRENT_NOTE

    assert NO_RECURRENT_NOTE in m.notes and NO_RECURRENT_NOTE in m.history.structure.notes
    r = m.history.latest
    layers = m.history.structure.layers
    assert r.gates == {} and len(layers) == 2  # Flatten has no weights
    assert all(r.units["update_ratio"][lay] > 0 for lay in layers)


def test_divergence_recorded_and_optional_stop(data):
    X, y = data
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    monitor = lstm_widgets.watch(model, display=False, stop_on_nan=True)
    model.fit(X * 100, y, epochs=5, callbacks=[monitor], verbose=0)
    assert monitor.history.latest.status == "diverged"
    assert len(monitor.history) < 5 and monitor.history.runs[1].status == "diverged"


def test_watch_validates_inputs(data):
    X, y = data
    with pytest.raises(ValueError, match="model must be a Keras 3 model"):
        lstm_widgets.watch("model", display=False)
    with pytest.raises(ValueError, match="probe X must be 3-D"):
        lstm_widgets.watch(user_model(), probe=(X[:, 0], y), display=False)
    with pytest.raises(ValueError, match="probe must be a pair"):
        lstm_widgets.watch(user_model(), probe=X, display=False)
    # a probe that does not fit the model is refused at watch(), not deep inside fit
    model = user_model()
    n_steps, n_features = model.input_shape[1], model.input_shape[2]
    with pytest.raises(ValueError, match=f"probe X has {n_features + 1} features per sample, but the model takes {n_features}"):
        lstm_widgets.watch(model, probe=(np.concatenate([X, X[:, :, :1]], axis=2), y), display=False)
    if n_steps is not None:
        with pytest.raises(ValueError, match=f"probe X has {n_steps - 1} time steps"):
            lstm_widgets.watch(model, probe=(X[:, 1:], y), display=False)
    # the same Monitor handed straight to fit refuses before the first step
    monitor = lstm_widgets.Monitor(probe=(X[:, :, :1].repeat(n_features + 1, axis=2), y))
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="features per sample"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[monitor])
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))  # nothing trained


def test_watch_measures_the_applied_update_and_the_probe_baseline(data):
    m = fit_watched(user_model(clipnorm=1.0), data, epochs=2)
    r = m.history.latest
    assert 0 < r.units["step_ratio_mean"]["global"] <= r.units["step_ratio_max"]["global"]
    assert r.baseline_split == "probe" and r.baseline_loss > 0 and r.probe_loss > 0
    assert m.history.runs[1].initial_loss > 0 and m.history.runs[1].initial_weight_norm > 0


@pytest.mark.parametrize("validation", [False, True], ids=["no-validation", "read-during-validation"])
def test_each_epochs_numbers_are_those_of_its_start_and_end(data, validation):
    """The epoch end snapshots the weights for the next epoch in the same compiled call;
    weights set between fits must still be the next fit's start. With validation data
    the epoch's numbers are read on a second thread during the validation pass: they
    must be those of the epoch's final weights all the same."""
    model = user_model(clipnorm=1.0)
    seen: list = []
    X, y = data
    monitor = lstm_widgets.watch(model, probe=(X[:16], y[:16]), display=False)

    class Capture(keras.callbacks.Callback):  # after the Monitor in the callback list
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([v.numpy().copy() for v in model.trainable_variables])

        def on_epoch_end(self, epoch, logs=None):
            r = monitor._recorder
            probe = r.probe(*r.probe_xy)["time"].numpy()
            seen[-1] = (seen[-1], [v.numpy().copy() for v in model.trainable_variables], probe)

    fit = {"validation_data": (X[:32], y[:32])} if validation else {}
    model.fit(X, y, epochs=3, callbacks=[monitor, Capture()], verbose=0, **fit)
    model.set_weights([w * 0.5 for w in model.get_weights()])  # between fits
    model.fit(X, y, epochs=2, callbacks=[monitor, Capture()], verbose=0, **fit)
    h = monitor.history
    assert [r.epoch for r in h] == [1, 2, 3, 4, 5] and len(seen) == 5
    assert (monitor._pool is not None) == validation  # the second thread read them, or none was started
    for r, (start, end, probe) in zip(h, seen):
        moved = math.sqrt(sum(float(np.sum((b - a) ** 2)) for a, b in zip(start, end)))
        norm = math.sqrt(sum(float(np.sum(b ** 2)) for b in end))
        assert r.units["delta_norm"]["global"] == pytest.approx(moved, rel=1e-4)
        assert r.units["weight_norm"]["global"] == pytest.approx(norm, rel=1e-5)
        assert r.grad_through_time == pytest.approx(list(probe), rel=1e-4)
        assert r.units["grad_pre_max"]["global"] > 0 and r.steps == 4
        assert (r.val_loss is not None) == validation
    # an evaluate of the user's own, outside fit, reads nothing early: the next epoch is whole
    model.evaluate(X, y, callbacks=[monitor], verbose=0)
    model.fit(X, y, epochs=1, callbacks=[monitor], verbose=0, **fit)
    assert len(h) == 6 and h.latest.steps == 4 and h.latest.units["grad_pre_max"]["global"] > 0


def test_a_probe_that_fails_in_the_epoch_end_is_skipped_with_a_note_and_fit_goes_on(data, monkeypatch):
    """watch() reads an epoch's numbers in one compiled call with the probe; a probe that
    cannot run there must not take the accumulators and weight measures down with it."""
    from lstm_widgets.engine import monitor as monitor_module

    real = monitor_module.make_time_probe

    def failing(model, loss_fn, layout):
        probe = real(model, loss_fn, layout)

        def no_gradient(x, y):
            raise ValueError("no gradient for these inputs")

        probe.fn = probe._fn = no_gradient
        return probe

    monkeypatch.setattr(monitor_module, "make_time_probe", failing)
    m = fit_watched(user_model(clipnorm=1.0), data, epochs=2)
    h = m.history
    assert [r.epoch for r in h] == [1, 2] and all(r.grad_through_time == [] for r in h)
    assert all(r.units["grad_pre_max"]["global"] > 0 and r.units["delta_norm"]["global"] > 0 for r in h)
    assert all(r.steps == 4 and r.status == "ok" for r in h)
    assert any("probe batch failed" in n and "no gradient" in n for n in h.structure.notes)
