"""The learning-rate range test as a figure: the training loss against the learning rate
(left axis) and the measured per-step update ratio beside it (right axis, with its
healthy rule of thumb as a dotted line), both on log scales, with the suggested rate
marked."""

from __future__ import annotations

import math

import numpy as np
from bqplot import Axis, Figure, Lines, LogScale

from ..diagnosis.thresholds import UPDATE_RATIO_PER_STEP
from .panels import drawable
from .panels.plot import BAND_COLOUR, MARKER_COLOUR, PALETTE, decades

__all__ = ["range_test_figure"]


def range_test_figure(test, title: str = "Learning-rate range test") -> Figure:
    """A bqplot Figure of a :class:`~lstm_widgets.engine.lr_range.RangeTest`.

    ``figure.marks[0]`` is the loss, ``marks[1]`` the update ratio per step, ``marks[2]``
    the healthy update ratio, ``marks[3]`` the suggested learning rate.
    """
    rates = np.asarray(test.rates, dtype=float)
    if rates.size == 0:
        raise ValueError("the range test recorded no epoch: nothing to draw.")
    losses = np.asarray(test.losses, dtype=float)
    steps = np.asarray(test.step_ratios, dtype=float)
    sx = LogScale(min=float(rates[0]) / 1.3, max=float(rates[-1]) * 1.3)
    lo, hi = decades(losses, default=(1e-2, 10.0))
    s_lo, s_hi = decades(steps, [UPDATE_RATIO_PER_STEP], default=(1e-5, 1.0))
    sy, sr = LogScale(min=lo, max=hi), LogScale(min=s_lo, max=s_hi)
    x1, y1 = drawable(rates, losses, lo)
    x2, y2 = drawable(rates, steps, s_lo)
    loss = Lines(x=x1, y=y1, scales={"x": sx, "y": sy}, colors=[PALETTE[0]], labels=["training loss"],
                 display_legend=True, marker="circle", marker_size=16)
    ratio = Lines(x=x2, y=y2, scales={"x": sx, "y": sr}, colors=[PALETTE[1]], labels=["update ratio per step"],
                  display_legend=True, marker="square", marker_size=16)
    healthy = Lines(x=np.array([rates[0] / 1.3, rates[-1] * 1.3], dtype=np.float32),
                    y=np.array([UPDATE_RATIO_PER_STEP] * 2, dtype=np.float32), scales={"x": sx, "y": sr},
                    colors=[BAND_COLOUR], line_style="dotted", labels=[f"update ratio {UPDATE_RATIO_PER_STEP:g}"],
                    display_legend=True)
    at = test.suggestion if math.isfinite(test.suggestion) else float(rates[0])
    suggested = Lines(x=np.array([at, at], dtype=np.float32), y=np.array([lo, hi], dtype=np.float32),
                      scales={"x": sx, "y": sy}, colors=[MARKER_COLOUR], line_style="dashed",
                      labels=[f"suggested {at:.2g}"], display_legend=True, visible=math.isfinite(test.suggestion))
    fig = Figure(
        marks=[loss, ratio, healthy, suggested],
        axes=[
            Axis(scale=sx, label="learning rate", tick_format=".0e"),
            Axis(scale=sy, orientation="vertical", label="training loss", tick_format=".0e", label_offset="58px"),
            Axis(scale=sr, orientation="vertical", side="right", label="update ratio per step", tick_format=".0e",
                 label_offset="50px"),
        ],
        title=title, legend_location="top-left", animation_duration=0,
        fig_margin={"top": 40, "bottom": 45, "left": 80, "right": 80},
    )
    fig.layout.width = "100%"
    return fig
