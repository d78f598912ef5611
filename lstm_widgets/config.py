"""TrainConfig: every knob of a training run, validated once, when it is built."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TrainConfig",
    "OPTIMIZERS",
    "CLIPPING_MODES",
    "SCALERS",
    "CELLS",
    "LOSSES",
    "ARCHITECTURE_FIELDS",
]

OPTIMIZERS = ("adam", "rmsprop", "nadam", "sgd")
CLIPPING_MODES = ("none", "clipnorm", "global_clipnorm", "clipvalue")
SCALERS = ("none", "standard", "minmax", "minmax_sym", "robust")
CELLS = ("lstm", "gru", "simple_rnn")
LOSSES = ("mse", "mae", "huber")

#: Settings that define the model; changing them needs a fresh model (a restart).
ARCHITECTURE_FIELDS = frozenset({"units", "layers", "cell", "loss", "seed"})

_TYPICAL_LR = {"adam": 1e-3, "nadam": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}

_KERAS_OPTIMIZER = {"adam": "Adam", "rmsprop": "RMSprop", "nadam": "Nadam", "sgd": "SGD"}
_KERAS_LAYER = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
_SKLEARN_SCALER = {
    "standard": "StandardScaler()",
    "minmax": "MinMaxScaler(feature_range=(0, 1))",
    "minmax_sym": "MinMaxScaler(feature_range=(-1, 1))",
    "robust": "RobustScaler()",
}
_KERAS_LOSS = {"mse": '"mse"', "mae": '"mae"', "huber": "keras.losses.Huber()"}


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}."
        )
    return value.lower()


def _int(name: str, value: Any, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be a whole number in [{low}, {high}]; got {value!r}. {hint}")
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}]; got {value}. {hint}")
    return value


def _float(name: str, value: Any, low: float, high: float, hint: str, *, low_open=True) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in ({low:g}, {high:g}]; got {value!r}. {hint}") from None
    ok = math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {bracket}{low:g}, {high:g}]; got {value!r}. {hint}")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run. Immutable: use :meth:`replace` to change one.

    Args:
        optimizer: One of "adam", "rmsprop", "nadam", "sgd". Defaults to "adam".
        learning_rate: Step size, in (0, 10]. Defaults to 1e-3.
        momentum: Momentum for "sgd", in [0, 1). Ignored by other optimizers. Defaults to 0.0.
        nesterov: Nesterov momentum for "sgd". Defaults to False.
        clipping: "none", "clipnorm" (each variable's gradient clipped to the
            threshold on its own, as Keras's ``clipnorm``), "global_clipnorm" (all
            gradients scaled together) or "clipvalue" (element-wise). Defaults to "none".
        clip_threshold: Threshold for clipping, in gradient-norm units (element units
            for "clipvalue"). Defaults to 1.0.
        scaler: Input scaler fitted on the training split: "none", "standard",
            "minmax" (0..1), "minmax_sym" (-1..1) or "robust". Defaults to "standard".
        scale_target: Also scale the target (predictions are inverse-transformed).
            Defaults to False.
        epochs: Epochs per Train, at least 1. Defaults to 20.
        batch_size: Samples per gradient step, at least 1. Defaults to 32.
        units: Units per recurrent layer. Defaults to 16.
        layers: Number of stacked recurrent layers. Defaults to 1.
        cell: "lstm", "gru" or "simple_rnn". Defaults to "lstm".
        loss: "mse", "mae" or "huber". Defaults to "mse".
        seed: Seed for the initial weights and the shuffling. Defaults to 0.
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    clipping: str = "none"
    clip_threshold: float = 1.0
    scaler: str = "standard"
    scale_target: bool = False
    epochs: int = 20
    batch_size: int = 32
    units: int = 16
    layers: int = 1
    cell: str = "lstm"
    loss: str = "mse"
    seed: int = 0

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        set_("optimizer", _choice("optimizer", self.optimizer, OPTIMIZERS))
        typical = _TYPICAL_LR[self.optimizer]
        set_(
            "learning_rate",
            _float(
                "learning_rate", self.learning_rate, 0.0, 10.0,
                f"Try {typical:g} for {_KERAS_OPTIMIZER[self.optimizer]}.",
            ),
        )
        set_(
            "momentum",
            _float("momentum", self.momentum, 0.0, 0.999, "Try 0.9 with SGD, or 0 for none.", low_open=False),
        )
        if not isinstance(self.nesterov, (bool, int)):
            raise ValueError(f"nesterov must be True or False; got {self.nesterov!r}.")
        set_("nesterov", bool(self.nesterov))
        set_("clipping", _choice("clipping", self.clipping, CLIPPING_MODES))
        set_(
            "clip_threshold",
            _float(
                "clip_threshold", self.clip_threshold, 0.0, 1e6,
                "A clipnorm between 1 and 5 is a common start.",
            ),
        )
        set_("scaler", _choice("scaler", self.scaler, SCALERS))
        set_("scale_target", bool(self.scale_target))
        set_("epochs", _int("epochs", self.epochs, 1, 100_000, "Try 20."))
        set_("batch_size", _int("batch_size", self.batch_size, 1, 1_000_000, "Try 32."))
        set_("units", _int("units", self.units, 1, 4096, "Try 16 or 32."))
        set_("layers", _int("layers", self.layers, 1, 16, "Try 1 or 2."))
        set_("cell", _choice("cell", self.cell, CELLS))
        set_("loss", _choice("loss", self.loss, LOSSES))
        set_("seed", _int("seed", self.seed, 0, 2**31 - 1, "Any whole number >= 0 works."))

    # -- changing -----------------------------------------------------------------
    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied and validated.

        Raises:
            ValueError: an unknown setting name, or an invalid value.
        """
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise ValueError(
                f"Unknown setting {', '.join(map(repr, unknown))}; the settings are: "
                f"{', '.join(self.field_names())}."
            )
        return dataclasses.replace(self, **changes)

    @staticmethod
    def field_names() -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(TrainConfig))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.field_names()}

    def diff(self, other: "TrainConfig") -> dict[str, tuple[Any, Any]]:
        """``{name: (self_value, other_value)}`` for every setting that differs."""
        return {
            k: (getattr(self, k), getattr(other, k))
            for k in self.field_names()
            if getattr(self, k) != getattr(other, k)
        }

    # -- Keras equivalents ----------------------------------------------------------
    def keras_optimizer_code(self) -> str:
        """The Keras 3 optimizer constructor for these settings, as source code."""
        args = [f"learning_rate={self.learning_rate!r}"]
        if self.optimizer == "sgd":
            if self.momentum:
                args.append(f"momentum={self.momentum!r}")
            if self.nesterov:
                args.append("nesterov=True")
        if self.clipping != "none":
            args.append(f"{self.clipping}={self.clip_threshold!r}")
        return f"keras.optimizers.{_KERAS_OPTIMIZER[self.optimizer]}({', '.join(args)})"

    def to_keras_code(self, n_timesteps: int | None = None, n_features: int | None = None) -> str:
        """Runnable Keras 3 + scikit-learn code that reproduces these settings.

        The code expects numpy arrays ``X_train, y_train`` (and optionally ``X_val,
        y_val``) shaped (samples, timesteps, features) and (samples, outputs) in scope,
        and leaves the trained ``model`` and its Keras ``history``.
        """
        t = "X_train.shape[1]" if n_timesteps is None else str(int(n_timesteps))
        f = "X_train.shape[2]" if n_features is None else str(int(n_features))
        layer = _KERAS_LAYER[self.cell]
        lines = [
            "# Reproduces these lstm_widgets settings in plain Keras 3 + scikit-learn.",
            "# Expects X_train, y_train (and optionally X_val, y_val) as numpy arrays:",
            "# X shaped (samples, timesteps, features), y shaped (samples, outputs).",
            "import numpy as np",
            "import keras",
        ]
        if self.scaler != "none" or self.scale_target:
            names = sorted({s.split("(")[0] for s in _SKLEARN_SCALER.values()})
            lines.append(f"from sklearn.preprocessing import {', '.join(names)}")
        lines += ["", f"keras.utils.set_random_seed({self.seed})", "X_val = globals().get('X_val')",
                  "y_val = globals().get('y_val')", "y_train = np.asarray(y_train).reshape(len(X_train), -1)",
                  "if y_val is not None:", "    y_val = np.asarray(y_val).reshape(len(X_val), -1)"]
        if self.scaler != "none":
            lines += [
                "",
                "# Fit the scaler on the training split only, per feature; transform the rest.",
                f"scaler = {_SKLEARN_SCALER[self.scaler]}.fit(X_train.reshape(-1, X_train.shape[-1]))",
                "X_train = scaler.transform(X_train.reshape(-1, X_train.shape[-1])).reshape(X_train.shape)",
                "if X_val is not None:",
                "    X_val = scaler.transform(X_val.reshape(-1, X_val.shape[-1])).reshape(X_val.shape)",
            ]
        if self.scale_target:
            lines += [
                "",
                "# Scale the target too (fitted on the training split); invert predictions with",
                "# y_scaler.inverse_transform(model.predict(X)).",
                "y_scaler = StandardScaler().fit(y_train)",
                "y_train = y_scaler.transform(y_train)",
                "if y_val is not None:",
                "    y_val = y_scaler.transform(y_val)",
            ]
        lines += ["", "model = keras.Sequential([", f"    keras.Input(shape=({t}, {f})),"]
        for i in range(self.layers):
            rs = ", return_sequences=True" if i < self.layers - 1 else ""
            lines.append(f"    keras.layers.{layer}({self.units}{rs}),")
        lines += [
            "    keras.layers.Dense(y_train.shape[-1]),",
            "])",
            f"model.compile(optimizer={self.keras_optimizer_code()}, loss={_KERAS_LOSS[self.loss]})",
            "history = model.fit(",
            "    X_train, y_train,",
            f"    epochs={self.epochs}, batch_size={self.batch_size},",
            "    validation_data=None if X_val is None else (X_val, y_val),",
            "    verbose=0,",
            ")",
        ]
        return "\n".join(lines) + "\n"
