"""Build the Keras 3 recurrent model described by a TrainConfig."""

from __future__ import annotations

from ._tf import keras
from ..config import CELL_CLASSES, OPTIMIZER_CLASSES, TrainConfig

__all__ = ["build_model", "make_optimizer", "make_loss", "GATES"]

#: Gate names per cell type, in the order Keras lays them out along a kernel's last axis.
GATES = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}


def build_model(config: TrainConfig, n_timesteps: int, n_features: int, n_outputs: int) -> "keras.Model":
    """A Sequential model: ``config.layers`` recurrent layers, then a Dense output.

    Builds the weights from ``config.seed``, so the same config gives the same model.
    """
    keras.utils.set_random_seed(config.seed)
    cls = getattr(keras.layers, CELL_CLASSES[config.cell])
    layers = [keras.Input(shape=(n_timesteps, n_features), name="sequence")]
    # Keras's own default ("orthogonal", gain 1) unless a gain is set, so a default model
    # draws exactly the weights it always drew.
    init = {} if config.recurrent_gain == 1.0 else {
        "recurrent_initializer": keras.initializers.Orthogonal(gain=config.recurrent_gain)}
    for i in range(config.layers):
        layers.append(
            cls(config.units, return_sequences=i < config.layers - 1, name=f"{config.cell}_{i + 1}", **init)
        )
    layers.append(keras.layers.Dense(n_outputs, name="output"))
    return keras.Sequential(layers, name="lstm_widgets_model")


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
