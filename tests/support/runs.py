"""Small real training runs and Labs for the tests (tiny data, a few epochs)."""

from __future__ import annotations

import time

import numpy as np
from lstm_widgets import TrainConfig

#: The engine tests' model: 4 units, 2 epochs.
TINY = dict(units=4, epochs=2, batch_size=32)


def train(data, **settings):
    """A Trainer on ``data`` trained to the end (the engine tests' tiny model by default)."""
    from lstm_widgets import Trainer

    trainer = Trainer(TrainConfig(**{**TINY, **settings}), data)
    trainer.start()
    assert trainer.wait(120)
    return trainer


def make_lab(data, **config):
    """A Lab on ``data`` with a 4-unit LSTM and 3 epochs unless ``config`` says otherwise."""
    from lstm_widgets.ui import Lab

    return Lab(data=data, **{"epochs": 3, "units": 4, "batch_size": 32, **config})


def wait_until(cond, timeout=60.0, what="condition"):
    """Poll ``cond()`` until it holds; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def user_model(**opt):
    """Exactly the README's user code (watch() tests), with the optimizer's clipping varied."""
    from lstm_widgets.engine._tf import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.LSTM(32), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(**opt), loss="mse")
    return model


def fit_watched(model, data, epochs=2, probe=True, **fit):
    """``model.fit`` on ``data`` with a watch() Monitor (no display); returns the Monitor."""
    import lstm_widgets

    X, y = data
    monitor = lstm_widgets.watch(model, probe=(X[:16], y[:16]) if probe else None, display=False)
    model.fit(X, y, epochs=epochs, callbacks=[monitor], verbose=0, **fit)
    return monitor


def user_data(seed: int = 0):
    """(X, y) for the watch() tests: 128 sequences of 30 steps x 4 features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(128, 30, 4)).astype("float32")
    y = (X[:, -5:, 0].mean(1, keepdims=True) + 0.5 * X[:, -1, 1:2]).astype("float32")
    return X, y
