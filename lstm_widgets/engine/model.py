"""Build the Keras 3 recurrent model described by a TrainConfig."""

from __future__ import annotations

import random

from ._tf import keras
from ..config import CELL_CLASSES, OPTIMIZER_CLASSES, TrainConfig

__all__ = ["build_model", "make_optimizer", "make_loss", "GATES"]

#: Gate names per cell type, in the order Keras lays them out along a kernel's last axis.
GATES = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}


def build_model(config: TrainConfig, n_timesteps: int, n_features: int, n_outputs: int) -> "keras.Model":
    """A Sequential model: ``config.layers`` recurrent layers, then a Dense output.

    Builds the weights from ``config.seed`` alone, so the same config gives the same model
    in any process and whatever other threads do (see :func:`_initializer_seeds`).
    """
    keras.utils.set_random_seed(config.seed)
    draw = _initializer_seeds(config.seed)
    cls = getattr(keras.layers, CELL_CLASSES[config.cell])
    layers = [keras.Input(shape=(n_timesteps, n_features), name="sequence")]
    # Keras's own default ("orthogonal", gain 1) unless a gain is set: one initializer,
    # drawn before the layers and shared by them, as this model always had.
    gain_init = None if config.recurrent_gain == 1.0 else keras.initializers.Orthogonal(
        gain=config.recurrent_gain, seed=draw())
    for i in range(config.layers):
        # The order Keras's constructors draw their default seeds in: a SimpleRNNCell makes
        # its dropout SeedGenerator first, the LSTM and GRU cells last.
        sg = draw() if config.cell == "simple_rnn" else None
        kernel = keras.initializers.GlorotUniform(seed=draw())
        recurrent = gain_init if gain_init is not None else keras.initializers.Orthogonal(seed=draw())
        sg = draw() if sg is None else sg
        # The forget gate's bias starts at 1 unless turned off (lesson 4); no other cell has one.
        forget = {"unit_forget_bias": config.unit_forget_bias} if config.cell == "lstm" else {}
        layers.append(
            cls(config.units, return_sequences=i < config.layers - 1, name=f"{config.cell}_{i + 1}",
                kernel_initializer=kernel, recurrent_initializer=recurrent, seed=sg, **forget)
        )
    layers.append(keras.layers.Dense(n_outputs, name="output",
                                     kernel_initializer=keras.initializers.GlorotUniform(seed=draw())))
    return keras.Sequential(layers, name="lstm_widgets_model")


def _initializer_seeds(seed: int):
    """The seeds Keras's default initializers would draw right after
    ``keras.utils.set_random_seed(seed)``, drawn from a generator of our own.

    A default initializer (and a cell's dropout SeedGenerator) draws its seed from Python's
    *global* ``random`` when it is constructed. Any other thread that draws from it between
    the seeding and the layers' construction (the scheduler a local Dask cluster runs in
    this process draws from it) changes every weight: a run in a sweep then started
    elsewhere than the same run in the kernel (CI saw epoch-1 losses of 0.583 and 0.614).
    The same draws from a private ``random.Random(seed)`` give the very weights a quiet
    process gets, always.
    """
    rng = random.Random(seed)
    return lambda: rng.randint(1, int(1e9))


def make_optimizer(config: TrainConfig) -> "keras.optimizers.Optimizer":
    """The Keras optimizer, without clipping (the instrumented step clips, live)."""
    cls = getattr(keras.optimizers, OPTIMIZER_CLASSES[config.optimizer])
    if config.optimizer == "sgd":
        return cls(learning_rate=config.learning_rate, momentum=config.momentum, nesterov=config.nesterov)
    return cls(learning_rate=config.learning_rate)


def make_loss(config: TrainConfig):
    return {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
    }[config.loss]()
