"""The scalers: fitted on the training split only, the target's scaling inverts."""

from __future__ import annotations

import numpy as np
import pytest
from lstm_widgets import SequenceData, load_dataset
from lstm_widgets.scaling import SequenceScaler


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
