"""What a sweep's display and its report both read from ``sweep.results``: the heat-map
cells over two settings, and the order values of a setting are shown in."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..diagnosis.thresholds import TRAINS_SHARE  # defined (with its reason) beside the other thresholds

__all__ = ["heat_map_cells", "value_order", "stability", "StabilityRange", "TRAINS_SHARE"]


def value_order(v):
    """Sort key that puts numbers in numeric order before strings (a setting's values)."""
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def heat_map_cells(df, x: str, y: str, metric: str):
    """The heat map's cells: ``(x values, y values, {(xv, yv): (value, note)})``.

    The value is the lowest finite ``metric`` over the runs in the cell (several seeds or
    other settings); the note is "diverged" or "failed" when no run there gave a finite
    value for that reason, "" otherwise (NaN while its runs are queued or running).
    """
    xs = sorted(df[x].unique().tolist(), key=value_order)
    ys = sorted(df[y].unique().tolist(), key=value_order)
    cells = {}
    for (xv, yv), g in df.groupby([x, y]):
        usable = ~g["status"].isin(["diverged", "failed"])
        ok = g.loc[usable, metric].to_numpy(dtype=float)
        ok = ok[np.isfinite(ok)]
        if ok.size:
            cells[(xv, yv)] = (float(ok.min()), "")
        elif (g["status"] == "diverged").any():
            cells[(xv, yv)] = (math.nan, "diverged")
        elif (g["status"] == "failed").any():
            cells[(xv, yv)] = (math.nan, "failed")
        else:
            cells[(xv, yv)] = (math.nan, "")
    return xs, ys, cells



@dataclass(frozen=True)
class StabilityRange:
    """The learning rates at which one group of runs (an optimizer) trained.

    Attributes:
        tried: Every learning rate tried, ascending.
        trained: Those at which the best run trained (see TRAINS_SHARE), ascending.
        lowest, highest: The ends of ``trained`` (None when nothing trained).
        decades: log10(highest / lowest): how wide the range is (0 for one rate).
        contiguous: No rate inside the range failed to train.
        shares: ``{learning rate: the lowest vs_mean there}`` (NaN: diverged or failed).
    """

    tried: tuple
    trained: tuple
    lowest: float | None
    highest: float | None
    decades: float
    contiguous: bool
    shares: dict


def stability(df, by: str = "optimizer", share: float = TRAINS_SHARE) -> dict:
    """``{value of by: StabilityRange}`` from a sweep's ``results`` over learning_rate:
    for each optimizer (or other setting), the learning rates that train."""
    if "learning_rate" not in df.columns or "vs_mean" not in df.columns:
        raise ValueError("stability() needs sweep.results with learning_rate and vs_mean columns.")
    out = {}
    for value, g in sorted(df.groupby(by), key=lambda kv: value_order(kv[0])):
        shares = {}
        for lr, runs in g.groupby("learning_rate"):
            ok = runs[~runs["status"].isin(["diverged", "failed"])]["vs_mean"].to_numpy(dtype=float)
            ok = ok[np.isfinite(ok)]
            shares[float(lr)] = float(ok.min()) if ok.size else math.nan
        tried = tuple(sorted(shares))
        trained = tuple(lr for lr in tried if math.isfinite(shares[lr]) and shares[lr] <= share)
        lo, hi = (trained[0], trained[-1]) if trained else (None, None)
        inside = [lr for lr in tried if lo is not None and lo <= lr <= hi]
        out[value] = StabilityRange(tried, trained, lo, hi, math.log10(hi / lo) if trained else 0.0,
                                    len(inside) == len(trained), shares)
    return out
