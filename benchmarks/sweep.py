"""Does a sweep pay on this machine? Eight runs trained serially in this process, and the
same eight as a Sweep on the default LocalCluster, side by side.

Rounds alternate the order (serial first, then the sweep first) so machine noise hits
both alike; the cluster is started once before the first round and reused, as a notebook
reuses it, and its start-up is printed on its own line. Process CPU time is reported
beside wall time. The peak resident memory is this process's plus every worker's (each
read with getrusage in its own process).

    python benchmarks/sweep.py [--rounds 4] [--epochs 12]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()

    from lstm_widgets import TrainConfig, load_dataset
    from lstm_widgets.engine.trainer import Trainer
    from lstm_widgets.sweep import Sweep
    from lstm_widgets.sweep.cluster import close_local_cluster, local_client, warm_up

    data = load_dataset("sine", n_samples=1024, seq_len=40)
    grid = {"optimizer": ["adam", "rmsprop", "nadam", "sgd"], "learning_rate": [1e-3, 1e-2]}
    base = TrainConfig(epochs=args.epochs, units=32, batch_size=32)

    t0 = time.perf_counter()
    client, plan = local_client()
    client.wait_for_workers(plan.n_workers)
    warm_up(client)  # TensorFlow loaded in each worker, as after a notebook's first sweep
    print(f"cluster: {plan.reason} Started, TensorFlow loaded in each worker, in {time.perf_counter() - t0:.1f} s "
          f"(once, then reused).")

    def serial() -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        for cfg in Sweep(data, grid=grid, base=base).configs:
            t = Trainer(cfg, data)
            t.start()
            t.wait()
            t.close()
        return time.perf_counter() - w, time.process_time() - c

    def workers_cpu() -> float:
        return sum(client.run(time.process_time).values())

    def swept() -> tuple[float, float]:
        w, c, cw = time.perf_counter(), time.process_time(), workers_cpu()
        s = Sweep(data, grid=grid, base=base).run(wait=True)
        assert all(r.status in ("finished", "diverged") for r in s.runs), [r.error for r in s.runs]
        return time.perf_counter() - w, time.process_time() - c + workers_cpu() - cw

    sides = {"serial": serial, "sweep": swept}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
    for r in range(args.rounds):
        order = ("serial", "sweep") if r % 2 == 0 else ("sweep", "serial")
        for k in order:
            times[k].append(sides[k]())
            w, c = times[k][-1]
            where = "in this process" if k == "serial" else "in this process and the workers"
            print(f"round {r + 1} {k:>6}: {w:6.1f} s wall, {c:6.1f} s CPU {where}", flush=True)
    worker_peaks = client.run(_peak_rss)
    kernel_peak = _peak_rss()
    ratios = [s[0] / p[0] for s, p in zip(times["serial"], times["sweep"])]
    close_local_cluster()
    total = kernel_peak + sum(worker_peaks.values())
    print(f"8 runs serially: median {statistics.median(w for w, _ in times['serial']):.1f} s; as a sweep on "
          f"{plan.n_workers} workers: median {statistics.median(w for w, _ in times['sweep']):.1f} s; "
          f"speedup per round: {', '.join(f'{x:.2f}' for x in ratios)}")
    print(f"peak resident memory: this process {kernel_peak / 2**20:.0f} MB + workers "
          f"{' + '.join(f'{v / 2**20:.0f}' for v in worker_peaks.values())} MB = {total / 2**20:.0f} MB")
    print(f"sweep speedup over serial: {statistics.median(ratios):.2f}x (target >= 1.7), "
          f"peak memory kernel + workers {total / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
