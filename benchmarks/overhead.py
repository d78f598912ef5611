"""What do the instruments cost? Plain `model.fit`, the bare on-device loop and the
instrumented Trainer, side by side, at three model sizes.

- plain model.fit: Keras's own loop (tf.data batches, Keras's validation).
- bare loop: the Trainer's own loop (batches gathered from the data on the device) with
  no statistics at all: the same step without gradient norms, clipping flags, applied
  update or gate splits, no weight tracker and no gradient-through-time probe
  (``Trainer(..., instruments=False)``).
- instrumented Trainer: everything the kit records, per step and per epoch.
- Trainer + live Lab (the smallest size only): the same, with every panel and the
  diagnosis redrawn each epoch.

Same model, data (scaled the same way), batch size, validation data and epochs for all.
The sides take turns epoch by epoch, in a rotating order, each continuing its own run, so
machine noise hits them alike. An epoch's wall time is Keras's epoch (validation included)
for fit, and the recorded epoch time (steps, validation, statistics, probe) for the
Trainers; process CPU time is measured around each call. The first epoch of each side
(tracing) is left out.

The machine is shared and noisy: an epoch of one side can be 15% slower than the next
epoch of the same side. Each round runs every side once, back to back, so the ratio of two
sides *within* a round cancels the drift between rounds; the estimate printed is the
median of those per-round ratios, with a 95% bootstrap interval for it (resampling the
rounds) and the interquartile range of the ratios themselves. The ratio of the medians is
printed beside it. Process CPU time is reported the same way: work that runs beside the
steps on the second core (the probe beside the validation pass) costs CPU but not wall
time.

    python benchmarks/overhead.py [--rounds 60] [--sizes 0,1,2] [--no-lab]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _stats import paired  # noqa: E402  (benchmarks/_stats.py)
from lstm_widgets import TrainConfig, load_dataset  # noqa: E402
from lstm_widgets.engine._tf import keras  # noqa: E402
from lstm_widgets.engine.model import build_model, make_optimizer  # noqa: E402
from lstm_widgets.engine.trainer import Trainer  # noqa: E402
from lstm_widgets.scaling import SequenceScaler  # noqa: E402

#: (label, TrainConfig settings, dataset options)
#: Every size trains on 1024 sequences (768 train: 24 steps of 32 per epoch), so the
#: per-epoch costs (the probe batch, the weight tracker) weigh the same at every size.
SIZES = (
    ("LSTM(16), T=40", {"units": 16, "layers": 1}, {"n_samples": 1024, "seq_len": 40}),
    ("LSTM(64), T=100", {"units": 64, "layers": 1}, {"n_samples": 1024, "seq_len": 100}),
    ("2 x LSTM(128), T=100", {"units": 128, "layers": 2}, {"n_samples": 1024, "seq_len": 100}),
)


class _EpochClock(keras.callbacks.Callback):
    """Wall time of each epoch of a Keras fit, Keras's validation included."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):  # after Keras's validation
        self.times.append(time.perf_counter() - self._t0)


class PlainFit:
    """Plain ``model.fit``, one epoch per call (the same model keeps training)."""

    def __init__(self, config: TrainConfig, data):
        self.scaled = SequenceScaler(config.scaler).fit_transform(data)
        self.model = build_model(config, data.n_timesteps, data.n_features, data.n_outputs)
        self.model.compile(optimizer=make_optimizer(config), loss="mse")
        self.clock = _EpochClock()
        self.batch = config.batch_size

    def epoch(self) -> tuple[float, float]:
        s = self.scaled
        c0 = time.process_time()
        self.model.fit(s.X_train, s.y_train, batch_size=self.batch, epochs=1, verbose=0,
                       validation_data=(s.X_val, s.y_val), callbacks=[self.clock])
        return self.clock.times[-1], time.process_time() - c0


class TrainerEpochs:
    """A Trainer (bare or instrumented, or inside a Lab), one epoch per call."""

    def __init__(self, config: TrainConfig, data, instruments: bool = True, lab: bool = False):
        if lab:
            from lstm_widgets.ui import Lab  # panels, diagnosis and code view, updated every epoch

            self.lab = Lab(data=data, **config.replace(epochs=1).to_dict())
            self.trainer = self.lab.trainer
        else:
            self.lab = None
            self.trainer = Trainer(config.replace(epochs=1), data, instruments=instruments)

    def epoch(self) -> tuple[float, float]:
        c0 = time.process_time()
        if self.lab is not None:
            self.lab.train(wait=True)
        else:
            self.trainer.start()
            self.trainer.wait()
        # the epoch's own time (steps, validation, statistics, probe; a Lab's redraw is in
        # its epoch subscriber, so it is in the CPU time only)
        return self.trainer.history.latest.time_s, time.process_time() - c0


def measure(label: str, config: TrainConfig, data, rounds: int, lab: bool) -> dict[str, dict]:
    sides = {
        "plain model.fit": PlainFit(config, data),
        "bare loop": TrainerEpochs(config, data, instruments=False),
        "instrumented Trainer": TrainerEpochs(config, data, instruments=True),
    }
    if lab:
        sides["Trainer + live Lab"] = TrainerEpochs(config, data, lab=True)
    names = list(sides)
    for n in names:  # the first epoch of each (tracing, first-use costs) is not measured
        sides[n].epoch()
    times = {n: [] for n in names}  # per round: (wall, cpu)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
        for n in order:
            times[n].append(sides[n].epoch())

    def med(n, k):
        return statistics.median(x[k] for x in times[n])

    out = {}
    for n in names:
        o = out[n] = {"wall": med(n, 0), "cpu": med(n, 1)}
        for base, tag in (("plain model.fit", "fit"), ("bare loop", "bare")):
            o[f"vs_{tag}"], o[f"ci_{tag}"], o[f"iqr_{tag}"] = paired(times[n], times[base], 0)
            o[f"medians_{tag}"] = med(n, 0) / med(base, 0)
        o["cpu_vs_bare"], o["cpu_ci_bare"], _ = paired(times[n], times["bare loop"], 1)
        print(f"  {n:>22}: {o['wall'] * 1000:7.1f} ms/epoch wall, {o['cpu'] * 1000:7.1f} ms CPU | "
              f"/ fit {o['vs_fit']:.3f} (95% {o['ci_fit'][0]:.3f}-{o['ci_fit'][1]:.3f}) | "
              f"/ bare {o['vs_bare']:.3f} (95% {o['ci_bare'][0]:.3f}-{o['ci_bare'][1]:.3f}; "
              f"IQR {o['iqr_bare'][0]:.2f}-{o['iqr_bare'][1]:.2f}; ratio of medians {o['medians_bare']:.3f}) | "
              f"CPU / bare {o['cpu_vs_bare']:.3f} (95% {o['cpu_ci_bare'][0]:.3f}-{o['cpu_ci_bare'][1]:.3f})")
    if lab:
        sides["Trainer + live Lab"].lab.close()
    return out


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=60, help="rounds of one epoch per side, in turn")
    p.add_argument("--sizes", default="0,1,2", help="which sizes to run, e.g. 0,2")
    p.add_argument("--no-lab", action="store_true", help="leave out the row with a Lab attached")
    args = p.parse_args(argv)

    worst_fit, worst_bare = 0.0, 0.0
    for i in [int(s) for s in args.sizes.split(",")]:
        label, model, options = SIZES[i]
        data = load_dataset("adding", **options)
        config = TrainConfig(batch_size=32, clipping="clipnorm", clip_threshold=1.0, **model)
        print(f"{label}: adding problem, {len(data.X_train)} train / {len(data.X_val)} val sequences, batch 32, "
              f"clipnorm 1, {args.rounds} rounds of one epoch per side, in turn (the first left out); "
              f"median wall and process CPU time per epoch; ratios: the median of the per-round ratios "
              f"(95% bootstrap interval; interquartile range)")
        res = measure(label, config, data, args.rounds, lab=(i == 0 and not args.no_lab))
        for name in res:
            if name not in ("plain model.fit", "bare loop"):
                worst_fit = max(worst_fit, res[name]["vs_fit"])
        worst_bare = max(worst_bare, res["instrumented Trainer"]["vs_bare"])
        print()
    print(f"worst instrumented / bare loop: {worst_bare:.3f} (target <= 1.05)")
    print(f"worst median ratio instrumented / plain model.fit: {worst_fit:.3f} (target <= 1.05)")
    return worst_fit


if __name__ == "__main__":
    main()
