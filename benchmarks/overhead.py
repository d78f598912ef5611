"""What does full instrumentation cost? Plain `model.fit` against the instrumented Trainer.

Same model, data (scaled the same way), batch size, validation data and epochs, trials
alternated in one process so that machine noise hits both sides alike. An epoch's time is
the gap between two consecutive epoch ends, so everything done per epoch counts: Keras's
validation for plain fit; statistics, probe, validation, and (with a Lab) every panel and
the diagnosis redrawn for the instrumented side. The first epoch of each trial (tracing)
is left out. Prints per-epoch times and, on its last line, the worst median ratio
instrumented / plain (target: at most 1.05).

    python benchmarks/overhead.py [--trials 5] [--epochs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_widgets import TrainConfig, load_dataset  # noqa: E402
from lstm_widgets.engine._tf import keras  # noqa: E402
from lstm_widgets.engine.model import build_model, make_optimizer  # noqa: E402
from lstm_widgets.scaling import SequenceScaler  # noqa: E402
from lstm_widgets.engine.trainer import Trainer  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_epoch_end(self, epoch, logs=None):  # after Keras's validation
        self.times.append(time.perf_counter())


def plain_fit(config: TrainConfig, data) -> list[float]:
    scaled = SequenceScaler(config.scaler).fit_transform(data)
    model = build_model(config, data.n_timesteps, data.n_features, data.n_outputs)
    model.compile(optimizer=make_optimizer(config), loss="mse")
    timer = EpochTimer()
    model.fit(
        scaled.X_train, scaled.y_train, batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(scaled.X_val, scaled.y_val), verbose=0, callbacks=[timer],
    )
    return list(np.diff(timer.times))


def _epoch_ends(trainer) -> list[float]:
    ends: list[float] = []
    trainer.on_epoch(lambda rec: ends.append(time.perf_counter()))  # after every other subscriber
    return ends


def instrumented(config: TrainConfig, data) -> list[float]:
    trainer = Trainer(config, data)
    ends = _epoch_ends(trainer)
    trainer.start()
    trainer.wait()
    return list(np.diff(ends))


def with_lab(config: TrainConfig, data) -> list[float]:
    from lstm_widgets.ui import Lab  # panels, diagnosis and code view, updated every epoch

    lab = Lab(data=data, **config.to_dict())
    ends = _epoch_ends(lab.trainer)
    lab.train(wait=True)
    lab.close()
    return list(np.diff(ends))


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--epochs", type=int, default=7)
    p.add_argument("--no-lab", action="store_true", help="leave out the row with a Lab attached")
    args = p.parse_args(argv)

    data = load_dataset("adding", n_samples=1024, seq_len=40)
    config = TrainConfig(epochs=args.epochs, batch_size=32, units=16, clipping="clipnorm", clip_threshold=1.0)
    rows: dict[str, list[float]] = {"plain model.fit": [], "instrumented Trainer": []}
    runners = {"plain model.fit": lambda: plain_fit(config, data), "instrumented Trainer": lambda: instrumented(config, data)}
    if not args.no_lab:
        rows["Trainer + live Lab"] = []
        runners["Trainer + live Lab"] = lambda: with_lab(config, data)
    print(f"adding problem, {len(data.X_train)} train / {len(data.X_val)} val sequences of 40 steps, "
          f"LSTM(16), batch 32, clipnorm 1, {args.epochs} epochs x {args.trials} trials, first epoch of each left out")
    runners["plain model.fit"]()  # warm up TensorFlow once, outside the measurements
    for trial in range(args.trials):
        for name, fn in runners.items():
            times = fn()
            rows[name].extend(times)
            print(f"trial {trial + 1} {name:>22}: " + " ".join(f"{t * 1000:6.1f}" for t in times) + "  ms/epoch")
    base = statistics.median(rows["plain model.fit"])
    print()
    ratio = 0.0
    for name, times in rows.items():
        med = statistics.median(times)
        print(f"{name:>22}: median {med * 1000:7.1f} ms/epoch   ratio {med / base:.3f}")
        if name != "plain model.fit":
            ratio = max(ratio, med / base)
    print(f"worst median ratio instrumented / plain model.fit: {ratio:.3f} (target <= 1.05)")
    return ratio


if __name__ == "__main__":
    main()
