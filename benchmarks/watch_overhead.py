"""What does watch() cost? Plain `model.fit` against `model.fit` with a watch() Monitor.

The README's user model (LSTM(32) on 30 x 4 inputs, Adam(clipnorm=1.0), mse), built fresh
with the same seed for every trial, the same data, batch size, validation data and epochs;
the sides alternate in one process so machine noise hits both alike. The Monitor records
everything (gradient norms before/after clipping, per gate, weight updates, and the gradient
through time on a 64-sample probe batch), display=False (no front end to draw on). An epoch
is timed from before any callback's on_epoch_begin to after every on_epoch_end, so the
Monitor's per-epoch reading is included. The two models take turns epoch by epoch (one
``fit(epochs=1)`` each, the Monitor continuing its run), so machine noise hits both alike;
the first epoch of each (tracing) is left out. A third model is watched for its first epoch
and then trained without the Monitor (its wrappers stay in the compiled step, paused): what
a watched model costs once the Monitor is gone. A second plain model takes its turns too:
plain / plain is the noise floor, what two identical sides differ by on this machine in
this run (an overhead within it is not told apart from noise). Then whole fits of several
epochs (``--fit-epochs``) alternate, timed from the call to its return (the Monitor's
begin and end of a fit included), as a user's own ``fit`` runs. Prints wall and process CPU time, the
median of the per-round ratios (each round runs every side once, back to back, which
cancels the drift between rounds) with a 95% bootstrap interval and the interquartile
range, the ratio of the medians beside it, and, on its last line, the median ratio
fit + watch() / plain fit (target: at most 1.05).

    python benchmarks/watch_overhead.py [--rounds 120] [--fit-rounds 60] [--fit-epochs 5]
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
from _stats import paired  # noqa: E402  (benchmarks/_stats.py)
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


class Side:
    """One model trained one epoch per call of ``epoch()``. ``watched``: a watch() Monitor
    records it (the same Monitor, so the run continues from fit to fit). ``paused``: a
    Monitor recorded its first fit, the later ones go without it (the wrappers stay in the
    compiled step, paused)."""

    def __init__(self, data, watched: bool, paused: bool = False):
        self.data = data
        keras.utils.set_random_seed(0)
        self.model = keras.Sequential([keras.Input((30, 4)), keras.layers.LSTM(32), keras.layers.Dense(1)])
        self.model.compile(optimizer=keras.optimizers.Adam(clipnorm=1.0), loss="mse")
        X_val, y_val = data[2], data[3]
        self.monitor = None
        if watched or paused:
            self.monitor = lstm_widgets.watch(self.model, probe=(X_val[:64], y_val[:64]), display=False)
        self.paused = paused

    def epoch(self) -> tuple[float, float]:
        X_train, y_train, X_val, y_val = self.data
        times: list[float] = []
        callbacks = [_Start(times)] + ([self.monitor] if self.monitor is not None else []) + [_End(times)]
        if self.paused and self.monitor is not None and len(self.monitor.history):
            callbacks.remove(self.monitor)
        c0 = time.process_time()
        self.model.fit(X_train, y_train, batch_size=32, epochs=1, validation_data=(X_val, y_val), verbose=0,
                       callbacks=callbacks)
        return times[0], time.process_time() - c0

    def fit(self, epochs: int) -> tuple[float, float]:
        """One whole ``fit`` of ``epochs`` epochs: (wall, process CPU) from call to return."""
        X_train, y_train, X_val, y_val = self.data
        callbacks = [self.monitor] if self.monitor is not None else []
        t0, c0 = time.perf_counter(), time.process_time()
        self.model.fit(X_train, y_train, batch_size=32, epochs=epochs, validation_data=(X_val, y_val), verbose=0,
                       callbacks=callbacks)
        return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=120, help="rounds of one epoch per side, in turn")
    p.add_argument("--fit-rounds", type=int, default=60, help="rounds of one whole fit per side, in turn")
    p.add_argument("--fit-epochs", type=int, default=5, help="epochs of each whole fit")
    args = p.parse_args(argv)

    data = make_data()
    sides = {"plain model.fit": Side(data, False), "plain, 2nd model": Side(data, False),
             "fit + watch()": Side(data, True), "fit, hook paused": Side(data, False, paused=True)}
    print(f"LSTM(32) on 30x4 inputs, Adam(clipnorm=1.0), {len(data[0])} train / {len(data[2])} val, batch 32, "
          f"{args.rounds} epochs per side alternated epoch by epoch (the first left out); median wall and process "
          f"CPU time; ratios: the median of the per-round ratios (95% bootstrap interval; interquartile range)")
    for side in sides.values():  # first epoch: tracing
        side.epoch()
    times = {n: [] for n in sides}
    names = list(sides)
    for r in range(args.rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            times[n].append(sides[n].epoch())

    def med(n, k):
        return statistics.median(x[k] for x in times[n])

    for n in names:
        print(f"{n:>16}: median {med(n, 0) * 1000:7.1f} ms/epoch wall, {med(n, 1) * 1000:7.1f} ms CPU")
    base = times["plain model.fit"]
    est = {}
    for n in names[1:]:
        wall, ci, iqr = paired(times[n], base, 0)
        cpu, cpu_ci, _ = paired(times[n], base, 1)
        est[n] = wall
        print(f"{n} / plain: {wall:.3f} wall (95% {ci[0]:.3f}-{ci[1]:.3f}; IQR {iqr[0]:.2f}-{iqr[1]:.2f}; "
              f"ratio of medians {med(n, 0) / med('plain model.fit', 0):.3f}), "
              f"{cpu:.3f} CPU (95% {cpu_ci[0]:.3f}-{cpu_ci[1]:.3f})")
    fits = {n: [] for n in ("plain model.fit", "fit + watch()")}
    for r in range(args.fit_rounds):
        for n in (list(fits) if r % 2 == 0 else list(fits)[::-1]):
            fits[n].append(sides[n].fit(args.fit_epochs))
    wall, ci, iqr = paired(fits["fit + watch()"], fits["plain model.fit"], 0)
    cpu, cpu_ci, _ = paired(fits["fit + watch()"], fits["plain model.fit"], 1)
    fit_med = statistics.median(x[0] for x in fits["plain model.fit"])
    print(f"whole fit(epochs={args.fit_epochs}) + watch() / plain, {args.fit_rounds} rounds (plain median "
          f"{fit_med * 1000:.0f} ms): {wall:.3f} wall (95% {ci[0]:.3f}-{ci[1]:.3f}; IQR {iqr[0]:.2f}-{iqr[1]:.2f}), "
          f"{cpu:.3f} CPU (95% {cpu_ci[0]:.3f}-{cpu_ci[1]:.3f})")
    ratio = est["fit + watch()"]
    print(f"median ratio fit + watch() / plain model.fit: {ratio:.3f} (target <= 1.05)")
    return ratio


if __name__ == "__main__":
    main()
