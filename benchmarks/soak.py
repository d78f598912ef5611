"""Does a long class creep? Resident memory over many Labs and many restarts in one process.

A class builds a new Lab per exercise and rarely closes one (ipywidgets keep every widget
until it is closed, so an old Lab and its Trainer stay alive), and restarts a Lab again
and again with other settings. TensorFlow keeps every traced tf.function for good
(tensorflow/tensorflow#62854), so a Trainer that traced its own steps grew the kernel by
about 8.9 MB per Lab without end; engine/bench.py reuses the compiled benches instead.

Part 1 builds ``--labs`` Labs one after another, as a notebook would (``lab = Lab(...)``,
the previous one left open), each trained for two epochs, cycling the optimizer, the
learning rate, the seed and two model sizes. Part 2 restarts one Lab ``--restarts`` times,
each with another optimizer, learning rate, clipping and seed. Part 3 builds ``--labs``
Labs again and closes each after its run (what ``lab.close()`` gives back). Resident memory (VmRSS) is
printed every 20; the growth per run is measured after a warm-up of 20 (target: at most
1 MB per run), and the last line gives the largest of the three.

    python benchmarks/soak.py [--labs 200] [--restarts 200]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_widgets import Lab  # noqa: E402
from lstm_widgets.engine import bench  # noqa: E402

WARMUP = 20
OPTIMIZERS = [("adam", 3e-3), ("sgd", 0.1), ("rmsprop", 1e-3), ("nadam", 3e-3)]
CLIPPING = ["global_clipnorm", "clipnorm", "clipvalue", "none"]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark reads Linux's)")


def growth(points: list[tuple[int, float]]) -> float:
    """MB per run from the first point at or after the warm-up to the last."""
    after = [(n, r) for n, r in points if n >= WARMUP]
    (n0, r0), (n1, r1) = after[0], after[-1]
    return (r1 - r0) / max(n1 - n0, 1)


def _measure(points: list, i: int, what: str, t0: float) -> None:
    """Every 20 runs (and after the first): collect, read VmRSS, print a line."""
    if (i + 1) % 20 == 0 or i == 0:
        gc.collect()
        points.append((i + 1, rss_mb()))
        print(f"  {i + 1:4d} {what}  {points[-1][1]:7.1f} MB  benches in use {bench.lent_count()}, "
              f"free {bench.pool_size()}  ({time.perf_counter() - t0:.0f} s)", flush=True)


def many_labs(n: int, close: bool = False) -> list[tuple[int, float]]:
    """``n`` Labs one after another, cycling optimizer, learning rate, seed and size; each
    left open as a notebook leaves it, or closed after its run (``close``)."""
    print(f"part {3 if close else 1}: {n} Labs in one process, each trained 2 epochs and "
          f"{'closed (lab.close())' if close else 'left open'}")
    points, t0 = [], time.perf_counter()
    for i in range(n):
        opt, lr = OPTIMIZERS[i % len(OPTIMIZERS)]
        lab = Lab("sine", epochs=2, optimizer=opt, learning_rate=lr, seed=i % 5, units=16 if i % 2 else 32)
        lab.train(wait=True)
        if close:
            lab.close()
        _measure(points, i, "Labs", t0)
    return points


def many_restarts(n: int) -> list[tuple[int, float]]:
    print(f"part 2: one Lab restarted {n} times (optimizer, learning rate, clipping and seed changed)")
    lab = Lab("sine", epochs=2)
    lab.train(wait=True)
    points, t0 = [], time.perf_counter()
    for i in range(n):
        opt, lr = OPTIMIZERS[i % len(OPTIMIZERS)]
        lab.set(optimizer=opt, learning_rate=lr, clipping=CLIPPING[i % len(CLIPPING)], seed=i % 7)
        lab.restart(start=False)
        lab.train(wait=True)
        _measure(points, i, "restarts", t0)
    lab.close()
    return points


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labs", type=int, default=200)
    ap.add_argument("--restarts", type=int, default=200)
    a = ap.parse_args(argv)
    if min(a.labs, a.restarts) < WARMUP + 20:
        ap.error(f"--labs and --restarts need at least {WARMUP + 20} (a warm-up of {WARMUP}, then 20 to measure)")
    labs = many_labs(a.labs)
    g1 = growth(labs)
    print(f"  growth after {WARMUP} Labs: {g1:+.3f} MB per Lab")
    restarts = many_restarts(a.restarts)
    g2 = growth(restarts)
    print(f"  growth after {WARMUP} restarts: {g2:+.3f} MB per restart")
    closed = many_labs(a.labs, close=True)
    g3 = growth(closed)
    print(f"  growth after {WARMUP} closed Labs: {g3:+.3f} MB per Lab")
    print(f"worst growth per run after warm-up: {max(g1, g2, g3):+.3f} MB (target <= 1 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
