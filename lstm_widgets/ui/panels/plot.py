"""The bqplot plumbing every panel (and the sweep, compare and range-test views) draws
with: values a LogScale can draw, decades, log and epoch axes whose labels never pile up,
figures with their caption, series that end on a finite point, the emptiest corner for a
legend, and change markers with labels that fit their plot.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np
from bqplot import Axis, Figure, Label, Lines
from bqplot.colorschemes import CATEGORY10
from ipywidgets import HTML, Layout

from ...history import merge_markers

__all__ = [
    "MAX_MARKERS",
    "PALETTE",
    "MARKER_COLOUR",
    "THRESHOLD_COLOUR",
    "BAND_COLOUR",
    "F32",
    "Markers",
    "positive",
    "decades",
    "emptiest_corner",
    "dense_points",
    "drawable",
    "log_ticks",
    "log_axis",
    "epoch_axis",
    "figure",
    "caption",
]

#: Most change markers drawn per panel (the latest ones).
MAX_MARKERS = 20
#: bqplot's own Tableau 10 colours: they read on JupyterLab's light and dark themes alike.
PALETTE = list(CATEGORY10)
MARKER_COLOUR = "#8a8a8a"
THRESHOLD_COLOUR = "#d62728"
BAND_COLOUR = "#2ca02c"

F32 = np.float32  # half the bytes of float64, and far more precision than a plot needs


# -- values and axes -----------------------------------------------------------------------
def positive(a) -> np.ndarray:
    """Values for a LogScale: anything <= 0 or not finite becomes NaN (drawn as a gap)."""
    a = np.asarray(a, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def decades(*arrays, default=(1e-4, 1.0)) -> tuple[float, float]:
    """(min, max) of the finite positive values, widened to whole decades."""
    vals = [np.asarray(a, dtype=float).ravel() for a in arrays if a is not None and np.size(a)]
    v = np.concatenate(vals) if vals else np.empty(0)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return default
    lo = 10.0 ** math.floor(math.log10(float(v.min())))
    hi = 10.0 ** math.ceil(math.log10(float(v.max())))
    return (lo, hi) if hi > lo else (lo, lo * 10.0)


CORNERS = ("top-right", "top-left", "bottom-right", "bottom-left")


def emptiest_corner(xs, ys, x_range, y_range, log_y: bool, corners=CORNERS) -> str:
    """The corner (of ``corners``, the first on ties) whose legend-sized box (40% x 40% of
    the plot) covers the fewest points."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(xs) & np.isfinite(ys) & ((ys > 0) if log_y else True)
    if not ok.any():
        return corners[0]
    x = (xs[ok] - x_range[0]) / ((x_range[1] - x_range[0]) or 1.0)
    y = ys[ok]
    if log_y:
        y, lo, hi = np.log10(y), math.log10(y_range[0]), math.log10(y_range[1])
    else:
        lo, hi = y_range
    y = (y - lo) / ((hi - lo) or 1.0)
    boxes = {
        "top-right": (x >= 0.6) & (y >= 0.6), "top-left": (x <= 0.4) & (y >= 0.6),
        "bottom-left": (x <= 0.4) & (y <= 0.4), "bottom-right": (x >= 0.6) & (y <= 0.4),
    }
    return min(corners, key=lambda c: int(boxes[c].sum()))


def dense_points(x, series, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Points along each series' line (its epochs, and between them interpolated in log
    y), for :func:`emptiest_corner`: a line crosses a corner between two epochs too."""
    x = np.asarray(x, dtype=float)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    grid = np.linspace(float(x.min()), float(x.max()), n) if x.size else x
    for y in series:
        y = positive(np.ravel(y))
        if y.shape != x.shape:
            continue
        xs.append(x)
        ys.append(y)
        ok = np.isfinite(y)
        if ok.sum() >= 2:
            xs.append(grid)
            ys.append(10.0 ** np.interp(grid, x[ok], np.log10(y[ok]), left=np.nan, right=np.nan))
    if not xs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)


def drawable(x, y, floor: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """x and y for a bqplot Lines mark, as 2-D arrays of one row per series, such that
    every series ends on a finite point.

    bqplot places each series' (hidden) curve label at its last point; when that point
    is NaN (a diverged epoch, a shorter kept run, no validation loss) the browser logs
    an error for every redraw. Trailing non-finite points are therefore moved onto the
    series' last finite point: nothing new is drawn. A series with no finite point at
    all collapses onto (first x, ``floor``). Gaps inside a series stay gaps.
    """
    Y = np.array(np.atleast_2d(np.asarray(y, dtype=float)), dtype=float)
    X = np.asarray(x, dtype=float)
    X = np.array(np.broadcast_to(X, Y.shape) if X.ndim == 1 else X, dtype=float)
    for i in range(Y.shape[0]):
        ok = np.flatnonzero(np.isfinite(Y[i]) & np.isfinite(X[i]))
        if ok.size == 0:
            if Y.shape[1]:
                first = X[i][np.isfinite(X[i])]
                X[i, :] = first[0] if first.size else 0.0
                Y[i, :] = floor
            continue
        j = ok[-1]
        X[i, j + 1 :] = X[i, j]
        Y[i, j + 1 :] = Y[i, j]
    return X.astype(F32), Y.astype(F32)


#: Least vertical room between two labels of a log axis (11 px text and a gap).
MIN_TICK_GAP_PX = 18


def log_ticks(lo: float, hi: float, px: float) -> list[float]:
    """Tick values for a log axis from ``lo`` to ``hi`` drawn ``px`` pixels tall: 1, 2, 5
    in each decade when there is room for them, else 1 and 3, else whole decades, else
    every second (third, ...) decade, so that no two labels come closer than
    MIN_TICK_GAP_PX (at 140 px a 1-2-5 column over three decades overlapped)."""
    per_decade = px / max(math.log10(hi / lo), 1e-9)
    e0, e1 = int(math.floor(math.log10(lo) + 1e-9)), int(math.ceil(math.log10(hi) - 1e-9))
    # each set with the smallest gap between its neighbours, in decades
    for mantissas, gap in (((1, 2, 5), math.log10(2)), ((1, 3), math.log10(3))):
        if gap * per_decade >= MIN_TICK_GAP_PX:
            vals = [m * 10.0**e for e in range(e0, e1 + 1) for m in mantissas if lo <= m * 10.0**e <= hi * (1 + 1e-9)]
            if len(vals) >= 2:
                return vals
    step = max(1, math.ceil(MIN_TICK_GAP_PX / per_decade))
    return [10.0**e for e in range(e0, e1 + 1) if e % step == 0 and lo <= 10.0**e <= hi * (1 + 1e-9)]


def log_axis(scale, **kw) -> Axis:
    """A vertical axis for a LogScale whose labels never overlap (see :func:`log_ticks`).

    Left to itself, bqplot labels every minor tick of a log axis (9e-1, 8e-1, ...), which
    piles up into an unreadable column. The ticks follow the scale's min and max and the
    figure's height (:func:`figure` tells the axis how tall its plot is).
    """
    # bqplot puts a vertical axis's title 4ex from the line, onto labels like "3e-3"
    # (seen in JupyterLab screenshots of the update and per-gate panels): 42 px clears
    # them and stays inside the figure's 58 px left margin.
    kw.setdefault("label_offset", "42px")
    axis = Axis(scale=scale, orientation="vertical", tick_format=".0e", **kw)
    room = {"px": 200.0}

    def follow(_=None):
        lo, hi = scale.min, scale.max
        if not (lo and hi and 0 < lo < hi):
            return
        axis.tick_values = np.array(log_ticks(lo, hi, room["px"]))

    def set_height(px: float) -> None:
        room["px"] = float(px)
        follow()

    axis._lw_plot_height = set_height
    scale.observe(follow, names=["min", "max"])
    follow()
    return axis


def epoch_axis(scale, **kw) -> Axis:
    """A horizontal epoch axis with whole-number ticks only (1, 2, 5, 10, ... apart).

    bqplot's default ticks for a range of 0..3 are 0, 0.3, 0.6, ..., which the "d"
    format prints as 0 0 0 1 1 1: integer ticks follow the scale's range instead.
    """
    axis = Axis(scale=scale, tick_format="d", **kw)

    def follow(_=None):
        lo, hi = scale.min, scale.max
        if lo is None or hi is None or not hi > lo:
            return
        span = hi - lo
        step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**4, 10**5, 10**6)
                    if span / s <= 8 or s == 10**6)
        axis.tick_values = np.arange(math.ceil(lo / step) * step, hi + 1e-9, step, dtype=float)

    scale.observe(follow, names=["min", "max"])
    follow()
    return axis


def figure(title: str, marks, axes, width=400, height=260, tooltip="") -> Figure:
    margin = {"top": 26, "bottom": 34, "left": 58, "right": 14}
    for item in list(axes) + list(marks):  # a log axis spaces its labels, markers fit theirs
        if hasattr(item, "_lw_plot_height"):
            item._lw_plot_height(height - margin["top"] - margin["bottom"])
    fig = Figure(
        marks=marks,
        axes=axes,
        title=title,
        animation_duration=0,
        fig_margin=margin,
        layout=Layout(width=f"{width}px", height=f"{height}px"),
        min_aspect_ratio=0.01,
        max_aspect_ratio=100,
        title_style={"font-size": "12px"},
        legend_location="bottom-left",  # marker labels take the top of the plot
        legend_text={"font-size": "10px"},
    )
    # Not fig.tooltip: bqplot's Figure view has no `description`, and ipywidgets 8's
    # tooltip code reads description.length, so the figure fails to render. The help
    # goes into a caption under the figure instead (see Panel._finish).
    fig._lw_help = tooltip
    return fig


def caption(text: str) -> HTML:
    """A one-line caption under a figure; the full text shows on hover."""
    safe = html.escape(text, quote=True)
    cap = HTML(
        f'<div class="lw-help" title="{safe}" style="font-size:11px;line-height:14px;'
        f"color:var(--jp-ui-font-color2);white-space:nowrap;overflow:hidden;"
        f'text-overflow:ellipsis;max-width:396px;margin:-4px 0 2px 4px">{safe}</div>'
    )
    cap.add_class("lw-caption")
    return cap


class Markers:
    """Vertical, labelled lines where a setting changed, on one figure's scales."""

    def __init__(self, x_scale, y_scale, labels: bool = True):
        self._drawn: tuple | None = None  # (markers' key, y_lo, y_hi) last drawn
        self._merged_key: tuple | None = None
        self._merged: list = []
        self._max_chars = 40  # a label's length that fits the plot's height (see _fit_height)
        self.lines = Lines(
            x=np.zeros((1, 2), dtype=F32), y=np.ones((1, 2), dtype=F32),
            scales={"x": x_scale, "y": y_scale}, colors=[MARKER_COLOUR], stroke_width=1,
            line_style="dashed", visible=False, preserve_domain={"x": True, "y": True},
        )
        self.labels = (
            Label(
                x=[0.0], y=[1.0], text=[""], scales={"x": x_scale, "y": y_scale},
                colors=[MARKER_COLOUR], default_size=10, font_unit="px", rotate_angle=-90,
                align="end", x_offset=-3, visible=False,
            )
            if labels
            else None
        )
        if self.labels is not None:
            self.labels._lw_plot_height = self._fit_height

    def _fit_height(self, px: float) -> None:
        """Labels hang from the top of the plot: one longer than the plot is tall ran
        past the plot's bottom ("lr 0.001 → 0.003; epochs 12 → 8", 152 px on a 130 px
        plot, in JupyterLab), so it is shortened to fit, at 5.5 px a character of its 10 px
        text (4.9 measured there)."""
        self._max_chars = max(8, int((px - 6) / 5.5))
        self._drawn = None

    @property
    def marks(self) -> list:
        return [self.lines] + ([self.labels] if self.labels is not None else [])

    def draw(self, markers: Sequence, y_lo: float, y_hi: float) -> None:
        # Markers change rarely and the same ones are drawn epoch after epoch: merge them
        # and send them again only when they (or the y range they span) changed. Merging
        # 80 markers on every panel every epoch was a third of a 1000-epoch update.
        key = (len(markers),) + tuple((id(m), m.run_id, m.position, m.setting, repr(m.new))
                                      for m in (markers[:1] + markers[-1:] if markers else []))
        if (key, y_lo, y_hi) == self._drawn:
            return
        if key != self._merged_key:
            self._merged_key, self._merged = key, merge_markers(markers)[-MAX_MARKERS:]
        self._drawn = (key, y_lo, y_hi)
        markers = self._merged
        if not markers:
            if self.lines.visible:
                self.lines.visible = False
                if self.labels is not None:
                    self.labels.visible = False
            return
        pos = np.array([float(m.position) for m in markers], dtype=F32)
        with self.lines.hold_sync():
            self.lines.x = np.repeat(pos[:, None], 2, axis=1)
            self.lines.y = np.tile(np.array([y_lo, y_hi], dtype=F32), (len(pos), 1))
            self.lines.visible = True
        if self.labels is not None:
            with self.labels.hold_sync():
                self.labels.x = pos
                self.labels.y = np.full(len(pos), y_hi, dtype=F32)
                self.labels.text = [_shorten(str(m.label), self._max_chars) for m in markers]
                self.labels.visible = True


def _shorten(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters: "lr 0.001 → 0.003" keeps its new value only
    ("lr → 0.003") when the whole does not fit, and "; "-joined changes are kept while
    they fit, then an ellipsis; a single change still too long is cut."""
    if len(text) <= n:
        return text
    parts = [_new_value_only(p) for p in text.split("; ")]
    kept = ""
    for i, part in enumerate(parts):
        joined = f"{kept}; {part}" if kept else part
        if len(joined) > (n if i == len(parts) - 1 else n - 2):  # room for " …" unless last
            break
        kept = joined
    if kept == "; ".join(parts):
        return kept
    return f"{kept} …" if kept else parts[0][: n - 1] + "…"


def _new_value_only(change: str) -> str:
    head, arrow, new = change.rpartition(" → ")
    return f"{head.split(' ')[0]} → {new}" if arrow else change
