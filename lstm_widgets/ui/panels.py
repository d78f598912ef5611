"""The Lab's figures (bqplot) and views (ipywidgets), each fed from a History.

Every panel is a small object with one ``update(history)`` method and a ``widget`` to
display. ``update`` skips the redraw when ``history.version`` has not changed, batches
each mark's new data in ``hold_sync()`` (one message per mark), and downsamples long
runs (at most :data:`MAX_POINTS` points per series, :data:`MAX_ROWS` heat-map rows),
so the bytes sent per epoch stay bounded however many epochs have run.

The time-based panels (loss, gradient norm, update ratio) draw a labelled vertical
line where a setting changed (``history.markers``) and can show kept runs as faded
overlays (:meth:`TimePanel.set_kept`).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from bqplot import Axis, Bars, ColorAxis, ColorScale, Figure, HeatMap, Label, Lines, LinearScale, LogScale, OrdinalScale
from ipywidgets import HTML, Button, HBox, Layout, VBox

__all__ = [
    "MAX_POINTS",
    "MAX_ROWS",
    "MAX_COLUMNS",
    "MAX_MARKERS",
    "HEALTHY_BAND",
    "KeptRun",
    "Panel",
    "LossPanel",
    "GradientPanel",
    "UpdateRatioPanel",
    "GatePanel",
    "TimeGradientPanel",
    "DiagnosisPanel",
    "CodeView",
    "downsample_indices",
    "drawable",
    "make_panels",
]

#: Most points sent per series per update (about 3 px apart on a 400 px figure). Small
#: enough that a 1000-epoch run sends barely more per epoch than a 100-epoch one.
MAX_POINTS = 120
#: Most epoch rows in the gradient-through-time heat map.
MAX_ROWS = 100
#: Most time-step columns in the heat map and the gradient-through-time line.
MAX_COLUMNS = 100
#: Most change markers drawn per panel (the latest ones).
MAX_MARKERS = 20
#: The update-ratio band drawn as "healthy": a rule of thumb around 1e-3, not a law.
HEALTHY_BAND = (1e-4, 1e-2)

#: Colours that read on JupyterLab's light and dark themes alike (Tableau 10).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
_MARKER_COLOUR = "#8a8a8a"
_THRESHOLD_COLOUR = "#d62728"
_BAND_COLOUR = "#2ca02c"

_F = np.float32  # half the bytes of float64, and far more precision than a plot needs


# -- helpers -------------------------------------------------------------------------------
def downsample_indices(n: int, k: int = MAX_POINTS) -> np.ndarray:
    """At most ``k`` indices into ``range(n)``, evenly spread, first and last included."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _positive(a) -> np.ndarray:
    """Values for a LogScale: anything <= 0 or not finite becomes NaN (drawn as a gap)."""
    a = np.asarray(a, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def _decades(*arrays, default=(1e-4, 1.0)) -> tuple[float, float]:
    """(min, max) of the finite positive values, widened to whole decades."""
    vals = [np.asarray(a, dtype=float).ravel() for a in arrays if a is not None and np.size(a)]
    if vals:
        v = np.concatenate(vals)
        v = v[np.isfinite(v) & (v > 0)]
    else:
        v = np.empty(0)
    if v.size == 0:
        return default
    lo = 10.0 ** math.floor(math.log10(float(v.min())))
    hi = 10.0 ** math.ceil(math.log10(float(v.max())))
    if hi <= lo:
        hi = lo * 10.0
    return lo, hi


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
    return X.astype(_F), Y.astype(_F)


def _log_axis(scale, **kw) -> Axis:
    """A vertical axis for a LogScale that labels whole decades only (at most 6 labels).

    Left to itself, bqplot labels every minor tick of a log axis (9e-1, 8e-1, ...), which
    piles up into an unreadable column. The ticks follow the scale's min and max.
    """
    axis = Axis(scale=scale, orientation="vertical", tick_format=".0e", **kw)

    def follow(_=None):
        lo, hi = scale.min, scale.max
        if not (lo and hi and 0 < lo < hi):
            return
        e0 = int(math.floor(math.log10(lo) + 1e-9))
        e1 = int(math.ceil(math.log10(hi) - 1e-9))
        exps = list(range(e0, e1 + 1))
        if len(exps) <= 3:  # a narrow range: 1, 2, 5 in each decade
            vals = [m * 10.0**e for e in exps for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]
        else:
            step = max(1, math.ceil(len(exps) / 6))
            vals = [10.0**e for e in exps[::step]]
        axis.tick_values = np.array(vals)

    scale.observe(follow, names=["min", "max"])
    follow()
    return axis


def _epoch_axis(scale, **kw) -> Axis:
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
        first = math.ceil(lo / step) * step
        axis.tick_values = np.arange(first, hi + 1e-9, step, dtype=float)

    scale.observe(follow, names=["min", "max"])
    follow()
    return axis


def _figure(title: str, marks, axes, width=400, height=260, tooltip="") -> Figure:
    fig = Figure(
        marks=marks,
        axes=axes,
        title=title,
        animation_duration=0,
        fig_margin={"top": 26, "bottom": 34, "left": 58, "right": 14},
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


class _RunRows:
    """Per-epoch rows of the current run, extracted once per record (incrementally).

    ``extract(record, structure)`` turns one EpochRecord into a row; a new run, a new
    History or a new model structure starts over.
    """

    def __init__(self, extract: Callable[[Any, dict], Any]):
        self._extract = extract
        self._key: tuple | None = None
        self._pos = 0
        self.epochs: list[float] = []
        self.rows: list[Any] = []
        self.records: list[Any] = []

    def sync(self, history) -> None:
        structure = getattr(history, "structure", {}) or {}
        run = history.current_run
        key = (id(history), run, tuple(structure.get("layers", ())), tuple(structure.get("gated", ())))
        recs = history.records
        n = len(recs)
        if key != self._key or self._pos > n:
            self._key, self._pos = key, 0
            self.epochs, self.rows, self.records = [], [], []
        for r in recs[self._pos : n]:
            if r.run_id == run:
                self.epochs.append(float(r.epoch))
                self.rows.append(self._extract(r, structure))
                self.records.append(r)
        self._pos = n

    def picked(self, k: int = MAX_POINTS) -> tuple[np.ndarray, list]:
        idx = downsample_indices(len(self.rows), k)
        return np.array([self.epochs[i] for i in idx], dtype=_F), [self.rows[i] for i in idx]


@dataclass(repr=False)
class KeptRun:
    """A finished run pinned for comparison: its label and its EpochRecords."""

    label: str
    records: list
    structure: dict

    def __repr__(self) -> str:
        return f"KeptRun({self.label!r}, {len(self.records)} epochs)"


class _FakeHistory:
    """Just enough History for _RunRows to read a kept run."""

    def __init__(self, kept: KeptRun):
        self.records = kept.records
        self.structure = kept.structure
        self.current_run = kept.records[0].run_id if kept.records else None
        self.version = 0


@dataclass
class _Shown:
    position: float
    label: str


def merge_markers(markers: Sequence, window: float = 1.0) -> list:
    """Change markers as they are best drawn: a run of changes to one setting within
    ``window`` epochs (a slider moved step by step) becomes one marker "lr 0.001 → 0.002"
    at the first change; changes at the same position are joined in one label."""
    from ..history import marker_label

    runs: list[list] = []
    for m in markers:
        last = runs[-1] if runs else None
        if last and last[0].setting == m.setting and float(m.position) - float(last[-1].position) <= window:
            last.append(m)
        else:
            runs.append([m])
    shown: list[_Shown] = []
    for run in runs:
        label = marker_label(run[0].setting, run[0].old, run[-1].new)
        pos = float(run[0].position)
        if shown and abs(shown[-1].position - pos) < 1e-6:
            shown[-1].label += "; " + label
        else:
            shown.append(_Shown(pos, label))
    return shown


class _Markers:
    """Vertical, labelled lines where a setting changed, on one figure's scales."""

    def __init__(self, x_scale, y_scale, labels: bool = True):
        self.lines = Lines(
            x=np.zeros((1, 2), dtype=_F), y=np.ones((1, 2), dtype=_F),
            scales={"x": x_scale, "y": y_scale}, colors=[_MARKER_COLOUR], stroke_width=1,
            line_style="dashed", visible=False, preserve_domain={"x": True, "y": True},
        )
        self.labels = (
            Label(
                x=[0.0], y=[1.0], text=[""], scales={"x": x_scale, "y": y_scale},
                colors=[_MARKER_COLOUR], default_size=10, font_unit="px", rotate_angle=-90,
                align="end", x_offset=-3, visible=False,
            )
            if labels
            else None
        )

    @property
    def marks(self) -> list:
        return [self.lines] + ([self.labels] if self.labels is not None else [])

    def draw(self, markers: Sequence, y_lo: float, y_hi: float) -> None:
        markers = merge_markers(markers)[-MAX_MARKERS:]
        if not markers:
            if self.lines.visible:
                self.lines.visible = False
                if self.labels is not None:
                    self.labels.visible = False
            return
        pos = np.array([float(m.position) for m in markers], dtype=_F)
        with self.lines.hold_sync():
            self.lines.x = np.repeat(pos[:, None], 2, axis=1)
            self.lines.y = np.tile(np.array([y_lo, y_hi], dtype=_F), (len(pos), 1))
            self.lines.visible = True
        if self.labels is not None:
            with self.labels.hold_sync():
                self.labels.x = pos
                self.labels.y = np.full(len(pos), y_hi, dtype=_F)
                self.labels.text = [str(m.label) for m in markers]
                self.labels.visible = True


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
        self.widget = VBox()

    def _finish(self, *children) -> None:
        shown = []
        for child in children:
            shown.append(child)
            help_text = getattr(child, "_lw_help", "")
            if help_text:
                shown.append(_caption(help_text))
        self.widget = VBox(shown, layout=Layout(width="auto"))
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
    """A panel whose x axis is the epoch: change markers and kept-run overlays."""

    def __init__(self) -> None:
        super().__init__()
        self._kept: list[KeptRun] = []
        self._kept_max_epoch = 0.0

    def _x_range(self, rows: _RunRows, markers) -> tuple[float, float]:
        hi = max([1.0, self._kept_max_epoch] + rows.epochs[-1:] + [float(m.position) for m in markers[-1:]])
        return 0.0, float(math.ceil(hi))

    def set_kept(self, kept: Sequence[KeptRun]) -> None:
        """Show ``kept`` runs as faded lines (an empty list clears them)."""
        self._kept = list(kept)
        self._kept_max_epoch = max((float(k.records[-1].epoch) for k in self._kept if k.records), default=0.0)
        self._draw_kept()
        self.refresh()

    def _kept_rows(self, extract) -> list[tuple[np.ndarray, list]]:
        out = []
        for k in self._kept:
            rr = _RunRows(extract)
            rr.sync(_FakeHistory(k))
            out.append(rr.picked())
        return out

    def _draw_kept(self) -> None:  # overridden where there is an overlay
        pass


def _overlay_lines(x_scale, y_scale) -> Lines:
    return Lines(
        x=np.zeros(0, dtype=_F), y=np.zeros(0, dtype=_F), scales={"x": x_scale, "y": y_scale},
        colors=PALETTE, opacities=[0.3], stroke_width=1.5, visible=False,
    )


def _stack_rows(kept_rows: list[tuple[np.ndarray, list]], n_series: int) -> tuple[np.ndarray, np.ndarray]:
    """Kept runs' (x, rows) as one 2-D x and y (NaN-padded), n_series per run."""
    if not kept_rows:
        return np.zeros(0, dtype=_F), np.zeros(0, dtype=_F)
    width = max(len(x) for x, _ in kept_rows)
    xs, ys = [], []
    for x, rows in kept_rows:
        pad = width - len(x)
        arr = np.asarray(rows, dtype=float).reshape(len(x), n_series) if len(x) else np.zeros((0, n_series))
        for j in range(n_series):
            xs.append(np.concatenate([x, np.full(pad, np.nan)]))
            ys.append(np.concatenate([_positive(arr[:, j]), np.full(pad, np.nan)]))
    return np.array(xs, dtype=_F), np.array(ys, dtype=_F)


class LossPanel(TimePanel):
    """Training and validation loss per epoch (log scale)."""

    css_class = "lw-panel-loss"
    TOOLTIP = (
        "Training loss (blue) and validation loss (orange) per epoch, log scale. Flat "
        "from the start: the weights are not updating; rising or gaps: diverging."
    )

    def __init__(self) -> None:
        super().__init__()
        self.x_scale = LinearScale(min=0.0, max=1.0)
        self.y_scale = LogScale(min=1e-4, max=1.0)
        sc = {"x": self.x_scale, "y": self.y_scale}
        self.lines = Lines(
            x=np.zeros(0, dtype=_F), y=np.zeros((2, 0), dtype=_F), scales=sc, colors=PALETTE[:2],
            labels=["loss", "val loss"], display_legend=True, stroke_width=2, marker="circle", marker_size=12,
            visible=False,
        )
        self.overlay = _overlay_lines(self.x_scale, self.y_scale)
        self.overlay.colors = PALETTE[:2]
        self.markers = _Markers(self.x_scale, self.y_scale)
        self._rows = _RunRows(lambda r, s: (r.loss, math.nan if r.val_loss is None else r.val_loss))
        self._kept_xy = (np.zeros(0), np.zeros(0))
        self.figure = _figure(
            "Loss (log)", [self.lines, self.overlay] + self.markers.marks,
            [_epoch_axis(self.x_scale, label="epoch"),
             _log_axis(self.y_scale, label="loss")],
            tooltip=self.TOOLTIP,
        )
        self._finish(self.figure)

    def _draw_kept(self) -> None:
        x, y = _stack_rows(self._kept_rows(self._rows._extract), 2)
        self._kept_xy = (x, y)
        with self.overlay.hold_sync():
            self.overlay.x, self.overlay.y = drawable(x, y) if np.size(y) else (x, y)
            self.overlay.visible = bool(self._kept)

    def _draw(self, history) -> None:
        self._rows.sync(history)
        x, rows = self._rows.picked()
        y = _positive(np.asarray(rows, dtype=float).reshape(len(x), 2).T)
        lo, hi = _decades(y, self._kept_xy[1])
        markers = history.run_markers() if hasattr(history, "run_markers") else []
        x_lo, x_hi = self._x_range(self._rows, markers)
        with self.lines.hold_sync():
            self.lines.x, self.lines.y = drawable(x, y, lo)
            self.lines.marker = "circle" if len(x) < 40 else None
            self.lines.visible = bool(len(x))
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = lo, hi
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = x_lo, x_hi
        self.markers.draw(markers, lo, hi)


_CLIP_LABEL = {
    "clipnorm": "clipnorm {t:g} (each variable's norm)",
    "global_clipnorm": "global_clipnorm {t:g} (all variables together)",
    "clipvalue": "clipvalue {t:g} (element-wise, not a norm)",
}


class GradientPanel(TimePanel):
    """Gradient norm per layer, before (solid) and after (dashed) clipping, the clipping
    threshold as a horizontal line, and the fraction of steps clipped below."""

    css_class = "lw-panel-grad"
    TOOLTIP = (
        "Mean gradient norm per layer over each epoch's steps: solid before clipping, "
        "dashed after. Red dotted: the clipping threshold (for clipvalue it bounds each "
        "element, not the norm). Spikes of 10x or more: exploding; falling towards "
        "1e-6: vanishing."
    )

    def __init__(self) -> None:
        super().__init__()
        self.x_scale = LinearScale(min=0.0, max=1.0)
        self.y_scale = LogScale(min=1e-4, max=1.0)
        sc = {"x": self.x_scale, "y": self.y_scale}
        empty = np.zeros(0, dtype=_F)
        self.pre = Lines(x=empty, y=empty, scales=sc, colors=PALETTE, stroke_width=2, display_legend=True, visible=False)
        self.post = Lines(x=empty, y=empty, scales=sc, colors=PALETTE, stroke_width=1.5, line_style="dashed",
                          visible=False)
        self.threshold = Lines(
            x=empty, y=empty, scales=sc, colors=[_THRESHOLD_COLOUR], stroke_width=2, line_style="dotted",
            visible=False,
        )
        self.threshold_label = Label(
            x=[0.0], y=[1.0], text=[""], scales=sc, colors=[_THRESHOLD_COLOUR], default_size=10,
            font_unit="px", align="start", y_offset=-4, visible=False,
        )
        self.overlay = _overlay_lines(self.x_scale, self.y_scale)
        self.markers = _Markers(self.x_scale, self.y_scale)
        self.frac_y = LinearScale(min=0.0, max=1.0)
        self.fraction = Lines(
            x=empty, y=empty, scales={"x": self.x_scale, "y": self.frac_y}, colors=[_THRESHOLD_COLOUR],
            stroke_width=1.5, fill="bottom", fill_opacities=[0.2], visible=False,
        )
        self.frac_markers = _Markers(self.x_scale, self.frac_y, labels=False)
        self._layers: list[str] = []
        self._rows = _RunRows(self._extract)
        self._kept_xy = (empty, empty)
        self.figure = _figure(
            "Gradient norm per layer (solid: before clip, dashed: after)",
            [self.pre, self.post, self.overlay, self.threshold, self.threshold_label] + self.markers.marks,
            [_epoch_axis(self.x_scale, label="epoch"),
             _log_axis(self.y_scale, label="‖g‖")],
            height=190, tooltip=self.TOOLTIP,
        )
        self.fraction_figure = _figure(
            "Fraction of steps clipped",
            [self.fraction] + self.frac_markers.marks,
            [_epoch_axis(self.x_scale, label=""),
             Axis(scale=self.frac_y, orientation="vertical", tick_format=".0%", num_ticks=3)],
            height=95, tooltip="Share of each epoch's steps where clipping changed the gradient "
            "(any variable). Near 100% for long: the threshold, not the learning rate, sets the step.",
        )
        self.fraction_figure.fig_margin = {"top": 20, "bottom": 20, "left": 58, "right": 14}
        self._finish(self.figure, self.fraction_figure)

    @staticmethod
    def _extract(r, structure) -> tuple:
        layers = structure.get("layers") or []
        pre = r.units.get("grad_pre_mean", {})
        post = r.units.get("grad_post_mean", {})
        s = r.settings or {}
        mode = s.get("clipping", "none")
        thr = float(s.get("clip_threshold", math.nan)) if mode != "none" else math.nan
        return (
            [pre.get(u, math.nan) for u in layers],
            [post.get(u, math.nan) for u in layers],
            thr,
            r.units.get("clip_fraction", {}).get("global", math.nan),
            mode,
        )

    def _draw_kept(self) -> None:
        kept = []
        for x, rows in self._kept_rows(self._extract):
            kept.append((x, [row[0] for row in rows]))
        n = len(kept[0][1][0]) if kept and kept[0][1] else 0
        x, y = _stack_rows(kept, n) if n else (np.zeros(0, dtype=_F), np.zeros(0, dtype=_F))
        self._kept_xy = (x, y)
        with self.overlay.hold_sync():
            self.overlay.x, self.overlay.y = drawable(x, y) if np.size(y) else (x, y)
            self.overlay.visible = bool(n)

    def _draw(self, history) -> None:
        structure = getattr(history, "structure", {}) or {}
        layers = list(structure.get("layers") or [])
        self._rows.sync(history)
        x, rows = self._rows.picked()
        n, k = len(x), len(layers)
        pre = _positive(np.array([r[0] for r in rows], dtype=float).reshape(n, k).T)
        post = _positive(np.array([r[1] for r in rows], dtype=float).reshape(n, k).T)
        thr = np.array([r[2] for r in rows], dtype=float)
        frac = np.array([r[3] for r in rows], dtype=float)
        lo, hi = _decades(pre, post, thr, self._kept_xy[1])
        markers = history.run_markers() if hasattr(history, "run_markers") else []
        x_lo, x_hi = self._x_range(self._rows, markers)
        with self.pre.hold_sync():
            self.pre.x, self.pre.y = drawable(x, pre, lo)
            if layers != self._layers:
                self.pre.labels = layers
            self.pre.visible = bool(n)
        with self.post.hold_sync():
            self.post.x, self.post.y = drawable(x, post, lo)
            self.post.visible = bool(n)
        self._layers = layers
        clipping = bool(n) and math.isfinite(thr[-1])
        with self.threshold.hold_sync():
            if np.isfinite(thr).any():
                self.threshold.x, self.threshold.y = x, thr.astype(_F)
                self.threshold.visible = True
            else:  # hidden, but with drawable data: all-NaN data makes bqplot write d="null"
                self.threshold.x = np.array([x_lo, x_hi], dtype=_F)
                self.threshold.y = np.array([lo, lo], dtype=_F)
                self.threshold.visible = False
        with self.threshold_label.hold_sync():
            if clipping:
                self.threshold_label.x = [float(x[-1])]
                self.threshold_label.y = [float(thr[-1])]
                self.threshold_label.text = [_CLIP_LABEL.get(rows[-1][4], "{t:g}").format(t=thr[-1])]
                self.threshold_label.align = "end"
            self.threshold_label.visible = clipping
        with self.fraction.hold_sync():
            self.fraction.x, self.fraction.y = x, np.nan_to_num(frac).astype(_F)
            self.fraction.visible = bool(n)
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = lo, hi
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = x_lo, x_hi
        self.markers.draw(markers, lo, hi)
        self.frac_markers.draw(markers, 0.0, 1.0)


class UpdateRatioPanel(TimePanel):
    """Weight-update ratio ||ΔW||/||W|| per layer per epoch, with the healthy band."""

    css_class = "lw-panel-update"
    TOOLTIP = (
        "How much each layer's weights moved in an epoch, relative to their size: "
        "‖W_end − W_start‖ / ‖W_end‖. The green band 1e-4..1e-2 is a rule of thumb "
        "around 1e-3 (per step it is often quoted as ~1e-3), not a law. Far below: the "
        "layer is not learning; far above: it is being thrown around."
    )

    def __init__(self) -> None:
        super().__init__()
        self.x_scale = LinearScale(min=0.0, max=1.0)
        self.y_scale = LogScale(min=1e-6, max=1.0)
        sc = {"x": self.x_scale, "y": self.y_scale}
        empty = np.zeros(0, dtype=_F)
        lo, hi = HEALTHY_BAND
        self.band = Lines(
            x=np.array([0.0, 1.0], dtype=_F), y=np.array([[lo, lo], [hi, hi]], dtype=_F), scales=sc,
            fill="between", colors=[_BAND_COLOUR], fill_colors=[_BAND_COLOUR], fill_opacities=[0.12],
            opacities=[0.0, 0.0], preserve_domain={"x": True, "y": True},
        )
        self.band_label = Label(
            x=[0.0], y=[hi], text=["healthy 1e-4..1e-2 (rule of thumb)"], scales=sc, colors=[_BAND_COLOUR],
            default_size=10, font_unit="px", y_offset=-3, x_offset=4,
        )
        self.lines = Lines(x=empty, y=empty, scales=sc, colors=PALETTE, stroke_width=2, display_legend=True,
                           visible=False)
        self.overlay = _overlay_lines(self.x_scale, self.y_scale)
        self.markers = _Markers(self.x_scale, self.y_scale)
        self._layers: list[str] = []
        self._rows = _RunRows(self._extract)
        self._kept_xy = (empty, empty)
        self.figure = _figure(
            "Update ratio ‖ΔW‖/‖W‖ per layer per epoch",
            [self.lines, self.overlay, self.band, self.band_label] + self.markers.marks,
            [_epoch_axis(self.x_scale, label="epoch"),
             _log_axis(self.y_scale, label="‖ΔW‖/‖W‖")],
            tooltip=self.TOOLTIP,
        )
        self._finish(self.figure)

    @staticmethod
    def _extract(r, structure) -> list:
        ratio = r.units.get("update_ratio", {})
        return [ratio.get(u, math.nan) for u in structure.get("layers") or []]

    def _draw_kept(self) -> None:
        kept = self._kept_rows(self._extract)
        n = len(kept[0][1][0]) if kept and kept[0][1] else 0
        x, y = _stack_rows(kept, n) if n else (np.zeros(0, dtype=_F), np.zeros(0, dtype=_F))
        self._kept_xy = (x, y)
        with self.overlay.hold_sync():
            self.overlay.x, self.overlay.y = drawable(x, y) if np.size(y) else (x, y)
            self.overlay.visible = bool(n)

    def _draw(self, history) -> None:
        layers = list((getattr(history, "structure", {}) or {}).get("layers") or [])
        self._rows.sync(history)
        x, rows = self._rows.picked()
        y = _positive(np.array(rows, dtype=float).reshape(len(x), len(layers)).T)
        lo, hi = _decades(y, self._kept_xy[1], np.array(HEALTHY_BAND) * [0.1, 10.0])
        markers = history.run_markers() if hasattr(history, "run_markers") else []
        x_lo, x_hi = self._x_range(self._rows, markers)
        with self.lines.hold_sync():
            self.lines.x, self.lines.y = drawable(x, y, lo)
            if layers != self._layers:
                self.lines.labels = layers
            self.lines.visible = bool(len(x))
        self._layers = layers
        band_x = np.array([x_lo, x_hi], dtype=_F)
        if not np.array_equal(band_x, self.band.x):
            self.band.x = band_x
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = lo, hi
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = x_lo, x_hi
        self.markers.draw(markers, lo, hi)


class GatePanel(Panel):
    """Per gate (i, f, c, o) of each LSTM layer: gradient norm and update ratio of the
    kernel W (input weights) and the recurrent kernel U, for the latest epoch."""

    css_class = "lw-panel-gates"
    TOOLTIP = (
        "Latest epoch, per gate: i input, f forget, c cell candidate, o output (GRU: z, r, "
        "h). Blue: kernel W (from the inputs); orange: recurrent kernel U (from the "
        "previous step). A gate far below the others is the one that stopped learning."
    )

    def __init__(self) -> None:
        super().__init__()
        self.x_scale = OrdinalScale()
        self.grad_scale = LogScale(min=1e-4, max=1.0)
        self.ratio_scale = LogScale(min=1e-6, max=1.0)
        kw = dict(type="grouped", colors=PALETTE[:2], labels=["kernel W", "recurrent U"], padding=0.2)
        self.grad_bars = Bars(
            x=["i"], y=np.full((2, 1), 1e-4, dtype=_F), scales={"x": self.x_scale, "y": self.grad_scale},
            base=1e-4, display_legend=True, **kw,
        )
        self.ratio_bars = Bars(
            x=["i"], y=np.full((2, 1), 1e-6, dtype=_F), scales={"x": self.x_scale, "y": self.ratio_scale},
            base=1e-6, **kw,
        )
        self.figure = _figure(
            "Gradient norm per gate (latest epoch)", [self.grad_bars],
            [Axis(scale=self.x_scale), _log_axis(self.grad_scale, label="‖g‖")],
            height=140, tooltip=self.TOOLTIP,
        )
        self.ratio_figure = _figure(
            "Update ratio per gate (latest epoch)", [self.ratio_bars],
            [Axis(scale=self.x_scale), _log_axis(self.ratio_scale, label="‖ΔW‖/‖W‖")],
            height=140, tooltip=self.TOOLTIP,
        )
        self._finish(self.figure, self.ratio_figure)

    def _draw(self, history) -> None:
        structure = getattr(history, "structure", {}) or {}
        records = history.records
        rec = records[-1] if records else None
        gated = structure.get("gated") or {}
        var_layer = structure.get("var_layer") or {}
        layers = []
        for var in gated:
            lay = var_layer.get(var, var.split("/")[0])
            if lay not in layers:
                layers.append(lay)
        if rec is None or not gated:
            self.figure.title = "Gradient norm per gate: no gated (LSTM/GRU) layer yet"
            return
        labels, grad, ratio = [], [[], []], [[], []]
        for lay in layers:
            kern = {v.rsplit("/", 1)[-1]: v for v in gated if var_layer.get(v, v.split("/")[0]) == lay}
            gates = gated.get(kern.get("kernel") or next(iter(kern.values())), [])
            for g in gates:
                labels.append(g if len(layers) == 1 else f"{lay}:{g}")
                for row, kind in enumerate(("kernel", "recurrent_kernel")):
                    vals = rec.gates.get(kern.get(kind, ""), {}).get(g, {})
                    grad[row].append(vals.get("grad_pre_mean", math.nan))
                    ratio[row].append(vals.get("update_ratio", math.nan))
        g = _positive(grad)
        r = _positive(ratio)
        glo, ghi = _decades(g)
        rlo, rhi = _decades(r, default=(1e-6, 1.0))
        # Bars on a log scale grow from ``base``: put it at the axis floor, and draw a
        # missing or zero value as an empty bar at the floor.
        with self.grad_bars.hold_sync():
            self.grad_bars.x = labels
            self.grad_bars.y = np.nan_to_num(g, nan=glo).astype(_F)
            self.grad_bars.base = glo
        with self.ratio_bars.hold_sync():
            self.ratio_bars.x = labels
            self.ratio_bars.y = np.nan_to_num(r, nan=rlo).astype(_F)
            self.ratio_bars.base = rlo
        with self.grad_scale.hold_sync():
            self.grad_scale.min, self.grad_scale.max = glo, ghi
        with self.ratio_scale.hold_sync():
            self.ratio_scale.min, self.ratio_scale.max = rlo, rhi
        title = f"Gradient norm per gate, epoch {rec.epoch}"
        if self.figure.title != title:
            self.figure.title = title
            self.ratio_figure.title = f"Update ratio per gate, epoch {rec.epoch}"


class TimeGradientPanel(Panel):
    """Gradient through time: ||∂L/∂x_t|| against t for the latest epoch, and a heat map
    of epoch x t, each epoch divided by its own maximum (log colour), so a gradient that
    vanishes towards early time steps shows as a dark band on the left."""

    css_class = "lw-panel-time"
    TOOLTIP = (
        "How far back in the sequence the loss still reaches: ‖∂L/∂x_t‖ for each time "
        "step t on a fixed probe batch. Falling by orders of magnitude towards t = 0: "
        "vanishing gradients; the model cannot learn long-range dependencies."
    )

    def __init__(self) -> None:
        super().__init__()
        self.t_scale = LinearScale(min=0.0, max=1.0)
        self.g_scale = LogScale(min=1e-6, max=1.0)
        self.line = Lines(
            x=np.zeros(0, dtype=_F), y=np.zeros(0, dtype=_F), scales={"x": self.t_scale, "y": self.g_scale},
            colors=[PALETTE[0]], stroke_width=2, visible=False,
        )
        self.e_scale = LinearScale()
        self.c_scale = ColorScale(min=-6.0, max=0.0, scheme="viridis")
        self.heatmap = HeatMap(
            x=np.arange(2, dtype=_F), y=np.arange(2, dtype=_F), color=np.zeros((2, 2), dtype=_F),
            scales={"x": self.t_scale, "y": self.e_scale, "color": self.c_scale}, visible=False,
        )
        self.figure = _figure(
            "‖∂L/∂x_t‖ over time steps (latest epoch)", [self.line],
            [Axis(scale=self.t_scale, label="time step t", tick_format="d"),
             _log_axis(self.g_scale, label="‖∂L/∂x_t‖")],
            height=140, tooltip=self.TOOLTIP,
        )
        self.heat_figure = _figure(
            "Epoch × t, each epoch ÷ its max (log10)", [self.heatmap],
            [Axis(scale=self.t_scale, label="time step t", tick_format="d"),
             Axis(scale=self.e_scale, orientation="vertical", label="epoch", tick_format="d", num_ticks=4),
             ColorAxis(scale=self.c_scale, orientation="vertical", side="right", num_ticks=4, tick_format=".0f")],
            height=170, tooltip=self.TOOLTIP,
        )
        self.heat_figure.fig_margin = {"top": 26, "bottom": 34, "left": 58, "right": 50}
        self._rows = _RunRows(lambda r, s: r.grad_through_time)
        self._finish(self.figure, self.heat_figure)

    def _draw(self, history) -> None:
        self._rows.sync(history)
        if not self._rows.rows or not len(self._rows.rows[-1]):
            return
        last = np.asarray(self._rows.rows[-1], dtype=float)
        T = len(last)
        cols = downsample_indices(T, MAX_COLUMNS)
        t = cols.astype(_F)
        y = _positive(last[cols])
        lo, hi = _decades(y, default=(1e-6, 1.0))
        with self.line.hold_sync():
            self.line.x, self.line.y = drawable(t, y, lo)
            self.line.visible = True
        with self.g_scale.hold_sync():
            self.g_scale.min, self.g_scale.max = lo, hi
        if self.t_scale.max != float(T - 1):
            with self.t_scale.hold_sync():
                self.t_scale.min, self.t_scale.max = 0.0, float(max(T - 1, 1))
        epochs, rows = self._rows.picked(MAX_ROWS)
        rows = [r for r in rows if len(r) == T]
        if len(rows) < 2:
            return  # a heat map needs two rows
        m = np.asarray(rows, dtype=float)[:, cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = m / np.nanmax(np.where(np.isfinite(m), m, np.nan), axis=1, keepdims=True)
            c = np.log10(np.where(np.isfinite(rel) & (rel > 0), rel, np.nan))
        c = np.clip(c, self.c_scale.min, 0.0)
        with self.heatmap.hold_sync():
            self.heatmap.x = t
            self.heatmap.y = epochs[-len(rows):]
            self.heatmap.color = c.astype(_F)
            self.heatmap.visible = True


def make_panels() -> dict[str, Panel]:
    """The plot panels every view shows (the Lab and watch()'s monitor), by key."""
    return {
        "loss": LossPanel(),
        "grad": GradientPanel(),
        "update": UpdateRatioPanel(),
        "gates": GatePanel(),
        "time": TimeGradientPanel(),
    }


# -- non-plot views ------------------------------------------------------------------------
_SEVERITY_ORDER = {"problem": 0, "warning": 1, "info": 2}
_SEVERITY_COLOUR = {"problem": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}


def _esc(x: Any) -> str:
    return html.escape(str(x))


class DiagnosisPanel(Panel):
    """The findings of ``diagnose(history, data)``, most severe first, each with its
    evidence and an Apply button for its patch.

    Args:
        data: The SequenceData passed on to ``diagnose``.
        on_apply: Called with a Finding when its Apply button is clicked.
        diagnose: The diagnosis function. Defaults to ``lstm_widgets.diagnosis.diagnose``.
    """

    css_class = "lw-diagnosis"

    def __init__(self, data=None, on_apply: Callable[[Any], Any] | None = None, diagnose=None) -> None:
        super().__init__()
        self.data = data
        self.on_apply = on_apply
        self._diagnose = diagnose
        self.findings: list = []
        self.available = True
        self.message = ""
        self.header = HTML(
            "<b>Diagnosis</b> <span style='color: var(--jp-ui-font-color2)'>— waiting for the first epoch</span>"
        )
        self.header.add_class("lw-diagnosis-header")
        self._rows: list[tuple[HTML, Button, HBox]] = []
        self.list = VBox()
        self._finish(self.header, self.list)
        self.widget.layout = Layout(width="400px", max_height="400px", overflow="auto", padding="4px")

    def _get_diagnose(self):
        if self._diagnose is None:
            from ..diagnosis import diagnose

            self._diagnose = diagnose
        return self._diagnose

    def _draw(self, history) -> None:
        if not len(history.records):
            return
        try:
            findings = list(self._get_diagnose()(history, self.data))
        except NotImplementedError:
            self.available = False
            self.findings = []
            self._show_header("diagnosis not available (the diagnosis module is not implemented yet)")
            self._show([])
            return
        except Exception as exc:  # a diagnosis bug must not stop the panels or training
            self.available = False
            self.findings = []
            self._show_header(f"diagnosis failed: {type(exc).__name__}: {exc}")
            self._show([])
            return
        self.available = True
        findings.sort(key=lambda f: _SEVERITY_ORDER.get(getattr(f, "severity", "info"), 3))
        self.findings = findings
        n_bad = sum(1 for f in findings if f.severity in ("problem", "warning"))
        self._show_header(f"{len(findings)} finding(s), {n_bad} to act on" if findings else "no findings")
        self._show(findings)

    def _show_header(self, text: str) -> None:
        self.message = text
        value = f"<b>Diagnosis</b> <span style='color: var(--jp-ui-font-color2)'>— {_esc(text)}</span>"
        if self.header.value != value:
            self.header.value = value

    def _row(self, i: int) -> tuple[HTML, Button, HBox]:
        while len(self._rows) <= i:
            text = HTML(layout=Layout(width="310px"))
            text.add_class("lw-finding")
            button = Button(description="Apply", layout=Layout(width="70px"), tooltip="Apply this fix to the trainer")
            button.add_class("lw-apply")
            j = len(self._rows)
            button.on_click(lambda _b, j=j: self._apply(j))
            box = HBox([text, button], layout=Layout(align_items="flex-start"))
            self._rows.append((text, button, box))
        return self._rows[i]

    def _apply(self, j: int) -> None:
        if j < len(self.findings) and self.on_apply is not None:
            self.on_apply(self.findings[j])

    def _show(self, findings: list) -> None:
        boxes = []
        for i, f in enumerate(findings):
            text, button, box = self._row(i)
            colour = _SEVERITY_COLOUR.get(f.severity, "var(--jp-ui-font-color2)")
            evidence = "".join(f"<li>{_esc(e)}</li>" for e in (f.evidence or []))
            fix = f"<div><i>Fix:</i> {_esc(f.fix)}</div>" if f.fix else ""
            value = (
                f"<div class='lw-finding-{_esc(f.severity)}' style='color: var(--jp-ui-font-color1)'>"
                f"<span style='color:{colour}; font-weight:bold'>{_esc(f.severity)}</span> "
                f"<b>{_esc(f.title)}</b><div>{_esc(f.explanation)}</div>"
                f"<ul style='margin:2px 0 2px 16px; padding:0'>{evidence}</ul>{fix}</div>"
            )
            if text.value != value:
                text.value = value
            show = bool(f.patch)
            if button.layout.visibility != ("visible" if show else "hidden"):
                button.layout.visibility = "visible" if show else "hidden"
            button.tooltip = f"Apply: {', '.join(f'{k}={v!r}' for k, v in (f.patch or {}).items())}"
            boxes.append(box)
        if [id(b) for b in self.list.children] != [id(b) for b in boxes]:
            self.list.children = boxes


class CodeView:
    """The Keras 3 + scikit-learn code for the settings in force, in an HTML <pre>."""

    def __init__(self) -> None:
        self.widget = HTML(layout=Layout(width="auto"))
        self.widget.add_class("lw-code")
        self.code = ""

    def show(self, code: str, note: str = "") -> None:
        """Show ``code`` (and a one-line ``note`` above it)."""
        self.code = code
        head = f"<div style='color: var(--jp-ui-font-color2)'>{_esc(note)}</div>" if note else ""
        value = (
            "<details open><summary style='color: var(--jp-ui-font-color1); cursor: pointer'>"
            "<b>Keras code for the settings in force</b></summary>"
            f"{head}<pre style='color: var(--jp-content-font-color1); background: var(--jp-layout-color2); "
            "border: 1px solid var(--jp-border-color2); padding: 6px; max-height: 260px; overflow: auto; "
            f"font-size: 11px; line-height: 1.3'>{_esc(code)}</pre></details>"
        )
        if self.widget.value != value:
            self.widget.value = value
