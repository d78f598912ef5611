"""compare_runs: several runs' numbers on the same axes, one line per run, with a legend.

Example:
    >>> from lstm_widgets.ui.compare import compare_runs
    >>> compare_runs({"SGD": sgd_history, "Adam": adam_history}, field="loss")
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from bqplot import Axis, Figure, LinearScale, Lines, LogScale
from bqplot.colorschemes import CATEGORY10

from ..history import UNIT_FIELDS
from .panels import drawable
from .panels.plot import emptiest_corner

__all__ = ["compare_runs", "run_series", "COLOURS", "OFF_SCALE"]

#: On a log scale over epochs, the y axis stops this many times above the median first
#: value of the runs drawn: a run that climbs beyond it is exploding, and drawing it whole
#: would squash every other run into a line.
OFF_SCALE = 1e3
#: One colour per run, in order (bqplot's category10 palette).
COLOURS = tuple(CATEGORY10)
_EPOCH_FIELDS = ("loss", "val_loss", "time_s")
_LABELS = {
    "loss": "training loss",
    "val_loss": "validation loss",
    "time_s": "seconds per epoch",
    "grad_pre_mean": "mean gradient norm before clipping",
    "grad_pre_max": "largest gradient norm before clipping",
    "grad_post_mean": "mean gradient norm after clipping",
    "grad_post_max": "largest gradient norm after clipping",
    "clip_fraction": "share of steps clipped",
    "weight_norm": "||W||",
    "delta_norm": "||ΔW|| per epoch",
    "update_ratio": "update ratio ||ΔW||/||W|| per epoch",
    "step_ratio_mean": "update per step ||ΔW||/||W|| (mean over the epoch)",
    "step_ratio_max": "largest update of a step ||ΔW||/||W||",
    "grad_through_time": "||∂L/∂x_t|| (last epoch)",
    "initial_grad_through_time": "||∂L/∂x_t|| (before the first step)",
}
#: Fields drawn against the time step counted back from the last, not the epoch.
_TIME_FIELDS = ("grad_through_time", "initial_grad_through_time")


def _records(run: Any, label: str) -> list:
    """The EpochRecords of one entry: a History (its latest run), a Lab or Trainer (its
    History's latest run), ``(history, run_id)``, or a list of EpochRecords."""
    if isinstance(run, tuple) and len(run) == 2:
        history, run_id = run
        history = getattr(history, "history", history)
        if not hasattr(history, "run"):
            raise ValueError(f"runs[{label!r}] = (history, run_id) needs a History; got {type(history).__name__}.")
        if run_id not in getattr(history, "runs", {}):
            raise ValueError(f"runs[{label!r}]: run {run_id!r} is not in that History; its runs are {history.run_ids}.")
        return history.run(run_id)
    if isinstance(run, (list, tuple)):
        if not all(hasattr(r, "epoch") and hasattr(r, "units") for r in run):
            raise ValueError(f"runs[{label!r}] is a list but not of EpochRecords.")
        return list(run)
    history = getattr(run, "history", run)
    if not hasattr(history, "run"):
        raise ValueError(
            f"runs[{label!r}] must be a History, a Lab, a Trainer, (history, run_id) or a list of "
            f"EpochRecords; got {type(run).__name__}."
        )
    return history.run()


def _initial_profile(run: Any, label: str) -> list:
    """The run's ||∂L/∂x_t|| before its first step (RunInfo), [] when it was not probed."""
    recs = _records(run, label)  # the same checks and messages as every field
    is_pair = isinstance(run, tuple) and len(run) == 2
    if isinstance(run, (list, tuple)) and not is_pair:
        raise ValueError(f"runs[{label!r}]: a list of EpochRecords has no profile from before its first step; "
                         "pass its History (or (history, run_id)).")
    owner = run[0] if is_pair else run
    info = getattr(owner, "history", owner).runs.get(recs[0].run_id) if recs else None
    return list(getattr(info, "initial_grad_through_time", None) or [])


def run_series(run: Any, field: str = "loss", unit: str = "global") -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one run, as :func:`compare_runs` draws it.

    For an epoch field ("loss", "val_loss", "time_s") or a unit field (e.g.
    "update_ratio", "grad_pre_mean") x is the epoch; for "grad_through_time" x is the
    time step counted back from the last (0 = last step, -1 = the one before, ...) and y
    the last epoch's ||∂L/∂x_t||, so sequences of different lengths line up at the end;
    "initial_grad_through_time" is the same profile measured before the run's first step.

    Raises:
        ValueError: an unknown field, or a run that is not a History, Lab, Trainer,
            ``(history, run_id)`` or list of EpochRecords.
    """
    _check_field(field)
    return _series(run, field, unit, "run")


def _series(run: Any, field: str, unit: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    if field == "initial_grad_through_time":
        g = np.asarray(_initial_profile(run, label), dtype=float)
        return np.arange(-len(g) + 1, 1, dtype=float), g
    recs = _records(run, label)
    if field == "grad_through_time":
        g = np.asarray(recs[-1].grad_through_time if recs else [], dtype=float)
        return np.arange(-len(g) + 1, 1, dtype=float), g
    x = np.array([r.epoch for r in recs], dtype=float)
    if field in _EPOCH_FIELDS:
        y = [getattr(r, field) for r in recs]
    else:
        y = [r.units.get(field, {}).get(unit, math.nan) for r in recs]
    return x, np.array([math.nan if v is None else v for v in y], dtype=float)


def _integer_ticks(lo: float, hi: float) -> np.ndarray | None:
    """Whole-number ticks (epochs, time steps), at most about ten of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return None
    step = max(1, math.ceil((hi - lo) / 10))
    for nice in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if nice >= step:
            step = nice
            break
    first = math.ceil(lo / step) * step
    return np.arange(first, math.floor(hi) + 1, step, dtype=float)


_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def _check_field(field: str) -> None:
    known = _EPOCH_FIELDS + UNIT_FIELDS + _TIME_FIELDS
    if field not in known:
        raise ValueError(f"field must be one of {', '.join(map(repr, known))}; got {field!r}.")


def compare_runs(
    runs: Mapping[str, Any],
    field: str = "loss",
    unit: str = "global",
    log_y: bool = True,
    title: str | None = None,
    legend_location: str | None = None,
) -> Figure:
    """A bqplot Figure with one line per run, on the same axes, with a legend.

    Args:
        runs: ``{label: run}``; a run is a History (its latest run), a Lab or Trainer (its
            History's latest run), ``(history, run_id)`` for an earlier run, or a list of
            EpochRecords.
        field: What to draw: "loss", "val_loss", "time_s", a unit field such as
            "update_ratio" or "grad_pre_mean", "grad_through_time" (the last epoch's
            ||∂L/∂x_t|| against the step counted back from the end) or
            "initial_grad_through_time" (the same before the run's first step; not for a
            list of EpochRecords). Defaults to "loss".
        unit: For a unit field, the variable, layer or "global". Defaults to "global".
        log_y: A logarithmic y axis (values <= 0 and non-finite ones are left out).
            Defaults to True.
        title: The figure title. Defaults to the field's name.
        legend_location: "top-left", "top-right", "bottom-left" or "bottom-right".
            Defaults to None: the corner with the fewest points under it.

    Returns:
        The Figure; display it, or read ``figure.marks[0].y`` (one row per run, NaN where
        a run has no value).

    Raises:
        ValueError: ``runs`` is empty or not a mapping, a field is unknown, or a run is
            not one of the kinds above.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            "runs must be a non-empty dict {label: history}, e.g. {'SGD': lab_sgd.history, "
            f"'Adam': lab_adam.history}}; got {type(runs).__name__}."
        )
    _check_field(field)
    series = [(str(label), *_series(run, field, unit, str(label))) for label, run in runs.items()]
    n = max((len(x) for _, x, _ in series), default=0)
    xs = np.full((len(series), max(n, 1)), np.nan)
    ys = np.full_like(xs, np.nan)
    for i, (_, x, y) in enumerate(series):
        xs[i, : len(x)] = x
        ys[i, : len(y)] = y
    ys[~np.isfinite(ys)] = np.nan
    if log_y:
        ys[ys <= 0] = np.nan  # a LogScale draws nothing at all with a value <= 0
    labels = [label for label, _, _ in series]
    if log_y and field not in _TIME_FIELDS:
        # One exploding run (losses of 1e27) would flatten every other run into one band:
        # the scale stops OFF_SCALE times above where the runs started, and a run beyond
        # that leaves through the top (its label says so). "Where they started" is the median
        # first value: a run that exploded within its first epoch does not set the scale.
        starts = [row[np.isfinite(row)][0] for row in ys if np.isfinite(row).any()]
        if starts:
            top = OFF_SCALE * float(np.median(starts))
            for i, row in enumerate(ys):
                if np.nanmax(row, initial=-np.inf) > top:
                    labels[i] += " (off the top)"
            ys = np.where(ys > top, top, ys)
    finite = ys[np.isfinite(ys)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if log_y:
            lo, hi = lo / 1.5, hi * 1.5
        else:
            pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 1.0
            lo, hi = lo - pad, hi + pad
    else:
        lo, hi = (1e-3, 1.0) if log_y else (0.0, 1.0)
    x_finite = xs[np.isfinite(xs)]
    x_lo, x_hi = (float(x_finite.min()), float(x_finite.max())) if x_finite.size else (0.0, 1.0)
    if x_lo == x_hi:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    if legend_location is None:
        legend_location = emptiest_corner(xs, ys, (x_lo, x_hi), (lo, hi), log_y)
    elif legend_location not in _CORNERS:
        raise ValueError(f"legend_location must be one of {', '.join(map(repr, _CORNERS))}; got {legend_location!r}.")
    sx = LinearScale(min=x_lo, max=x_hi)
    sy = LogScale(min=lo, max=hi) if log_y else LinearScale(min=lo, max=hi)
    xs, ys = drawable(xs, ys, lo)  # each run ends on a finite point (bqplot label placement)
    line = Lines(
        x=xs, y=ys, scales={"x": sx, "y": sy},
        labels=labels,
        colors=[COLOURS[i % len(COLOURS)] for i in range(len(series))],
        display_legend=True,
    )
    x_label = "time step (0 = last)" if field in _TIME_FIELDS else "epoch"
    y_label = _LABELS.get(field, field) + ("" if unit == "global" or field in _EPOCH_FIELDS else f" [{unit}]")
    fig = Figure(
        marks=[line],
        axes=[
            Axis(scale=sx, label=x_label, tick_format="d", tick_values=_integer_ticks(x_lo, x_hi)),
            Axis(scale=sy, orientation="vertical", label=y_label, tick_format=".0e" if log_y else "",
                 label_offset="58px"),
        ],
        title=title or y_label,
        legend_location=legend_location,
        animation_duration=0,
        fig_margin={"top": 40, "bottom": 45, "left": 80, "right": 20},
    )
    fig.layout.width = "100%"
    fig.layout.max_width = "720px"
    fig.layout.height = "360px"
    return fig

