"""What a sweep's display and its report both read from ``sweep.results``: the heat-map
cells over two settings, and the order values of a setting are shown in."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["heat_map_cells", "value_order"]


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
