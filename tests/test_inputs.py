"""Config, data, scaling and History: bad input gets a clear error; good input round-trips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstm_widgets import History, SequenceData, TrainConfig, load_dataset, make_windows
from lstm_widgets.scaling import SequenceScaler

X = np.random.default_rng(0).normal(size=(20, 5, 3)).astype("float32")
Y = np.random.default_rng(1).normal(size=(20,)).astype("float32")


def with_nan(a, where):
    a = a.copy()
    a[where] = np.nan
    return a


def with_inf(a, where):
    a = a.copy()
    a[where] = np.inf
    return a


# (what is tried, the call, words the message must contain: parameter, what came in, what to do)
BAD_INPUTS = [
    ("X 2-D", lambda: SequenceData(X[:, :, 0], Y), ["X_train", "(20, 5)", "make_windows"]),
    ("X 4-D", lambda: SequenceData(X[..., None], Y), ["X_train", "3-D", "(20, 5, 3, 1)"]),
    ("lengths differ", lambda: SequenceData(X, Y[:15]), ["y_train", "15", "20", "must match"]),
    ("NaN in X", lambda: SequenceData(with_nan(X, (3, 2, 1)), Y), ["X_train", "1 NaN", "(3, 2, 1)", "Fill or drop"]),
    ("inf in y", lambda: SequenceData(X, with_inf(Y, 4)), ["y_train", "1 infinite", "Fill or drop"]),
    ("NaN in X_val", lambda: SequenceData(X, Y, with_nan(X, (0, 0, 0)), Y), ["X_val", "NaN"]),
    ("empty X", lambda: SequenceData(np.zeros((0, 5, 3)), np.zeros(0)), ["X_train", "empty", "at least one sample"]),
    ("text dtype", lambda: SequenceData(X.astype(str), Y), ["X_train", "numbers", "dtype"]),
    ("X_val without y_val", lambda: SequenceData(X, Y, X_val=X), ["y_val", "missing", "both"]),
    ("val features differ", lambda: SequenceData(X, Y, X[:, :, :2], Y), ["X_val", "(20, 5, 2)", "features must match"]),
    ("feature names", lambda: SequenceData(X, Y, feature_names=["a"]), ["feature_names", "1 names", "3 features"]),
    ("lookback too long", lambda: make_windows(np.zeros((10, 2)), lookback=20), ["lookback=20", "21 rows", "has 10"]),
    ("lookback 0", lambda: make_windows(np.zeros((10, 2)), lookback=0), ["lookback", "0", "Try"]),
    ("empty series", lambda: make_windows(np.zeros((0, 2)), lookback=3), ["series", "empty"]),
    ("unknown target", lambda: make_windows(pd.DataFrame({"a": range(9)}), 3, target="b"), ["target 'b'", "['a']"]),
    ("series 3-D", lambda: make_windows(X, 2), ["series", "2-D", "SequenceData"]),
    ("zero lr", lambda: TrainConfig(learning_rate=0), ["learning_rate", "got 0", "Try 0.001"]),
    ("negative lr", lambda: TrainConfig(learning_rate=-0.1, optimizer="sgd"), ["learning_rate", "-0.1", "Try 0.01 for SGD"]),
    ("NaN lr", lambda: TrainConfig(learning_rate=float("nan")), ["learning_rate", "nan"]),
    ("lr text", lambda: TrainConfig(learning_rate="fast"), ["learning_rate", "'fast'"]),
    ("unknown optimizer", lambda: TrainConfig(optimizer="adagrad"), ["optimizer", "'adagrad'", "'adam'", "'sgd'"]),
    ("unknown scaler", lambda: TrainConfig(scaler="log"), ["scaler", "'log'", "'standard'"]),
    ("unknown clipping", lambda: TrainConfig(clipping="clipnorms"), ["clipping", "'clipnorms'", "'global_clipnorm'"]),
    ("zero clip threshold", lambda: TrainConfig(clip_threshold=0), ["clip_threshold", "got 0", "between 1 and 5"]),
    ("batch size 0", lambda: TrainConfig(batch_size=0), ["batch_size", "got 0", "Try 32"]),
    ("epochs 0", lambda: TrainConfig(epochs=0), ["epochs", "got 0", "Try 20"]),
    ("epochs float", lambda: TrainConfig(epochs=2.5), ["epochs", "2.5", "whole number"]),
    ("momentum 1", lambda: TrainConfig(momentum=1.0), ["momentum", "1.0", "0.9"]),
    ("unknown setting", lambda: TrainConfig().replace(lr=0.1), ["'lr'", "learning_rate"]),
    ("unknown dataset", lambda: load_dataset("mnist"), ["'mnist'", "'adding'", "'multiscale'"]),
    ("trainer without data", lambda: __import__("lstm_widgets").Trainer(TrainConfig()), ["data", "load_dataset"]),
    ("trainer with arrays", lambda: __import__("lstm_widgets").Trainer(TrainConfig(), X), ["data", "ndarray", "SequenceData("]),
]


@pytest.mark.parametrize("case,call,words", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_a_clear_error(case, call, words):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{case}: {w!r} missing from {msg!r}"


def test_config_replace_validates_and_diff_lists_changes():
    c = TrainConfig()
    d = c.replace(learning_rate=0.01, optimizer="SGD")
    assert d.optimizer == "sgd" and c.learning_rate == 1e-3
    assert c.diff(d) == {"optimizer": ("adam", "sgd"), "learning_rate": (1e-3, 0.01)}
    with pytest.raises(ValueError, match="batch_size"):
        c.replace(batch_size=-1)


@pytest.mark.parametrize(
    "cfg, expect",
    [
        (TrainConfig(optimizer="adam", clipping="clipnorm", clip_threshold=1.0),
         "keras.optimizers.Adam(learning_rate=0.001, clipnorm=1.0)"),
        (TrainConfig(optimizer="sgd", momentum=0.9, nesterov=True, clipping="global_clipnorm", clip_threshold=5.0),
         "keras.optimizers.SGD(learning_rate=0.001, momentum=0.9, nesterov=True, global_clipnorm=5.0)"),
        (TrainConfig(optimizer="rmsprop", clipping="clipvalue", clip_threshold=0.5, scaler="minmax_sym"),
         "keras.optimizers.RMSprop(learning_rate=0.001, clipvalue=0.5)"),
        (TrainConfig(optimizer="nadam", scaler="robust", scale_target=True, layers=2, cell="gru"),
         "keras.optimizers.Nadam(learning_rate=0.001)"),
    ],
)
def test_to_keras_code_runs_and_reproduces_the_settings(cfg, expect):
    code = cfg.replace(epochs=1, units=3).to_keras_code()
    assert expect in code
    data = load_dataset("multiscale", n_samples=40, seq_len=6)
    ns = {"X_train": data.X_train, "y_train": data.y_train[:, 0], "X_val": data.X_val, "y_val": data.y_val}
    exec(compile(code, "<to_keras_code>", "exec"), ns)
    model, opt = ns["model"], ns["model"].optimizer
    assert len(ns["history"].history["loss"]) == 1 and "val_loss" in ns["history"].history
    assert type(opt).__name__.lower() == cfg.optimizer
    assert float(opt.learning_rate) == pytest.approx(cfg.learning_rate)
    for mode in ("clipnorm", "global_clipnorm", "clipvalue"):
        assert getattr(opt, mode) == (cfg.clip_threshold if cfg.clipping == mode else None)
    assert len([l for l in model.layers if "Dense" not in type(l).__name__]) == cfg.layers
    if cfg.scaler != "none":
        assert "fit(X_train.reshape" in code and "fit(X_val" not in code


def test_scaler_is_fitted_on_the_training_split_only():
    data = load_dataset("multiscale", n_samples=100, seq_len=5)
    wild = SequenceData(data.X_train, data.y_train, data.X_val * 1000 + 7, data.y_val)
    for kind in ("standard", "minmax", "minmax_sym", "robust"):
        a = SequenceScaler(kind).fit(data)
        b = SequenceScaler(kind).fit(wild)
        x = data.X_train[:3]
        np.testing.assert_array_equal(a.transform_X(x), b.transform_X(x))
        scaled = a.transform(data)
        flat = scaled.X_train.reshape(-1, 3)
        if kind == "standard":
            np.testing.assert_allclose(flat.mean(0), 0, atol=1e-4)
            np.testing.assert_allclose(flat.std(0), 1, atol=1e-3)
        if kind == "minmax":
            np.testing.assert_allclose(flat.min(0), 0, atol=1e-5)
            np.testing.assert_allclose(flat.max(0), 1, atol=1e-5)
        if kind == "minmax_sym":
            np.testing.assert_allclose(flat.min(0), -1, atol=1e-5)


def test_target_scaling_inverts():
    data = load_dataset("multiscale", n_samples=60, seq_len=5)
    s = SequenceScaler("standard", scale_target=True).fit(data)
    y = s.transform_y(data.y_val)
    np.testing.assert_allclose(s.inverse_transform_y(y), data.y_val, rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError, match="fit"):
        SequenceScaler().transform_X(data.X_train)


def test_make_windows_on_a_dataframe():
    df = pd.DataFrame({"t": np.arange(10.0), "y": np.arange(10.0) * 10})
    X, y = make_windows(df, lookback=3, horizon=2, target="y")
    assert X.shape == (6, 3, 2) and y.shape == (6, 1)
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    assert y[0, 0] == 40.0  # two steps after the window's last step (t=2)
    d = SequenceData.from_series(df, lookback=3, target="y", val_fraction=0.25)
    assert d.feature_names == ["t", "y"] and len(d.X_train) + len(d.X_val) == 7
    assert d.X_val[0, 0, 0] > d.X_train[-1, 0, 0]  # validation comes after training in time


@pytest.mark.parametrize("name", ["adding", "sine", "multiscale"])
def test_builtin_datasets_are_seeded_and_shaped(name):
    a, b = load_dataset(name, seed=3), load_dataset(name, seed=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert len(a.X_train) + len(a.X_val) == 1024
    assert not np.array_equal(a.X_train, load_dataset(name, seed=4).X_train)


def test_adding_problem_target_is_the_sum_of_the_marked_values():
    d = load_dataset("adding", n_samples=50, seq_len=20)
    X, y = d.X_train, d.y_train[:, 0]
    np.testing.assert_allclose((X[:, :, 0] * X[:, :, 1]).sum(1), y, rtol=1e-6)
    assert (X[:, :, 1].sum(1) == 2).all()
    assert (X[:, :10, 1].sum(1) == 1).all()  # one marker in each half


def test_multiscale_features_differ_by_orders_of_magnitude():
    d = load_dataset("multiscale")
    scale = np.abs(d.X_train).reshape(-1, 3).mean(0)
    assert scale[2] / scale[0] > 1e4


def test_history_json_round_trip_and_frame(tmp_path):
    from lstm_widgets.engine.trainer import Trainer

    t = Trainer(TrainConfig(units=3, epochs=2), load_dataset("sine", n_samples=64, seq_len=5))
    t.start()
    t.wait(120)
    t.set(learning_rate=0.01)
    t.start()
    t.wait(120)
    h = t.history
    h2 = History.from_json(h.to_json())
    assert h2.to_dict() == json.loads(h.to_json())
    assert [m.label for m in h2.markers] == ["lr 0.001 → 0.01"]
    h.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json").records[-1].loss == h.records[-1].loss
    df = h.to_frame()
    assert len(df) == 4
    for col in ["run_id", "epoch", "loss", "val_loss", "learning_rate", "update_ratio[lstm_1]",
                "grad_pre_mean[global]", "grad_post_max[lstm_1/lstm_cell/kernel]",
                "grad_pre_mean[lstm_1/lstm_cell/kernel:f]", "grad_t[0]", "saturation[i]"]:
        assert col in df.columns
    assert list(df["learning_rate"]) == [0.001, 0.001, 0.01, 0.01]
    h.to_csv(tmp_path / "h.csv")
    assert pd.read_csv(tmp_path / "h.csv").shape == df.shape
