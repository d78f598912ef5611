"""Per-feature scikit-learn scalers, fitted on the training split only."""

from __future__ import annotations

import numpy as np
import sklearn.preprocessing
from sklearn.preprocessing import StandardScaler

from .config import SCALER_SPECS, SCALERS
from .data import SequenceData

__all__ = ["SequenceScaler", "make_sklearn_scaler", "input_stats"]


def make_sklearn_scaler(kind: str):
    """A fresh scikit-learn scaler for ``kind`` (None for "none"), from config.SCALER_SPECS."""
    if kind == "none":
        return None
    if kind not in SCALER_SPECS:
        raise ValueError(f"scaler must be one of {', '.join(map(repr, SCALERS))}; got {kind!r}.")
    cls, kwargs = SCALER_SPECS[kind]
    return getattr(sklearn.preprocessing, cls)(**kwargs)


def _flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(-1, X.shape[-1])


class SequenceScaler:
    """Scale each feature of 3-D sequences with one scikit-learn scaler.

    The scaler sees every time step of every *training* sequence; validation data is
    only transformed. Fitted state lives in ``scaler_`` and ``y_scaler_``.

    Args:
        kind: "none", "standard", "minmax", "minmax_sym" or "robust". Defaults to "standard".
        scale_target: Also standardize the target. Defaults to False.
    """

    def __init__(self, kind: str = "standard", scale_target: bool = False):
        make_sklearn_scaler(kind)  # validates
        self.kind = kind
        self.scale_target = bool(scale_target)

    def fit(self, data: SequenceData) -> "SequenceScaler":
        self.scaler_ = make_sklearn_scaler(self.kind)
        if self.scaler_ is not None:
            self.scaler_.fit(_flat(data.X_train))
        self.y_scaler_ = StandardScaler().fit(data.y_train) if self.scale_target else None
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scaler_"):
            raise RuntimeError("This SequenceScaler is not fitted yet; call fit(data) first.")

    def transform_X(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if self.scaler_ is None:
            return np.asarray(X, dtype=np.float32)
        return self.scaler_.transform(_flat(X)).reshape(X.shape).astype(np.float32)

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if self.y_scaler_ is None:
            return np.asarray(y, dtype=np.float32)
        return self.y_scaler_.transform(y).astype(np.float32)

    def inverse_transform_y(self, y: np.ndarray) -> np.ndarray:
        """Predictions back in the target's original units."""
        self._check_fitted()
        y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        return y if self.y_scaler_ is None else self.y_scaler_.inverse_transform(y)

    def transform(self, data: SequenceData) -> SequenceData:
        """A new SequenceData with every split scaled."""
        self._check_fitted()
        return SequenceData(
            self.transform_X(data.X_train),
            self.transform_y(data.y_train),
            None if data.X_val is None else self.transform_X(data.X_val),
            None if data.y_val is None else self.transform_y(data.y_val),
            feature_names=data.feature_names,
            name=data.name,
            info=dict(data.info),
        )

    def fit_transform(self, data: SequenceData) -> SequenceData:
        return self.fit(data).transform(data)


def input_stats(X: np.ndarray) -> dict[str, list[float]]:
    """Per-feature mean, std, min and max over every sample and time step."""
    flat = _flat(np.asarray(X))
    return {
        "mean": flat.mean(0).astype(float).tolist(),
        "std": flat.std(0).astype(float).tolist(),
        "min": flat.min(0).astype(float).tolist(),
        "max": flat.max(0).astype(float).tolist(),
    }
