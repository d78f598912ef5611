"""What does watch() cost? Plain `model.fit` against `model.fit` with a watch() Monitor.

The README's user model (LSTM(32) on 30 x 4 inputs, Adam(clipnorm=1.0), mse), built fresh
with the same seed for every trial, the same data, batch size, validation data and epochs;
trials alternate in one process so machine noise hits both sides alike. The Monitor records
everything (gradient norms before/after clipping, per gate, weight updates, and the gradient
through time on a 64-sample probe batch), display=False (no front end to draw on). An epoch
is timed from before any callback's on_epoch_begin to after every on_epoch_end, so the
Monitor's per-epoch reading is included. The first epoch of every trial (tracing) is left
out. Prints per-epoch times and, on its last line, the median ratio (target: at most 1.10).

    python benchmarks/watch_overhead.py [--trials 5] [--epochs 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import lstm_widgets  # noqa: E402
from lstm_widgets.engine._tf import keras  # noqa: E402


class _Start(keras.callbacks.Callback):
    def __init__(self, times):
        super().__init__()
        self.times = times

    def on_epoch_begin(self, epoch, logs=None):
        self.times.append(-time.perf_counter())


class _End(keras.callbacks.Callback):
    def __init__(self, times):
        super().__init__()
        self.times = times

    def on_epoch_end(self, epoch, logs=None):
        self.times[-1] += time.perf_counter()


def make_data(n: int = 1024, seed: int = 0):
    """Four noisy features; the target is a mix of the last steps of two of them."""
    rng = np.random.default_rng(seed)
    t = np.arange(30)[None, :, None]
    X = np.sin(0.2 * t * rng.uniform(0.5, 1.5, size=(n, 1, 4)) + rng.uniform(0, 6.3, size=(n, 1, 4)))
    X = (X + 0.1 * rng.normal(size=X.shape)).astype("float32")
    y = (X[:, -3:, 0].mean(1) - 0.5 * X[:, -1, 2]).reshape(-1, 1).astype("float32")
    return X[:768], y[:768], X[768:], y[768:]


def fit(data, epochs: int, watched: bool) -> list[float]:
    X_train, y_train, X_val, y_val = data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.LSTM(32), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(clipnorm=1.0), loss="mse")
    times: list[float] = []
    callbacks = [_Start(times)]
    if watched:
        callbacks.append(lstm_widgets.watch(model, probe=(X_val[:64], y_val[:64]), display=False))
    callbacks.append(_End(times))
    model.fit(X_train, y_train, batch_size=32, epochs=epochs, validation_data=(X_val, y_val),
              verbose=0, callbacks=callbacks)
    return times[1:]


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--epochs", type=int, default=6)
    args = p.parse_args(argv)

    data = make_data()
    names = {False: "plain model.fit", True: "fit + watch()"}
    rows: dict[str, list[float]] = {n: [] for n in names.values()}
    print(f"LSTM(32) on 30x4 inputs, Adam(clipnorm=1.0), {len(data[0])} train / {len(data[2])} val, "
          f"batch 32, {args.epochs} epochs x {args.trials} trials, first epoch of each left out")
    fit(data, 2, watched=False)  # warm up TensorFlow once, outside the measurements
    for trial in range(args.trials):
        for watched, name in names.items():
            times = fit(data, args.epochs, watched)
            rows[name].extend(times)
            print(f"trial {trial + 1} {name:>16}: " + " ".join(f"{t * 1000:6.1f}" for t in times) + "  ms/epoch")
    base = statistics.median(rows["plain model.fit"])
    med = statistics.median(rows["fit + watch()"])
    print()
    for name, times in rows.items():
        print(f"{name:>16}: median {statistics.median(times) * 1000:7.1f} ms/epoch")
    ratio = med / base
    print(f"median ratio fit + watch() / plain model.fit: {ratio:.3f} (target <= 1.10)")
    return ratio


if __name__ == "__main__":
    main()
