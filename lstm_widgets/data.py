"""Sequence data: validation at the boundary, windowing of 2-D series, built-in datasets.

Every dataset is generated here from a seed (nothing is downloaded), in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Sequence

import numpy as np

__all__ = ["SequenceData", "make_windows", "load_dataset", "load_series", "DATASETS", "SERIES", "sample_csv_path"]


def _as_float_array(name: str, value: Any) -> np.ndarray:
    if value is None:
        raise ValueError(f"{name} is None; pass a numpy array or a pandas DataFrame.")
    if hasattr(value, "dtypes") and hasattr(value, "columns"):  # a DataFrame: name the bad columns
        import pandas as pd

        bad = [str(c) for c, t in value.dtypes.items() if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))]
        if bad:
            raise ValueError(
                f"{name} has column(s) that are not numbers: {', '.join(map(repr, bad))}. Drop them "
                f"(df.drop(columns=[...])) or encode them as numbers (e.g. pandas.get_dummies) first."
            )
    if hasattr(value, "to_numpy"):  # pandas
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(
            f"{name} must hold numbers; got dtype {arr.dtype}. Convert text or category "
            f"columns to numbers first (e.g. pandas.get_dummies) or drop them."
        )
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold real numbers; got complex dtype {arr.dtype}.")
    return arr.astype(np.float32, copy=False)


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(bad.sum()) - n_nan
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} has {n_nan} NaN and {n_inf} infinite values (first at index {first}). "
            f"Fill or drop them first, e.g. DataFrame.interpolate() or .dropna()."
        )


def _check_X(name: str, X: Any) -> np.ndarray:
    arr = _as_float_array(name, X)
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be 3-D (samples, timesteps, features); got shape {arr.shape}. "
            f"For a 2-D series use lstm_widgets.make_windows(series, lookback=...)."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one sample.")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(
            f"{name} has shape {arr.shape}: it needs at least one time step and one feature."
        )
    _check_finite(name, arr)
    return arr


def _check_y(name: str, y: Any, n: int, x_name: str) -> np.ndarray:
    arr = _as_float_array(name, y)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (samples,) or 2-D (samples, outputs); got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} samples but {x_name} has {n}; they must match, "
            f"one target row per input sequence."
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}: it needs at least one output column.")
    _check_finite(name, arr)
    return arr


@dataclass
class SequenceData:
    """Training (and optional validation) sequences, checked when built.

    Args:
        X_train: Inputs shaped (samples, timesteps, features); finite numbers.
        y_train: Targets shaped (samples,) or (samples, outputs).
        X_val: Validation inputs with the same timesteps and features. Defaults to None.
        y_val: Validation targets. Required when X_val is given. Defaults to None.
        feature_names: One name per feature. Defaults to "x0", "x1", ...
        name: A label for the data, shown in the Lab. Defaults to "data".
        target_features: For a windowed series, the input feature that holds each
            target column's own past (so "repeat the last value", persistence, is a
            baseline to beat); set by :meth:`from_series`. Defaults to None (no such
            baseline).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    feature_names: Sequence[str] | None = None
    name: str = "data"
    info: dict = field(default_factory=dict)
    target_features: Sequence[int] | None = None

    def __post_init__(self) -> None:
        self.X_train = _check_X("X_train", self.X_train)
        self.y_train = _check_y("y_train", self.y_train, len(self.X_train), "X_train")
        if (self.X_val is None) != (self.y_val is None):
            missing = "y_val" if self.y_val is None else "X_val"
            raise ValueError(f"{missing} is missing: pass both X_val and y_val, or neither.")
        if self.X_val is not None:
            self.X_val = _check_X("X_val", self.X_val)
            self.y_val = _check_y("y_val", self.y_val, len(self.X_val), "X_val")
            if self.X_val.shape[1:] != self.X_train.shape[1:]:
                raise ValueError(
                    f"X_val has shape {self.X_val.shape} but X_train has {self.X_train.shape}: "
                    f"timesteps and features must match."
                )
            if self.y_val.shape[1] != self.y_train.shape[1]:
                raise ValueError(
                    f"y_val has {self.y_val.shape[1]} outputs but y_train has "
                    f"{self.y_train.shape[1]}; they must match."
                )
        n_f = self.X_train.shape[2]
        if self.feature_names is None:
            self.feature_names = [f"x{i}" for i in range(n_f)]
        else:
            self.feature_names = [str(n) for n in self.feature_names]
            if len(self.feature_names) != n_f:
                raise ValueError(
                    f"feature_names has {len(self.feature_names)} names but X_train has "
                    f"{n_f} features; give one name per feature."
                )
        if self.target_features is not None:
            tf_ = [int(i) for i in self.target_features]
            if len(tf_) != self.n_outputs or not all(0 <= i < n_f for i in tf_):
                raise ValueError(
                    f"target_features must give, for each of the {self.n_outputs} target column(s), the "
                    f"index of the input feature holding its past (0..{n_f - 1}); got {list(self.target_features)}."
                )
            self.target_features = tf_

    @property
    def n_timesteps(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[2])

    @property
    def n_outputs(self) -> int:
        return int(self.y_train.shape[1])

    @property
    def has_val(self) -> bool:
        return self.X_val is not None

    @classmethod
    def from_series(
        cls,
        series: Any,
        lookback: int,
        horizon: int = 1,
        target: Any = None,
        val_fraction: float = 0.2,
        name: str = "series",
    ) -> "SequenceData":
        """Window a 2-D series (time x features) and split it in time order.

        The last ``val_fraction`` of windows becomes the validation split, so no future
        value leaks into training.
        """
        X, y, idx = _windows(series, lookback=lookback, horizon=horizon, target=target)
        if not 0.0 <= float(val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1); got {val_fraction!r}. Try 0.2.")
        n_val = int(round(len(X) * float(val_fraction)))
        if len(X) - n_val < 1:
            raise ValueError(
                f"Only {len(X)} windows: nothing is left for training after taking "
                f"val_fraction={val_fraction}. Use a longer series or a smaller lookback."
            )
        names = [str(c) for c in series.columns] if hasattr(series, "columns") else None
        kw = {"feature_names": names, "name": name, "target_features": idx}
        if n_val == 0:
            return cls(X, y, **kw)
        return cls(X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:], **kw)


def make_windows(
    series: Any, lookback: int, horizon: int = 1, target: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 2-D series (time x features) into overlapping windows.

    Args:
        series: Array or DataFrame shaped (time, features); a 1-D array is one feature.
        lookback: Time steps per input window, at least 1.
        horizon: How many steps after a window's last step the target lies. Defaults to 1.
        target: Column(s) to predict: a name (DataFrame) or an index, or a list of them.
            Defaults to every column.

    Returns:
        ``(X, y)`` with X shaped (windows, lookback, features) and y (windows, targets),
        where ``y[i]`` is the target columns at time ``i + lookback - 1 + horizon``.
    """
    X, y, _ = _windows(series, lookback, horizon, target)
    return X, y


def _windows(series: Any, lookback: int, horizon: int = 1, target: Any = None):
    """:func:`make_windows`, and the index of each target column among the features."""
    columns = list(series.columns) if hasattr(series, "columns") else None
    arr = _as_float_array("series", series)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"series must be 2-D (time, features); got shape {arr.shape}. "
            f"For data already shaped (samples, timesteps, features) use SequenceData directly."
        )
    if arr.shape[0] == 0:
        raise ValueError("series is empty; it needs at least lookback + horizon rows.")
    _check_finite("series", arr)
    if isinstance(lookback, bool) or not isinstance(lookback, (int, np.integer)) or lookback < 1:
        raise ValueError(f"lookback must be a whole number >= 1; got {lookback!r}. Try 30.")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a whole number >= 1; got {horizon!r}. Try 1.")
    n_windows = arr.shape[0] - lookback - horizon + 1
    if n_windows < 1:
        raise ValueError(
            f"lookback={lookback} with horizon={horizon} needs at least {lookback + horizon} "
            f"rows, but the series has {arr.shape[0]}. Use a smaller lookback or a longer series."
        )
    if target is None:
        idx = list(range(arr.shape[1]))
    else:
        targets = target if isinstance(target, (list, tuple)) else [target]
        idx = []
        for t in targets:
            if columns is not None and t in columns:
                idx.append(columns.index(t))
            elif isinstance(t, (int, np.integer)) and -arr.shape[1] <= t < arr.shape[1]:
                idx.append(int(t) % arr.shape[1])
            else:
                choices = columns if columns is not None else list(range(arr.shape[1]))
                raise ValueError(f"target {t!r} is not a column of the series; the columns are {choices}.")
    starts = np.arange(n_windows)
    X = np.lib.stride_tricks.sliding_window_view(arr, lookback, axis=0)[:n_windows].transpose(0, 2, 1)
    y = arr[starts + lookback - 1 + horizon][:, idx]
    return X.astype(np.float32), y.astype(np.float32), idx


# -- built-in datasets ---------------------------------------------------------------


def _adding(n_samples: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997): feature 0 is uniform noise,
    feature 1 marks two positions, one in the first half and one in the second half;
    the target is the sum of the two marked values. Only the marked steps matter, so
    the gradient must reach back to the first marker: harder as seq_len grows."""
    values = rng.uniform(0.0, 1.0, size=(n_samples, seq_len)).astype(np.float32)
    markers = np.zeros((n_samples, seq_len), dtype=np.float32)
    half = max(seq_len // 2, 1)
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, seq_len, size=n_samples) if seq_len > 1 else first
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1)
    y = (values[rows, first] + values[rows, second]).reshape(-1, 1)
    return X, y


def _sine(n_samples: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sum of three sines with random phases; predict the next clean value."""
    freqs = np.array([0.05, 0.13, 0.31])
    amps = np.array([1.0, 0.5, 0.25])
    phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1, 3))
    t = np.arange(seq_len + 1).reshape(1, -1, 1)
    clean = (amps * np.sin(2 * np.pi * freqs * t + phase)).sum(-1)
    noisy = clean + rng.normal(0.0, 0.1, size=clean.shape)
    X = noisy[:, :seq_len, None].astype(np.float32)
    y = clean[:, seq_len:].astype(np.float32)
    return X, y


def _multiscale(n_samples: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three features on wildly different scales: a signal near 0.01, a signal near 1,
    and a slowly varying one in the thousands. The target depends on all three, each
    contributing about equally, so an unscaled model is dominated by the large one."""
    t = np.arange(seq_len).reshape(1, -1)
    phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1))
    small = 0.01 * np.sin(0.3 * t + phase) + 0.002 * rng.normal(size=(n_samples, seq_len))
    unit = np.cos(0.2 * t + 2 * phase) + 0.1 * rng.normal(size=(n_samples, seq_len))
    level = rng.uniform(1000.0, 5000.0, size=(n_samples, 1))
    big = level + 50.0 * np.sin(0.05 * t + phase) + 5.0 * rng.normal(size=(n_samples, seq_len))
    X = np.stack([small, unit, big], axis=-1).astype(np.float32)
    y = (
        small[:, -5:].mean(1) / 0.01
        + unit[:, -5:].mean(1)
        + (big[:, -5:].mean(1) - 3000.0) / 1200.0
    ).reshape(-1, 1)
    return X, y.astype(np.float32)


def _echo(n_samples: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A memory task: uniform noise in -1..1, and the target is the very first value of
    the sequence. Nothing after the first step helps, so the gradient must reach all the
    way back: the plainest test of a recurrent cell's memory."""
    X = rng.uniform(-1.0, 1.0, size=(n_samples, seq_len, 1)).astype(np.float32)
    return X, X[:, 0, :].copy()


DATASETS = {
    "adding": (_adding, 50, ["value", "marker"]),
    "echo": (_echo, 50, ["value"]),
    "sine": (_sine, 40, ["signal"]),
    "multiscale": (_multiscale, 30, ["small (~0.01)", "unit (~1)", "large (~1000s)"]),
}
#: Generated datasets whose target is the next value of an input feature (its index):
#: there, repeating the last value (persistence) is a baseline to beat.
_PERSISTENT = {"sine": [0]}


#: Real series shipped with the package (lstm_widgets/datasets/, sources and licences in
#: SOURCES.md there): file, the columns used as features, the target, the default lookback.
SERIES = {
    "seattle_weather": ("seattle_weather.csv", ["precipitation", "temp_max", "temp_min", "wind"], "temp_max", 30),
    "seattle_temps": ("seattle_temps.csv", ["temp"], "temp", 48),
    "sf_temps": ("sf_temps.csv", ["temp"], "temp", 48),
    "treering": ("treering.csv", ["ring_width"], "ring_width", 40),
    "us_employment": ("us_employment.csv", ["nonfarm", "private", "goods_producing", "service_providing"], "nonfarm", 12),
}


def load_series(name: str):
    """A real series shipped with the package, as a pandas DataFrame (one row per time
    step, the feature columns only). See ``lstm_widgets/datasets/SOURCES.md``.

    Raises:
        ValueError: an unknown series.
    """
    import pandas as pd

    if name not in SERIES:
        raise ValueError(f"Unknown series {name!r}; choose one of {', '.join(map(repr, SERIES))}.")
    file, columns, _, _ = SERIES[name]
    return pd.read_csv(resources.files("lstm_widgets").joinpath("datasets", file))[columns]


def load_dataset(
    name: str = "adding",
    n_samples: int | None = None,
    seq_len: int | None = None,
    val_fraction: float = 0.25,
    seed: int = 0,
) -> SequenceData:
    """A built-in dataset: generated from ``seed``, or a real series shipped with the
    package, windowed (nothing is downloaded).

    Args:
        name: Generated: "adding" (long-range dependency; harder as seq_len grows), "echo"
            (recall the first value: memory only), "sine" (noisy multi-frequency
            forecasting) or "multiscale" (features on wildly different scales, one in the
            thousands). Real (public domain, see
            ``lstm_widgets/datasets/SOURCES.md``): "seattle_weather" (daily, predict the
            next day's temp_max in °C), "seattle_temps" and "sf_temps" (hourly °F),
            "treering" (yearly ring widths), "us_employment" (monthly, thousands of jobs).
            Defaults to "adding".
        n_samples: Sequences in total, train plus validation. Defaults to 1024 for a
            generated dataset and every window of a real series (its first ``n_samples``
            windows when given).
        seq_len: Time steps per sequence (the lookback of a real series). Defaults to 50
            (adding, echo), 40 (sine), 30 (multiscale), or the series' own default.
        val_fraction: Share of sequences held out for validation (the last ones, in time
            order, for a real series). Defaults to 0.25.
        seed: Random seed of a generated dataset. Defaults to 0.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in DATASETS and key not in SERIES:
        raise ValueError(
            f"Unknown dataset {name!r}; choose one of {', '.join(map(repr, list(DATASETS) + list(SERIES)))}."
        )
    default_len = DATASETS[key][1] if key in DATASETS else SERIES[key][3]
    seq_len = default_len if seq_len is None else seq_len
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 2:
        raise ValueError(f"seq_len must be a whole number >= 2; got {seq_len!r}. Try {default_len}.")
    if n_samples is not None and (
        isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2
    ):
        raise ValueError(f"n_samples must be a whole number >= 2; got {n_samples!r}. Try 1024.")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1); got {val_fraction!r}. Try 0.25.")
    if key in SERIES:
        df = load_series(key)
        if n_samples is not None:
            df = df.iloc[: int(n_samples) + int(seq_len)]
        data = SequenceData.from_series(df, lookback=int(seq_len), target=SERIES[key][2],
                                        val_fraction=val_fraction, name=key)
        data.info = {"dataset": key, "seq_len": int(seq_len), "n_samples": len(data.X_train) + (
            len(data.X_val) if data.has_val else 0), "source": SERIES[key][0]}
        return data
    n_samples = 1024 if n_samples is None else int(n_samples)
    fn, _, features = DATASETS[key]
    X, y = fn(n_samples, int(seq_len), np.random.default_rng(seed))
    n_val = min(int(round(n_samples * float(val_fraction))), n_samples - 1)
    info = {"dataset": key, "seq_len": int(seq_len), "n_samples": n_samples, "seed": seed}
    kw = {"feature_names": features, "name": key, "info": info, "target_features": _PERSISTENT.get(key)}
    if n_val == 0:
        return SequenceData(X, y, **kw)
    return SequenceData(X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:], **kw)


def sample_csv_path(name: str = "energy.csv") -> str:
    """The path of a small CSV shipped with lstm_widgets, for lesson 5.

    Args:
        name: The file in ``lstm_widgets/datasets/``. Defaults to "energy.csv": 720
            hourly rows (30 days) of a building's electric load in kW, the outdoor
            temperature in °C and its occupancy (people), made by
            ``lstm_widgets/datasets/make_energy_csv.py``.

    Raises:
        ValueError: there is no such file.
    """
    path = resources.files("lstm_widgets").joinpath("datasets", name)
    if not path.is_file():
        shipped = sorted(
            p.name for p in resources.files("lstm_widgets").joinpath("datasets").iterdir()
            if p.name.endswith(".csv")
        )
        raise ValueError(f"No shipped CSV named {name!r}; the shipped ones are: {', '.join(shipped)}.")
    return str(path)
