"""Lesson 6's exercise check: the range of learning rates a sweep's runs show training
(kept apart from :mod:`.checks`, which holds the single-run checks of lessons 1-5)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .result import CheckResult, Criterion

__all__ = ["check_stability", "STABILITY_MIN_RATES", "STABILITY_MIN_DECADES"]


#: Lesson 6's exercise asks for a map over at least this many learning rates ...
STABILITY_MIN_RATES = 5
#: ... spanning at least this many decades.
STABILITY_MIN_DECADES = 3.0


def check_stability(sweep: Any, answer: Any, optimizer: str = "sgd", momentum: float = 0.9) -> CheckResult:
    """Lesson 6: over which learning rates does SGD with momentum train?

    Passes when ``sweep`` is a Sweep that has ended with no failed run, every run of it
    uses ``optimizer`` with ``momentum``, the learning rate varies over at least
    :data:`STABILITY_MIN_RATES` values spanning :data:`STABILITY_MIN_DECADES` decades, and
    ``answer`` is ``(lowest, highest)``: the lowest and the highest learning rate tried
    at which a run trained (best validation loss at most
    :data:`lstm_widgets.sweep.summary.TRAINS_SHARE` of always predicting the mean, not
    diverged), as :func:`lstm_widgets.sweep.summary.stability` computes them from the
    sweep's own runs; ``None`` when none trained.

    Args:
        sweep: The learner's Sweep (after ``run(wait=True)``).
        answer: ``(lowest, highest)`` learning rate, or None.
        optimizer, momentum: What the exercise asks for. Default: SGD with momentum 0.9.

    Returns:
        A CheckResult.
    """
    from ..sweep import Sweep
    from ..sweep.summary import TRAINS_SHARE, stability

    name = "check_stability"
    is_sweep = isinstance(sweep, Sweep)
    criteria = [Criterion("sweep is a Sweep", is_sweep, "" if is_sweep else f"got {type(sweep).__name__}",
                          "Make one: sweep_m = Sweep(data, grid={'learning_rate': [...]}, base=...).")]
    if not is_sweep:
        return CheckResult(name, criteria)
    counts = sweep.counts
    ended = sweep.ended and counts["queued"] == counts["running"] == 0
    criteria.append(Criterion(
        "It has run, and no run failed", ended and counts["failed"] == 0,
        sweep.progress_text(), "Run it to the end: sweep_m.run(wait=True)."))
    wrong = [r.index for r in sweep.runs if r.config.optimizer != optimizer or r.config.momentum != momentum]
    criteria.append(Criterion(
        f"Every run uses {optimizer} with momentum {momentum:g}", not wrong,
        "" if not wrong else f"runs {wrong[:5]} use "
        + ", ".join(sorted({f"{sweep.runs[i].config.optimizer} momentum {sweep.runs[i].config.momentum:g}"
                            for i in wrong})),
        f"Set them in the base: base.replace(optimizer={optimizer!r}, momentum={momentum:g})."))
    rates = sorted({r.config.learning_rate for r in sweep.runs})
    span = math.log10(rates[-1] / rates[0]) if len(rates) > 1 else 0.0
    criteria.append(Criterion(
        f"The learning rate varies over at least {STABILITY_MIN_RATES} values spanning "
        f"{STABILITY_MIN_DECADES:g} decades", len(rates) >= STABILITY_MIN_RATES and span >= STABILITY_MIN_DECADES - 1e-9,
        f"{len(rates)} value(s), {span:.1f} decades",
        "Sweep e.g. grid={'learning_rate': [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]}."))
    if not all(c.passed for c in criteria):
        return CheckResult(name, criteria)
    rng = stability(sweep.results).get(optimizer)
    truth = None if rng is None or not rng.trained else (rng.lowest, rng.highest)
    if truth is None:
        ok = answer is None
        criteria.append(Criterion(
            "The answer matches the runs: none trained in this grid", ok, f"your answer {answer!r}",
            f"No run reached {TRAINS_SHARE:g} of the mean baseline: answer = None (or widen the grid)."))
        return CheckResult(name, criteria)
    pair = (isinstance(answer, (tuple, list)) and len(answer) == 2
            and all(isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) for v in answer))
    criteria.append(Criterion(
        "The answer is (lowest, highest) learning rate", pair, f"got {answer!r}",
        "answer = (lowest, highest), two learning rates from the grid."))
    if pair:
        lo, hi = (float(v) for v in answer)
        close = lambda a, b: math.isclose(a, b, rel_tol=1e-6)  # noqa: E731
        detail = []
        if not close(lo, truth[0]):
            detail.append(f"lowest {lo:g} is not the lowest rate that trained")
        if not close(hi, truth[1]):
            detail.append(f"highest {hi:g} is not the highest rate that trained")
        criteria.append(Criterion(
            f"It matches the runs (trains: best validation loss at most {TRAINS_SHARE:g} of always "
            f"predicting the mean, not diverged)", not detail, "; ".join(detail) or f"{lo:g} to {hi:g}",
            f"Read sweep_m.results: the rows with vs_mean <= {TRAINS_SHARE:g} that did not diverge; their "
            f"lowest and highest learning_rate."))
    return CheckResult(name, criteria)
