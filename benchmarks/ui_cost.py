"""What updating the Lab's panels costs per epoch: kernel time and bytes sent.

No browser: every widget gets a recording comm (lstm_widgets.ui._comm.record_comms)
that serialises each message as the kernel would and keeps its size. A short real run
is recorded, then replicated into Histories of 10, 100 and 1000 epochs (the panels'
maths runs on real numbers); for each, the panels are drawn once, then the time and
bytes of the next epochs' updates are measured.

Targets (DESIGN.md): at most 5 ms per epoch, and bytes per epoch bounded however many
epochs ran. Run: ``.venv/bin/python benchmarks/ui_cost.py``. The last line is the worst
case, e.g. ``worst: 3.1 ms/epoch, 41.2 kB/epoch (targets 5 ms, bounded)``.

``attached_overhead()`` trains the same model with and without a Lab attached (panels
updating every epoch) and returns the ratio, for the overhead benchmark.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/support

from lstm_widgets import History, load_dataset  # noqa: E402
from support.comm import record_comms  # noqa: E402

TARGET_MS = 5.0
SIZES = (10, 100, 1000)
BYTES_GROWTH_LIMIT = 1.5  # bytes/epoch at 1000 epochs vs 100 epochs


def record_short_run(epochs: int = 4, seed: int = 0) -> History:
    """A real History: a few epochs on the Lab's default data, with a learning-rate and a
    clipping change in between (so markers and the threshold line are drawn)."""
    from lstm_widgets import Trainer, TrainConfig

    data = load_dataset("adding", n_samples=256, seq_len=40, seed=seed)
    trainer = Trainer(TrainConfig(epochs=epochs // 2, units=16, batch_size=32, seed=seed), data)
    trainer.start()
    trainer.wait()
    trainer.set(learning_rate=3e-3, clipping="clipnorm", clip_threshold=1.0)
    trainer.set(epochs=epochs - epochs // 2)
    trainer.start()
    trainer.wait()
    return trainer.history


def replicate(source: History, n_epochs: int, marker_every: int = 25) -> History:
    """A History of ``n_epochs`` epochs of one run, cycling through ``source``'s records
    (renumbered), with ``source``'s change markers repeated every ``marker_every`` epochs."""
    recs = source.run()
    h = History()
    h.structure = copy.deepcopy(source.structure)
    h.begin_run(1, source.runs[source.current_run].settings)
    marks = source.run_markers()
    for i in range(n_epochs):
        h.append(replace(recs[i % len(recs)], run_id=1, epoch=i + 1))
        if marks and (i + 1) % marker_every == 0:
            for m in marks:
                h.add_marker(replace(m, run_id=1, position=float(i + 1) - 0.5))
    return h


def make_panels():
    from lstm_widgets.ui.panels import GatePanel, GradientPanel, LossPanel, TimeGradientPanel, UpdateRatioPanel

    return [LossPanel(), GradientPanel(), UpdateRatioPanel(), GatePanel(), TimeGradientPanel()]


def measure(source: History, n_epochs: int, repeats: int = 20) -> dict:
    """Median kernel time (ms) and mean bytes of one epoch's panel update at ``n_epochs``."""
    full = replicate(source, n_epochs)
    recs = full.records
    with record_comms() as rec:
        panels = make_panels()
        h = History()
        h.structure = full.structure
        h.runs = dict(full.runs)
        start = max(n_epochs - repeats, 1)
        h.records = list(recs[:start])
        h.markers = [m for m in full.markers if m.position <= start]
        for p in panels:  # first draw, not measured
            p.update(h)
        times, sizes, msgs = [], [], []
        for i in range(start, n_epochs):
            h.append(recs[i])
            for m in full.markers:
                if i < m.position <= i + 1:
                    h.add_marker(m)
            mark = rec.mark()
            t0 = time.perf_counter()
            for p in panels:
                p.update(h)
            times.append(time.perf_counter() - t0)
            n_msg, n_bytes = rec.since(mark)
            sizes.append(n_bytes)
            msgs.append(n_msg)
    return {
        "epochs": n_epochs,
        "ms": 1000 * statistics.median(times),
        "ms_max": 1000 * max(times),
        "kB": statistics.mean(sizes) / 1000,
        "messages": statistics.mean(msgs),
    }


def attached_overhead(epochs: int = 20, dataset: str = "adding", dataset_options: dict | None = None,
                      repeats: int = 2, **config) -> dict:
    """Train the same model twice, side by side: with a bare Trainer, and with a Lab attached
    (every panel and the diagnosis updated each epoch, messages serialised by a recording
    comm as a kernel would). Both are warmed up first (model built, step traced) so only
    the ``epochs`` epochs are timed.

    Args:
        epochs: Epochs timed per side. Defaults to 20.
        dataset: Built-in dataset. Defaults to "adding".
        dataset_options: Passed to the Lab (and the same data to the Trainer). Defaults to
            the Lab's defaults (1024 samples, 40 steps).
        repeats: Timed rounds, alternating which side goes first; the fastest round of
            each side counts (the machine is shared). Defaults to 2.
        **config: TrainConfig settings for both sides.

    Returns:
        ``{"trainer_s", "lab_s", "ratio", "update_ms_mean", "update_ms_max", "epochs"}``;
        ``ratio`` is lab_s / trainer_s.
    """
    from lstm_widgets import Trainer, TrainConfig
    from lstm_widgets.ui import Lab

    with record_comms():
        lab = Lab(dataset, dataset_options=dataset_options, epochs=1, **config)
    trainer = Trainer(TrainConfig().replace(epochs=1, **config), lab.data)
    for run in (trainer.start, lab.train):  # warm-up: build, trace, first epoch
        run()
        (trainer.wait if run == trainer.start else lab.wait)()
    trainer.set(epochs=epochs)
    lab.set(epochs=epochs)
    lab.update_times.clear()

    def bare() -> float:
        t0 = time.perf_counter()
        trainer.start()
        trainer.wait()
        return time.perf_counter() - t0

    def attached() -> float:
        t0 = time.perf_counter()
        lab.train(wait=True)
        return time.perf_counter() - t0

    trainer_times, lab_times = [], []
    for i in range(max(repeats, 1)):
        if i % 2 == 0:
            trainer_times.append(bare())
            lab_times.append(attached())
        else:
            lab_times.append(attached())
            trainer_times.append(bare())
    trainer_s, lab_s = min(trainer_times), min(lab_times)
    upd = list(lab.update_times)
    lab.close()
    trainer.close()
    return {
        "trainer_s": trainer_s,
        "lab_s": lab_s,
        "ratio": lab_s / trainer_s,
        "update_ms_mean": 1000 * statistics.mean(upd) if upd else float("nan"),
        "update_ms_max": 1000 * max(upd) if upd else float("nan"),
        "epochs": epochs,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--overhead", action="store_true", help="also run attached_overhead() (about a minute)")
    args = ap.parse_args(argv)
    source = record_short_run()
    rows = [measure(source, n) for n in SIZES]
    print(f"{'epochs':>7} {'ms/epoch':>9} {'max ms':>7} {'kB/epoch':>9} {'msgs':>5}")
    for r in rows:
        print(f"{r['epochs']:>7} {r['ms']:>9.2f} {r['ms_max']:>7.2f} {r['kB']:>9.1f} {r['messages']:>5.0f}")
    by_n = {r["epochs"]: r for r in rows}
    growth = by_n[1000]["kB"] / by_n[100]["kB"]
    bounded = growth <= BYTES_GROWTH_LIMIT
    print(f"bytes/epoch at 1000 vs 100 epochs: {growth:.2f}x ({'bounded' if bounded else 'GROWING'})")
    if args.overhead:
        o = attached_overhead()
        print(
            f"attached Lab: {o['lab_s']:.2f} s vs bare Trainer {o['trainer_s']:.2f} s for {o['epochs']} "
            f"epochs: {o['ratio']:.3f}x (panel update {o['update_ms_mean']:.2f} ms mean)"
        )
    worst_ms = max(r["ms"] for r in rows)
    worst_kb = max(r["kB"] for r in rows)
    ok = worst_ms <= TARGET_MS and bounded
    print(
        f"worst: {worst_ms:.1f} ms/epoch, {worst_kb:.1f} kB/epoch (targets {TARGET_MS:g} ms, bounded)"
        + ("" if ok else " MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
