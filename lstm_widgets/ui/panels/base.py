"""What every panel shares: the Panel protocol (``update(history)``), the time-panel
base that owns change markers, kept-run overlays, scales and downsampling once, and the
bqplot plumbing (log and epoch axes, series that end on a finite point).

Every panel is a small object with one ``update(history)`` method and a ``widget`` to
display. ``update`` skips the redraw when ``history.version`` has not changed, batches
each mark's new data in ``hold_sync()`` (one message per mark), and downsamples long
runs keeping their spikes (:func:`lstm_widgets.downsample.keep_indices`), so the bytes
sent per epoch stay bounded however many epochs have run.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from bqplot import Axis, Figure, Label, LinearScale, Lines, LogScale
from bqplot.colorschemes import CATEGORY10
from ipywidgets import HTML, Layout, VBox

from ...downsample import MAX_POINTS, keep_indices
from ...history import ModelStructure, merge_markers

__all__ = [
    "MAX_POINTS",
    "MAX_ROWS",
    "MAX_COLUMNS",
    "MAX_MARKERS",
    "KEPT_REACH",
    "PALETTE",
    "KeptRun",
    "Panel",
    "TimePanel",
    "RunRows",
    "drawable",
    "positive",
    "decades",
    "log_axis",
    "epoch_axis",
    "log_ticks",
    "figure",
]

#: Most epoch rows in the gradient-through-time heat map.
MAX_ROWS = 100
#: Most time-step columns in the heat map and the gradient-through-time line.
MAX_COLUMNS = 100
#: How far (a factor, each way) kept runs may widen a time panel's y range beyond the
#: current run's own: enough to compare, not so much that a kept run that diverged
#: flattens the run in front into a line.
KEPT_REACH = 1e3
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


def _caption(text: str) -> HTML:
    """A one-line caption under a figure; the full text shows on hover."""
    safe = html.escape(text, quote=True)
    cap = HTML(
        f'<div class="lw-help" title="{safe}" style="font-size:11px;line-height:14px;'
        f"color:var(--jp-ui-font-color2);white-space:nowrap;overflow:hidden;"
        f'text-overflow:ellipsis;max-width:396px;margin:-4px 0 2px 4px">{safe}</div>'
    )
    cap.add_class("lw-caption")
    return cap


# -- per-epoch rows ------------------------------------------------------------------------
class RunRows:
    """Per-epoch rows of the current run, extracted once per record (incrementally).

    Args:
        extract: ``extract(record, structure)`` turns one EpochRecord into a row.
        values: ``values(row)`` gives the numbers of a row whose spikes the downsampling
            must keep (one per series drawn). Defaults to the row itself.

    A new run, a new History or a new model structure starts over.
    """

    def __init__(self, extract: Callable[[Any, ModelStructure], Any], values: Callable[[Any], Sequence] | None = None):
        self._extract = extract
        self._value_of = values or (lambda row: row)
        self._key: tuple | None = None
        self._pos = 0
        self.epochs: list[float] = []
        self.rows: list[Any] = []
        self._values: list[np.ndarray] = []  # each row's drawn numbers, computed once
        self._matrix = np.zeros((0, 0))  # the same, stacked (epochs x series), extended as rows arrive

    def sync(self, history) -> "RunRows":
        structure = history.structure
        run = history.current_run
        key = (id(history), run, tuple(structure.layers), tuple(structure.gated))
        recs = history.records
        n = len(recs)
        if key != self._key or self._pos > n:
            self._key, self._pos = key, 0
            self.epochs, self.rows, self._values = [], [], []
            self._matrix = np.zeros((0, 0))
        for r in recs[self._pos : n]:
            if r.run_id == run:
                row = self._extract(r, structure)
                self.epochs.append(float(r.epoch))
                self.rows.append(row)
                self._values.append(np.ravel(np.asarray(self._value_of(row), dtype=float)))
        self._pos = n
        return self

    def values(self) -> np.ndarray:
        """Every row's drawn numbers, stacked: epochs x series."""
        done = len(self._matrix)
        if done < len(self._values):
            new = np.array(self._values[done:], dtype=float)
            self._matrix = new if not done else np.concatenate([self._matrix, new])
        return self._matrix

    def picked(self, k: int = MAX_POINTS) -> tuple[np.ndarray, list]:
        """(epochs, rows) downsampled to about ``k`` keeping every series' spikes."""
        x, rows, _ = self.picked_values(k)
        return x, rows

    def picked_values(self, k: int = MAX_POINTS) -> tuple[np.ndarray, list, np.ndarray]:
        """(epochs, rows, their drawn numbers: epochs x series) downsampled to about ``k``
        keeping every series' spikes. The numbers come from :meth:`values`, computed once
        per row, not again per redraw."""
        values = self.values()
        if len(self.rows) <= k:
            return np.array(self.epochs, dtype=F32), list(self.rows), values
        idx = keep_indices(values.T, k)
        return np.array([self.epochs[i] for i in idx], dtype=F32), [self.rows[i] for i in idx], values[idx]


@dataclass(repr=False)
class KeptRun:
    """A finished run pinned for comparison: its label and its EpochRecords."""

    label: str
    records: list
    structure: ModelStructure

    def __repr__(self) -> str:
        return f"KeptRun({self.label!r}, {len(self.records)} epochs)"


class _KeptHistory:
    """Just enough History for RunRows to read a kept run."""

    def __init__(self, kept: KeptRun):
        self.records = kept.records
        self.structure = kept.structure
        self.current_run = kept.records[0].run_id if kept.records else None


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
    for part in parts:
        joined = f"{kept}; {part}" if kept else part
        if len(joined) > (n if part is parts[-1] else n - 2):
            break
        kept = joined
    if kept == "; ".join(parts):
        return kept
    return f"{kept} …" if kept else parts[0][: n - 1] + "…"


def _new_value_only(change: str) -> str:
    head, arrow, new = change.rpartition(" → ")
    return f"{head.split(' ')[0]} → {new}" if arrow else change


# -- panels --------------------------------------------------------------------------------
class Panel:
    """A view of a History. Subclasses draw in :meth:`_draw`; call :meth:`update`.

    Attributes:
        widget: The ipywidget to display (carries the panel's ``lw-panel-*`` class).
        css_class: That class.
    """

    css_class = "lw-panel"

    def __init__(self) -> None:
        self._version: tuple | None = None
        self._history = None
        self.widget: VBox | None = None  # built by _finish (a placeholder box would stay open)

    def _finish(self, *children, layout: dict | None = None) -> None:
        shown = []
        for child in children:
            shown.append(child)
            help_text = getattr(child, "_lw_help", "")
            if help_text:
                shown.append(_caption(help_text))
        self.widget = VBox(shown, layout=Layout(**(layout or {"width": "auto"})))
        self.widget.add_class("lw-panel")
        self.widget.add_class(self.css_class)

    def update(self, history) -> bool:
        """Redraw from ``history`` if it changed since the last call; True if redrawn."""
        key = (id(history), history.version)
        if key == self._version:
            return False
        self._version = key
        self._history = history
        self._draw(history)
        return True

    def refresh(self) -> None:
        """Redraw from the last History even if its version has not changed."""
        self._version = None
        if self._history is not None:
            self.update(self._history)

    def _draw(self, history) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class TimePanel(Panel):
    """A panel whose x axis is the epoch, on a log y axis: it owns the scales, the change
    markers, the kept-run overlays and the downsampled rows, so a subclass only says how
    a record becomes a row (:meth:`_extract`), which numbers of a row are its drawn
    series (:meth:`_series`, also what kept runs overlay) and draws its own marks
    (:meth:`_draw_rows`).
    """

    #: The y scale's range before anything is drawn.
    y_default = (1e-4, 1.0)

    def __init__(self) -> None:
        super().__init__()
        self.x_scale = LinearScale(min=0.0, max=1.0)
        self.y_scale = LogScale(min=self.y_default[0], max=self.y_default[1])
        self.markers = Markers(self.x_scale, self.y_scale)
        self.overlay = Lines(
            x=np.zeros(0, dtype=F32), y=np.zeros(0, dtype=F32), scales={"x": self.x_scale, "y": self.y_scale},
            colors=PALETTE, opacities=[0.3], stroke_width=1.5, visible=False,
        )
        self._rows = RunRows(self._extract, self._series)
        self._kept: list[KeptRun] = []
        self._kept_y = np.zeros(0, dtype=F32)
        self._kept_max_epoch = 0.0
        self._kept_clip: tuple | None = None
        self.x_range = (0.0, 1.0)

    # -- what a subclass says ----------------------------------------------------------
    def _extract(self, record, structure: ModelStructure) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _series(self, row) -> list[float]:
        """The drawn numbers of one row (one per series); kept runs overlay these."""
        return row

    def _draw_rows(self, x: np.ndarray, rows: list, lo: float, hi: float, history) -> None:  # pragma: no cover
        raise NotImplementedError

    def _y_extra(self, x: np.ndarray, rows: list) -> list:
        """Other values the y range must include (a threshold, a band)."""
        return []

    # -- kept runs -----------------------------------------------------------------------
    def set_kept(self, kept: Sequence[KeptRun]) -> None:
        """Show ``kept`` runs as faded lines (an empty list clears them)."""
        self._kept = list(kept)
        self._kept_max_epoch = max((float(k.records[-1].epoch) for k in self._kept if k.records), default=0.0)
        xs, ys = [], []
        for k in self._kept:
            x, rows = RunRows(self._extract, self._series).sync(_KeptHistory(k)).picked()
            if not len(x):
                continue
            arr = np.array([np.ravel(np.asarray(self._series(r), dtype=float)) for r in rows])
            for j in range(arr.shape[1]):
                xs.append(x)
                ys.append(positive(arr[:, j]))
        if xs:
            width = max(len(x) for x in xs)
            pad = lambda a: np.concatenate([a, np.full(width - len(a), np.nan)])  # noqa: E731
            X, Y = drawable(np.array([pad(x) for x in xs]), np.array([pad(y) for y in ys]))
        else:
            X = Y = np.zeros(0, dtype=F32)
        self._kept_y = Y
        self._kept_clip = None
        with self.overlay.hold_sync():
            self.overlay.x, self.overlay.y = X, Y
            self.overlay.visible = bool(xs)
        self.refresh()

    def _legend_series(self, x: np.ndarray, rows: list) -> list:
        """Further drawn series (one value per row) the legend must not cover."""
        return []

    def _legend_labels(self, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """Points where the panel's own text labels are drawn, which the legend must not cover."""
        return np.zeros(0), np.zeros(0)

    def _place_legend(self, x, rows, drawn, lo, hi, has_markers: bool) -> None:
        """The legend in the corner its lines (and labels) cross least: a fixed corner
        covered the first epochs' lines of the loss and gradient panels. With change
        markers, whose labels take the top of the plot, a bottom corner."""
        if not len(x) or getattr(self, "figure", None) is None:
            return
        arr = np.asarray(drawn, dtype=float).reshape(len(x), -1)
        xs, ys = dense_points(x, [arr[:, j] for j in range(arr.shape[1])] + self._legend_series(x, rows))
        lx, ly = self._legend_labels(lo, hi)
        corners = ("bottom-left", "bottom-right") if has_markers else (
            "bottom-left", "bottom-right", "top-left", "top-right")
        corner = emptiest_corner(np.concatenate([xs, lx]), np.concatenate([ys, ly]), self.x_range, (lo, hi), True,
                                 corners)
        if self.figure.legend_location != corner:
            self.figure.legend_location = corner

    def _clip_kept(self, lo: float, hi: float) -> None:
        """Draw the kept runs within [lo, hi] (a value beyond leaves through the edge);
        resent only when the range changes."""
        if not self._kept_y.size or self._kept_clip == (lo, hi):
            return
        self._kept_clip = (lo, hi)
        with np.errstate(invalid="ignore"):
            self.overlay.y = np.clip(self._kept_y, lo, hi).astype(F32)

    # -- drawing -------------------------------------------------------------------------
    def _draw(self, history) -> None:
        self._rows.sync(history)
        x, rows, drawn = self._rows.picked_values()
        drawn = drawn if rows else []
        extra = self._y_extra(x, rows)
        lo, hi = decades(drawn, self._kept_y, *extra, default=self.y_default)
        if self._kept_y.size and np.isfinite(positive(drawn)).any():
            # The run in front sets the scale; a kept run (a diverged one at 1e27) may widen it
            # by at most KEPT_REACH each way, and leaves through the edge beyond that.
            own_lo, own_hi = decades(drawn, *extra, default=self.y_default)
            lo, hi = max(lo, own_lo / KEPT_REACH), min(hi, own_hi * KEPT_REACH)
            self._clip_kept(lo, hi)
        markers = history.run_markers() if hasattr(history, "run_markers") else []
        last = [float(m.position) for m in markers[-1:]]
        # Epochs are numbered from 1: the axis starts there unless a change came in epoch 1.
        x0 = 0.0 if any(float(m.position) < 1.0 for m in markers) or not self._rows.epochs else 1.0
        x1 = float(math.ceil(max([x0 + 1.0, self._kept_max_epoch] + self._rows.epochs[-1:] + last)))
        self.x_range = (x0, x1)
        self._draw_rows(x, rows, lo, hi, history)
        self._place_legend(x, rows, drawn, lo, hi, bool(markers))
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = lo, hi
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = self.x_range
        self.markers.draw(markers, lo, hi)
