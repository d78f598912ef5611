"""The statistic the side-by-side benchmarks report (overhead.py, watch_overhead.py).

Each round runs every side once, back to back, so the ratio of two sides within a round
cancels the machine's drift between rounds: the estimate is the median of those
per-round ratios, with a bootstrap interval for it (the standard library's
``statistics`` has the median and quantiles, but no bootstrap; this is six lines).
"""

from __future__ import annotations

import random
import statistics

__all__ = ["paired"]


def paired(a: list, b: list, k: int, resamples: int = 2000) -> tuple[float, tuple, tuple]:
    """The median of the per-round ratios a/b (field k: 0 wall, 1 CPU), a 95% bootstrap
    interval for that median (rounds resampled with replacement, a fixed seed), and the
    interquartile range of the ratios."""
    ratios = [x[k] / y[k] for x, y in zip(a, b)]
    rng = random.Random(0)
    boot = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    q = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), (boot[int(0.025 * resamples)], boot[int(0.975 * resamples) - 1]), (q[0], q[2])
