"""TrainConfig and the one declared table of settings it is validated from.

:data:`SETTINGS` declares every knob once: its type, bounds or choices, default, help
line, typical values and when a live change takes effect. From it come TrainConfig's
validation and error messages, the Lab's widgets (bounds, tooltips), the options and
help of the CLI and of the ``%lstm_lab`` magic (built from it in :mod:`.options`). A
bound is typed here and nowhere else.

The name tables (Keras classes, scikit-learn scalers, typical learning rates) live here
too, so that the model builder, the scaler, the Keras code and the diagnosis read them
from one place.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = [
    "TrainConfig",
    "Setting",
    "SETTINGS",
    "OPTIMIZERS",
    "ADAPTIVE_OPTIMIZERS",
    "CLIPPING_MODES",
    "SCALERS",
    "CELLS",
    "LOSSES",
    "ARCHITECTURE_FIELDS",
    "BATCH_FIELDS",
    "EPOCH_FIELDS",
    "OPTIMIZER_CLASSES",
    "CELL_CLASSES",
    "SCALER_SPECS",
    "TYPICAL_LR",
    "scaler_code",
]

# -- name tables ------------------------------------------------------------------------

#: Our optimizer names -> the Keras 3 class in ``keras.optimizers``.
OPTIMIZER_CLASSES = {"adam": "Adam", "rmsprop": "RMSprop", "nadam": "Nadam", "sgd": "SGD"}
#: Optimizers whose step is m / sqrt(v): scaling every gradient by a constant leaves it
#: unchanged (until the gradient nears epsilon). See ../shared/DESIGN.md, "Facts".
ADAPTIVE_OPTIMIZERS = frozenset({"adam", "rmsprop", "nadam"})
#: Learning rates the optimizers usually start from (the Keras defaults; SGD's common 1e-2).
TYPICAL_LR = {"adam": 1e-3, "nadam": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}
#: Our cell names -> the Keras 3 layer class in ``keras.layers``.
CELL_CLASSES = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
#: Our scaler names -> (scikit-learn class in ``sklearn.preprocessing``, its arguments).
SCALER_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "standard": ("StandardScaler", {}),
    "minmax": ("MinMaxScaler", {"feature_range": (0, 1)}),
    "minmax_sym": ("MinMaxScaler", {"feature_range": (-1, 1)}),
    "robust": ("RobustScaler", {}),
}
_KERAS_LOSS = {"mse": '"mse"', "mae": '"mae"', "huber": "keras.losses.Huber()"}

OPTIMIZERS = tuple(OPTIMIZER_CLASSES)
CLIPPING_MODES = ("none", "clipnorm", "global_clipnorm", "clipvalue")
SCALERS = ("none",) + tuple(SCALER_SPECS)
CELLS = tuple(CELL_CLASSES)
LOSSES = tuple(_KERAS_LOSS)


def scaler_code(kind: str) -> str:
    """The scikit-learn constructor of a scaler, as source code, e.g. "RobustScaler()"."""
    cls, kwargs = SCALER_SPECS[kind]
    return f"{cls}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


# -- the table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One knob of a training run, declared once.

    Attributes:
        name: The TrainConfig field, e.g. "learning_rate".
        kind: "choice", "float", "int" or "bool".
        default: The default value.
        help: One line: what it does and what is typical (tooltips, CLI and magic help).
        choices: The allowed values of a "choice".
        low, high: The bounds of a number; ``low_open`` excludes ``low``.
        hint: What to try, appended to an error message; may depend on the config
            being validated (``hint(values)`` with the values validated so far).
        applies: When a change made while training takes effect: "batch" (before the
            next batch), "epoch" (before the next epoch) or "restart" (a new model).
        flags: Command-line flags (CLI and ``%lstm_lab``), first one shown in help;
            empty for settings without a flag.
        short: A short label for change markers, e.g. "lr".
        control: The Lab shows a control for it.
        slider: For a number shown as a slider: (lowest, highest) the slider shows;
            values outside it stay exact (the learning rate has an exact box too).
        log: The slider is logarithmic.
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    hint: str | Callable[[dict], str] = ""
    applies: str = "batch"
    flags: tuple[str, ...] = ()
    short: str = ""
    control: bool = True
    slider: tuple[float, float] | None = None
    log: bool = False

    def hint_for(self, values: dict) -> str:
        return self.hint(values) if callable(self.hint) else self.hint

    def bounds_text(self) -> str:
        """The allowed values in words, e.g. "a number in (0, 10]"."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "True or False"
        lo_b = "(" if self.low_open else "["
        if self.kind == "int":
            return f"a whole number in [{int(self.low)}, {int(self.high)}]"
        return f"a number in {lo_b}{self.low:g}, {self.high:g}]"

    def validate(self, value: Any, values: dict | None = None) -> Any:
        """``value`` converted to the setting's type, or a ValueError that names the
        setting, what came in and what to try."""
        values = values or {}
        hint = self.hint_for(values)
        tail = f" {hint}" if hint else ""
        if self.kind == "choice":
            if not isinstance(value, str) or value.lower() not in self.choices:
                raise ValueError(f"{self.name} must be {self.bounds_text()}; got {value!r}.{tail}")
            return value.lower()
        if self.kind == "bool":
            if not isinstance(value, (bool, int)) or isinstance(value, float):
                raise ValueError(f"{self.name} must be True or False; got {value!r}.{tail}")
            return bool(value)
        if self.kind == "int":
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise ValueError(f"{self.name} must be {self.bounds_text()}; got {value!r}.{tail}")
            value = int(value)
            if not self.low <= value <= self.high:
                raise ValueError(f"{self.name} must be {self.bounds_text()}; got {value}.{tail}")
            return value
        try:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be {self.bounds_text()}; got {value!r}.{tail}") from None
        above_low = self.low < number if self.low_open else self.low <= number
        if not (math.isfinite(number) and above_low and number <= self.high):
            raise ValueError(f"{self.name} must be {self.bounds_text()}; got {value!r}.{tail}")
        return number

    def help_with_default(self) -> str:
        """The help line and the default, for the CLI and the magic's ``--help``."""
        return f"{self.help} Default: {self.default!r}."


def _lr_hint(values: dict) -> str:
    opt = values.get("optimizer", "adam")
    return f"Try {TYPICAL_LR.get(opt, 1e-3):g} for {OPTIMIZER_CLASSES.get(opt, opt)}."


#: Every setting of a training run, in the order the Lab shows them.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "optimizer", "choice", "adam",
        "Update rule. Adam is the usual start for LSTMs; SGD needs a larger learning rate "
        "(~1e-2) and often momentum 0.9.",
        choices=OPTIMIZERS, flags=("--optimizer",),
    ),
    Setting(
        "momentum", "float", 0.0,
        "SGD only: share of the previous step kept in the next one. 0.9 is typical; 0 is plain SGD.",
        low=0.0, high=0.999, hint="Try 0.9 with SGD, or 0 for none.", flags=("--momentum",),
        slider=(0.0, 0.99),
    ),
    Setting(
        "learning_rate", "float", 1e-3,
        "Step size. Typical: 1e-3 for Adam/RMSprop/Nadam, 1e-2 for SGD. Too high explodes, "
        "too low barely moves the weights.",
        low=0.0, high=10.0, low_open=True, hint=_lr_hint, flags=("--lr", "--learning-rate"),
        short="lr", slider=(1e-6, 1.0), log=True,
    ),
    Setting(
        "nesterov", "bool", False, "SGD only: Nesterov momentum.", flags=("--nesterov",), control=False,
    ),
    Setting(
        "clipping", "choice", "none",
        "Gradient clipping: clipnorm (each variable's norm), global_clipnorm (all together) or "
        "clipvalue (each element). Stops exploding gradients; does nothing for vanishing ones.",
        choices=CLIPPING_MODES,
    ),
    Setting(
        "clip_threshold", "float", 1.0,
        "Clipping threshold, in gradient-norm units (element units for clipvalue). clipnorm "
        "between 1 and 5 is a common start.",
        low=0.0, high=1e6, low_open=True, hint="A clipnorm between 1 and 5 is a common start.",
        short="clip", slider=(0.01, 100.0), log=True,
    ),
    Setting(
        "scaler", "choice", "standard",
        "Input scaling fitted on the training split. standard (zero mean, unit std) is the usual "
        "choice; none leaves large raw features that saturate the gates.",
        choices=SCALERS, applies="epoch", flags=("--scaler",),
    ),
    Setting(
        "scale_target", "bool", False,
        "Also standardize the target (fitted on the training split); predictions are turned "
        "back into its units.",
        applies="epoch", flags=("--scale-target",), short="scale y",
    ),
    Setting(
        "epochs", "int", 20, "Epochs per Train. Changing it while training moves the end of the run.",
        low=1, high=100_000, hint="Try 20.", flags=("--epochs",),
    ),
    Setting(
        "pace", "float", 0.0,
        "Seconds each epoch lasts at least, so a fast run can be watched and steered (0: as fast "
        "as it trains). It waits between epochs and changes no result.",
        low=0.0, high=60.0, hint="Try 0.5 to watch a run epoch by epoch.", flags=("--pace",),
        slider=(0.0, 2.0),
    ),
    Setting(
        "batch_size", "int", 32,
        "Samples per gradient step; applies from the next epoch. 32 is typical; smaller is noisier.",
        low=1, high=1_000_000, hint="Try 32.", applies="epoch", flags=("--batch-size",), short="batch",
    ),
    Setting(
        "units", "int", 16,
        "Units per recurrent layer (16-64 is typical here). Needs a Restart: a new model is built.",
        low=1, high=4096, hint="Try 16 or 32.", applies="restart", flags=("--units",),
    ),
    Setting(
        "layers", "int", 1,
        "Stacked recurrent layers (1-2 is typical). Needs a Restart: a new model is built.",
        low=1, high=16, hint="Try 1 or 2.", applies="restart", flags=("--layers",),
    ),
    Setting(
        "cell", "choice", "lstm",
        "Recurrent cell: lstm, gru or simple_rnn (which shows vanishing gradients best). Needs a Restart.",
        choices=CELLS, applies="restart", flags=("--cell",),
    ),
    Setting(
        "recurrent_gain", "float", 1.0,
        "Scale of the recurrent kernel at initialisation (the gain of Keras's orthogonal "
        "initializer; 1 is Keras's default). Above 1 a simple RNN's gradient grows with every "
        "step back through time (lesson 1). Needs a Restart.",
        low=0.0, high=10.0, low_open=True, hint="Try 1 (Keras's default).", applies="restart",
        flags=("--recurrent-gain",), control=False,
    ),
    Setting(
        "unit_forget_bias", "bool", True,
        "LSTM only: start the forget gate's bias at 1 (Keras's default), so the cell state keeps "
        "most of itself at each step and the gradient reaches far back from the first epoch; "
        "False starts it at 0 (lesson 4). Needs a Restart.",
        applies="restart", control=False,
    ),
    Setting(
        "loss", "choice", "mse", "Training loss: mse, mae or huber. Needs a Restart.",
        choices=LOSSES, applies="restart", flags=("--loss",), control=False,
    ),
    Setting(
        "seed", "int", 0, "Seed for the initial weights and the shuffling. Needs a Restart.",
        low=0, high=2**31 - 1, hint="Any whole number >= 0 works.", applies="restart",
        flags=("--seed",), control=False,
    ),
)

SETTING = {s.name: s for s in SETTINGS}
#: Settings that define the model; changing them needs a fresh model (a restart).
ARCHITECTURE_FIELDS = frozenset(s.name for s in SETTINGS if s.applies == "restart")
#: Settings a live change applies before the next batch.
BATCH_FIELDS = frozenset(s.name for s in SETTINGS if s.applies == "batch")
#: Settings a live change applies before the next epoch.
EPOCH_FIELDS = frozenset(s.name for s in SETTINGS if s.applies == "epoch")


def _docstring() -> str:
    lines = ["Every setting of a training run. Immutable: use :meth:`replace` to change one.", "", "Args:"]
    for s in SETTINGS:
        lines.append(f"    {s.name}: {s.help} {s.bounds_text().capitalize()}. Defaults to {s.default!r}.")
    return "\n".join(lines)


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = SETTING["optimizer"].default
    learning_rate: float = SETTING["learning_rate"].default
    momentum: float = SETTING["momentum"].default
    nesterov: bool = SETTING["nesterov"].default
    clipping: str = SETTING["clipping"].default
    clip_threshold: float = SETTING["clip_threshold"].default
    scaler: str = SETTING["scaler"].default
    scale_target: bool = SETTING["scale_target"].default
    epochs: int = SETTING["epochs"].default
    pace: float = SETTING["pace"].default
    batch_size: int = SETTING["batch_size"].default
    units: int = SETTING["units"].default
    layers: int = SETTING["layers"].default
    cell: str = SETTING["cell"].default
    recurrent_gain: float = SETTING["recurrent_gain"].default
    unit_forget_bias: bool = SETTING["unit_forget_bias"].default
    loss: str = SETTING["loss"].default
    seed: int = SETTING["seed"].default

    def __post_init__(self) -> None:
        values: dict[str, Any] = {}
        for s in SETTINGS:  # in table order, so a hint can read the settings before it
            values[s.name] = s.validate(getattr(self, s.name), values)
            object.__setattr__(self, s.name, values[s.name])  # frozen dataclass

    # -- changing -----------------------------------------------------------------------
    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied and validated.

        Raises:
            ValueError: an unknown setting name, or an invalid value.
        """
        unknown = sorted(set(changes) - set(SETTING))
        if unknown:
            raise ValueError(
                f"Unknown setting {', '.join(map(repr, unknown))}; the settings are: "
                f"{', '.join(SETTING)}."
            )
        return dataclasses.replace(self, **changes)

    @staticmethod
    def field_names() -> tuple[str, ...]:
        return tuple(SETTING)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SETTING}

    def diff(self, other: "TrainConfig") -> dict[str, tuple[Any, Any]]:
        """``{name: (self_value, other_value)}`` for every setting that differs."""
        return {
            k: (getattr(self, k), getattr(other, k)) for k in SETTING if getattr(self, k) != getattr(other, k)
        }

    # -- Keras equivalents ----------------------------------------------------------------
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
        return f"keras.optimizers.{OPTIMIZER_CLASSES[self.optimizer]}({', '.join(args)})"

    def to_keras_code(self, n_timesteps: int | None = None, n_features: int | None = None) -> str:
        """Runnable Keras 3 + scikit-learn code that reproduces these settings.

        The code expects numpy arrays ``X_train, y_train`` (and optionally ``X_val,
        y_val``) shaped (samples, timesteps, features) and (samples, outputs) in scope,
        and leaves the trained ``model`` and its Keras ``history``.
        """
        t = "X_train.shape[1]" if n_timesteps is None else str(int(n_timesteps))
        f = "X_train.shape[2]" if n_features is None else str(int(n_features))
        layer = CELL_CLASSES[self.cell]
        lines = [
            "# Reproduces these lstm_widgets settings in plain Keras 3 + scikit-learn.",
            "# Expects X_train, y_train (and optionally X_val, y_val) as numpy arrays:",
            "# X shaped (samples, timesteps, features), y shaped (samples, outputs).",
            "import numpy as np",
            "import keras",
        ]
        if self.scaler != "none" or self.scale_target:
            names = sorted({cls for cls, _ in SCALER_SPECS.values()})
            lines.append(f"from sklearn.preprocessing import {', '.join(names)}")
        lines += ["", f"keras.utils.set_random_seed({self.seed})", "X_val = globals().get('X_val')",
                  "y_val = globals().get('y_val')", "y_train = np.asarray(y_train).reshape(len(X_train), -1)",
                  "if y_val is not None:", "    y_val = np.asarray(y_val).reshape(len(X_val), -1)"]
        if self.scaler != "none":
            lines += [
                "",
                "# Fit the scaler on the training split only, per feature; transform the rest.",
                f"scaler = {scaler_code(self.scaler)}.fit(X_train.reshape(-1, X_train.shape[-1]))",
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
            init = ("" if self.recurrent_gain == 1.0 else
                    f", recurrent_initializer=keras.initializers.Orthogonal(gain={self.recurrent_gain!r})")
            if self.cell == "lstm" and not self.unit_forget_bias:
                init += ", unit_forget_bias=False"
            lines.append(f"    keras.layers.{layer}({self.units}{rs}{init}),")
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


TrainConfig.__doc__ = _docstring()
