"""One downsampler for the live panels and the report: long histories keep their spikes.

Sending every epoch of a 1,000-epoch run to the browser on every epoch would make the
bytes per epoch grow without end; picking evenly spaced epochs (what the kit did
before) can drop a one-epoch spike, the very thing a person looks for. So epochs are
chosen with tsdownsample's MinMaxLTTB (the extrema of each bin, then
Largest-Triangle-Three-Buckets): per series, merged over the series drawn together,
first and last epoch always kept.
"""

from __future__ import annotations

import numpy as np

__all__ = ["keep_indices", "MAX_POINTS"]

#: Most points per series a panel or report figure draws (about 3 px apart on a 400 px
#: figure). Small enough that a 1000-epoch run sends barely more per epoch than a
#: 100-epoch one.
MAX_POINTS = 120
#: The fewest points each series of a figure gets when several share the budget.
_MIN_PER_SERIES = 24


def keep_indices(series, n_out: int = MAX_POINTS) -> np.ndarray:
    """Sorted indices into the shared x axis (epochs) of ``series`` that keep every
    series' extremes.

    Args:
        series: One 1-D array, or a 2-D array / list of equally long arrays (one row per
            series drawn on the same x). Non-finite values count as gaps.
        n_out: Points to aim for in all. Defaults to MAX_POINTS. With several series each
            gets an equal share (at least 24), so the result has at most about
            ``max(n_out, 24 * len(series))`` points.

    Returns:
        ``np.arange(n)`` when ``n <= n_out``; otherwise the union of each series'
        MinMaxLTTB picks, with the first and last index.
    """
    rows = np.ascontiguousarray(np.atleast_2d(np.asarray(series, dtype=np.float64)))
    n = rows.shape[1]
    if n <= n_out:
        return np.arange(n)
    from tsdownsample import MinMaxLTTBDownsampler

    per = max(n_out // max(len(rows), 1), _MIN_PER_SERIES)
    per += per % 2  # MinMax preselection takes pairs
    ds = MinMaxLTTBDownsampler()
    keep = [np.array([0, n - 1], dtype=np.int64)]
    for y in rows:
        ok = np.isfinite(y)
        if ok.all():  # the usual case: the x axis is the index, which tsdownsample implies
            keep.append(np.asarray(ds.downsample(y, n_out=per), dtype=np.int64))
            continue
        idx = np.flatnonzero(ok)
        if idx.size <= per:
            keep.append(idx)
        else:
            keep.append(idx[np.asarray(ds.downsample(idx.astype(np.float64), y[idx], n_out=per), dtype=np.int64)])
        gaps = np.flatnonzero(~ok)  # a diverged epoch is a gap worth seeing: keep its edges
        keep.append(gaps[[0, -1]])
    return np.unique(np.concatenate(keep))
