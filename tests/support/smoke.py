"""Run by a test venv's Python against its installed lstm_widgets: one Trainer epoch and
one ``model.fit`` epoch under ``watch()``. Prints one line of JSON with what it measured.

Kept a plain script (no pytest, no tests/ import) so that it needs nothing but the package
and what the package itself installs.
"""

import json
import math

import numpy as np

import lstm_widgets
from lstm_widgets import TrainConfig, load_dataset

out = {"file": lstm_widgets.__file__}

trainer = lstm_widgets.Trainer(TrainConfig(units=4, epochs=1, batch_size=32),
                               load_dataset("sine", n_samples=160, seq_len=8, seed=1))
trainer.start()
out["trainer_finished_in_time"] = bool(trainer.wait(300))
record = trainer.history.latest
out.update(trainer_state=trainer.state, trainer_epochs=len(trainer.history),
           trainer_loss=record.loss if record else None,
           trainer_grad=record.units["grad_pre_mean"]["global"] if record else None)

from lstm_widgets.engine._tf import keras, tf  # noqa: E402  (loaded by the Trainer already)

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 12, 3)).astype("float32")
y = X[:, -3:, 0].mean(1, keepdims=True).astype("float32")
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((12, 3)), keras.layers.LSTM(8), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(clipnorm=0.01), loss="mse")
monitor = lstm_widgets.watch(model, probe=(X[:16], y[:16]), display=False)
model.fit(X, y, epochs=1, batch_size=32, callbacks=[monitor], verbose=0)
watched = monitor.history.latest
out.update(
    watch_epochs=len(monitor.history), watch_steps=watched.steps, watch_complete=watched.complete,
    watch_grad=watched.units["grad_pre_mean"]["global"],
    watch_clipped=watched.units["grad_post_max"]["global"] <= watched.units["grad_pre_max"]["global"],
    keras=keras.__version__, tensorflow=tf.__version__,
)
out["finite"] = all(math.isfinite(v) for v in (out["trainer_loss"] or math.nan, out["trainer_grad"] or math.nan,
                                               out["watch_grad"]))
print(json.dumps(out))
