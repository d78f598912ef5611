"""SequenceData, make_windows and the built-in datasets: bad input gets a clear error that names the
parameter, what came in and what to do; good input is shaped and seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lstm_widgets import SequenceData, load_dataset, make_windows

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
    ("unknown dataset", lambda: load_dataset("mnist"), ["'mnist'", "'adding'", "'multiscale'"]),
]


@pytest.mark.parametrize("case,call,words", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_a_clear_error(case, call, words):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{case}: {w!r} missing from {msg!r}"


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


def test_shipped_real_series_window_with_persistence_and_their_sources_are_stated():
    from importlib import resources

    from lstm_widgets.data import SERIES, load_series

    text = resources.files("lstm_widgets").joinpath("datasets", "SOURCES.md").read_text()
    for name, (file, columns, target, lookback) in SERIES.items():
        assert file in text
        df = load_series(name)
        assert list(df.columns) == columns and len(df) > 100 and not df.isna().any().any()
        d = load_dataset(name)
        assert d.n_timesteps == lookback and d.target_features == [columns.index(target)]
        # persistence: the target's own last value in the window
        np.testing.assert_allclose(d.X_train[1, -1, d.target_features[0]], d.y_train[0, 0])


def test_echo_is_a_memory_task():
    d = load_dataset("echo", n_samples=64, seq_len=30)
    np.testing.assert_array_equal(d.y_train[:, 0], d.X_train[:, 0, 0])


def test_a_text_column_is_named():
    df = pd.DataFrame({"load": [1.0, 2.0, 3.0, 4.0], "day": ["mon", "tue", "wed", "thu"]})
    with pytest.raises(ValueError, match="'day'"):
        make_windows(df, lookback=2)
