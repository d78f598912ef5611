"""What every panel shares: the Panel protocol (``update(history)``) and the time-panel
base that owns change markers, kept-run overlays, scales and downsampling once (the
bqplot plumbing they draw with is in :mod:`.plot`).

Every panel is a small object with one ``update(history)`` method and a ``widget`` to
display. ``update`` skips the redraw when ``history.version`` has not changed, batches
each mark's new data in ``hold_sync()`` (one message per mark), and downsamples long
runs keeping their spikes (:func:`lstm_widgets.downsample.keep_indices`), so the bytes
sent per epoch stay bounded however many epochs have run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from bqplot import LinearScale, Lines, LogScale
from ipywidgets import Layout, VBox

from ...downsample import MAX_POINTS, keep_indices
from ...history import ModelStructure
from .plot import F32, PALETTE, Markers, caption, decades, dense_points, drawable, emptiest_corner, positive

__all__ = [
    "MAX_POINTS",
    "MAX_ROWS",
    "MAX_COLUMNS",
    "KEPT_REACH",
    "KeptRun",
    "Panel",
    "TimePanel",
    "RunRows",
]

#: Most epoch rows in the gradient-through-time heat map.
MAX_ROWS = 100
#: Most time-step columns in the heat map and the gradient-through-time line.
MAX_COLUMNS = 100
#: How far (a factor, each way) kept runs may widen a time panel's y range beyond the
#: current run's own: enough to compare, not so much that a kept run that diverged
#: flattens the run in front into a line.
KEPT_REACH = 1e3


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
                shown.append(caption(help_text))
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
