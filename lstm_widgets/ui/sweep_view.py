"""SweepView: a sweep as it goes, in a notebook.

- progress: runs done / running / queued / failed, time left, and where they run;
- every run's validation-loss curve on one figure, coloured by a chosen setting;
- a heat map of the best or final validation loss over two chosen settings, one small
  map per value of a third;
- the table of runs with their diagnosis, sorted by a chosen column;
- a button that opens a run's settings in a Lab.

The view reads the Sweep and its Histories only. It redraws from the sweep's thread as
records arrive (at most every REDRAW_S seconds) and from the kernel's thread when a
control changes, one writer at a time (a lock).
"""

from __future__ import annotations

import html
import math
import threading
import time

import numpy as np
from bqplot import LinearScale, Lines, LogScale
from ipywidgets import HTML, Button, Dropdown, HBox, IntProgress, Layout, Output, ToggleButton, VBox

from ..sweep.summary import heat_map_cells, value_order as _key
from .panels.plot import PALETTE, decades, drawable, emptiest_corner, epoch_axis, figure, log_axis

__all__ = ["SweepView", "stability_figure", "REDRAW_S", "MAX_TABLE_ROWS"]

#: Least time between two redraws driven by the sweep's records.
REDRAW_S = 0.5
#: Rows of the table shown at once (sorted; the rest are in ``sweep.results``).
MAX_TABLE_ROWS = 40
_METRICS = {"best_val_loss": "best validation loss", "final_val_loss": "final validation loss"}
_NONE = "(none)"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _colour(t: float) -> str:
    """A viridis colour for t in [0, 1] (0 = the lowest loss)."""
    from matplotlib import colormaps

    r, g, b, _ = colormaps["viridis"](float(np.clip(t, 0.0, 1.0)))
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


class SweepView:
    """The notebook display of a :class:`lstm_widgets.sweep.Sweep` (shown when the sweep
    is the last value of a cell, or with ``display(SweepView(sweep).widget)``).

    Stable CSS classes: ``lw-sweep`` (root), ``lw-sweep-status``, ``lw-sweep-where``,
    ``lw-sweep-curves``, ``lw-sweep-heatmap``, ``lw-sweep-table``, ``lw-sweep-open``, and
    the controls ``lw-sweep-colour``, ``-metric``, ``-x``, ``-y``, ``-facet``, ``-sort``,
    ``-pick``.
    """

    def __init__(self, sweep) -> None:
        self.sweep = sweep
        self._lock = threading.RLock()
        self._last = 0.0
        self.labs: list = []  # the Labs opened from the table
        varying = list(sweep.varying) or ["seed"]
        self.status = HTML()
        self.status.add_class("lw-sweep-status")
        self.bar = IntProgress(value=0, min=0, max=max(1, len(sweep)), layout=Layout(width="300px"))
        self.colour_by = Dropdown(options=varying, value=varying[0], description="colour by",
                                  layout=Layout(width="240px"))
        metric_opts = [(v, k) for k, v in _METRICS.items()]
        self.metric = Dropdown(options=metric_opts, value="best_val_loss", description="loss",
                               layout=Layout(width="280px"))
        self.hx = Dropdown(options=varying, value=varying[0], description="across", layout=Layout(width="240px"))
        self.hy = Dropdown(options=varying, value=varying[1] if len(varying) > 1 else varying[0], description="down",
                           layout=Layout(width="240px"))
        self.facet = Dropdown(options=[_NONE] + varying, value=varying[2] if len(varying) > 2 else _NONE,
                              description="one map per", layout=Layout(width="260px"))
        cols = ["run"] + varying + ["status", "best_val_loss", "final_val_loss", "step_ratio", "finding"]
        self.sort_by = Dropdown(options=cols, value="best_val_loss", description="sort by",
                                layout=Layout(width="240px"))
        self.descending = ToggleButton(value=False, description="descending", layout=Layout(width="110px"))
        self.pick = Dropdown(options=[(f"run {r.index}", r.index) for r in sweep.runs], description="open",
                             layout=Layout(width="200px"))
        self.open_button = Button(description="Open in a Lab", tooltip="A Lab with this run's settings and data",
                                  layout=Layout(width="140px"))
        self.open_button.add_class("lw-sweep-open")
        for w, cls in ((self.colour_by, "lw-sweep-colour"), (self.metric, "lw-sweep-metric"), (self.hx, "lw-sweep-x"),
                       (self.hy, "lw-sweep-y"), (self.facet, "lw-sweep-facet"), (self.sort_by, "lw-sweep-sort"),
                       (self.pick, "lw-sweep-pick")):
            w.add_class(cls)
        self.lab_out = Output()

        self.sx, self.sy = LinearScale(min=0.0, max=1.0), LogScale(min=1e-3, max=1.0)
        self.curves = Lines(x=np.zeros((1, 2), np.float32), y=np.full((1, 2), 1e-3, np.float32),
                            scales={"x": self.sx, "y": self.sy}, colors=[PALETTE[0]], stroke_width=1.5)
        self.fig = figure("validation loss of every run", [self.curves],
                          [epoch_axis(self.sx, label="epoch"), log_axis(self.sy)], width=460, height=320)
        self.fig.add_class("lw-sweep-curves")
        self.legend = HTML()
        self.heat = HTML()
        self.heat.add_class("lw-sweep-heatmap")
        self.table = HTML()
        self.table.add_class("lw-sweep-table")
        for w in (self.colour_by, self.metric, self.hx, self.hy, self.facet, self.sort_by, self.descending):
            w.observe(lambda _change: self.refresh(), names="value")
        self.open_button.on_click(lambda _b: self.open_lab(self.pick.value))
        where = HTML()
        where.add_class("lw-sweep-where")
        self._where = where
        self.widget = VBox([
            HBox([self.bar, self.status]), where,
            HBox([VBox([self.colour_by, self.fig, self.legend], layout=Layout(flex="0 0 auto", width="480px")),
                  VBox([HBox([self.metric]), HBox([self.hx, self.hy]), self.facet, self.heat],
                       layout=Layout(flex="1 1 auto", min_width="360px"))],
                 layout=Layout(flex_flow="row wrap", align_items="flex-start")),
            HBox([self.sort_by, self.descending]), self.table,
            HBox([self.pick, self.open_button]), self.lab_out,
        ], layout=Layout(width="100%"))
        self.widget.add_class("lw-sweep")
        sweep.on_update(self._on_update)
        self.refresh()

    # -- updates -----------------------------------------------------------------------------
    def _on_update(self) -> None:
        ended = self.sweep.ended
        if ended or time.monotonic() - self._last >= REDRAW_S:
            self.refresh()

    def refresh(self) -> None:
        """Redraw everything from the sweep (one writer at a time)."""
        with self._lock:
            self._last = time.monotonic()
            s = self.sweep
            self.bar.value = s.done
            self.status.value = f"<b>{html.escape(s.progress_text())}</b>"
            err = f" <span style='color:#d62728'>{html.escape(str(s.error))}</span>" if s.error else ""
            self._where.value = f"<span style='font-size:12px'>{html.escape(s.where or 'Starting...')}</span>{err}"
            df = s.results
            self._draw_curves()
            self._draw_heat(df)
            self._draw_table(df)

    def _colours(self) -> tuple[list[str], dict]:
        key = self.colour_by.value
        values = sorted({getattr(r.config, key) for r in self.sweep.runs}, key=_key)
        of = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(values)}
        return [of[getattr(r.config, key)] for r in self.sweep.runs], of

    def _draw_curves(self) -> None:
        runs = self.sweep.runs
        series = [r.val_losses for r in runs]
        n = max((len(v) for v in series), default=0)
        Y = np.full((len(runs), max(n, 1)), np.nan)
        for i, v in enumerate(series):
            Y[i, : len(v)] = v
        Y[~np.isfinite(Y) | (Y <= 0)] = np.nan
        X = np.arange(1, max(n, 1) + 1, dtype=float)
        # The scale follows the runs that did not diverge: a diverging run's 1e30 would
        # flatten every other curve into one line. It leaves through the top edge instead.
        calm = [i for i, r in enumerate(runs) if r.status not in ("diverged", "failed")]
        lo, hi = decades(Y[calm] if calm else Y, default=(1e-3, 1.0))
        with np.errstate(invalid="ignore"):
            Y = np.where(Y > hi, hi, Y)
        colours, of = self._colours()
        X2, Y2 = drawable(X, Y, lo)
        with self.curves.hold_sync():
            self.curves.x, self.curves.y, self.curves.colors = X2, Y2, colours
        self.sx.min, self.sx.max = 1.0, float(max(n, 2))
        self.sy.min, self.sy.max = lo, hi
        key = self.colour_by.value
        chips = " ".join(
            f"<span style='white-space:nowrap'><span style='display:inline-block;width:12px;height:3px;"
            f"background:{c};vertical-align:middle'></span> {html.escape(_fmt(v))}</span>" for v, c in of.items())
        off = sum(1 for r in runs if r.status == "diverged")
        note = f" · {off} diverged run{'s' if off > 1 else ''} leave{'s' if off == 1 else ''} through the top" if off else ""
        self.legend.value = f"<div style='font-size:12px'>{html.escape(key)}: {chips}{note}</div>"

    def _draw_heat(self, df) -> None:
        metric, x, y, facet = self.metric.value, self.hx.value, self.hy.value, self.facet.value
        if df.empty:
            self.heat.value = ""
            return
        shown = df[~df["status"].isin(["diverged", "failed"])]  # the values the cells can show
        finite = shown[metric].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if finite.size:
            lo, hi = math.log10(finite.min()), math.log10(finite.max())
        else:
            lo = hi = 0.0
        groups = [(None, df)] if facet == _NONE else sorted(df.groupby(facet), key=lambda kv: _key(kv[0]))
        maps = []
        for fv, g in groups:
            xs, ys, cells = heat_map_cells(g, x, y, metric)
            head = "".join(f"<th style='padding:2px 6px'>{html.escape(_fmt(v))}</th>" for v in xs)
            rows = []
            for yv in ys:
                tds = []
                for xv in xs:
                    value, note = cells.get((xv, yv), (math.nan, ""))
                    if math.isfinite(value) and value > 0:
                        t = 0.0 if hi == lo else (math.log10(value) - lo) / (hi - lo)
                        bg, fg, text = _colour(t), "#fff" if t < 0.6 else "#000", f"{value:.3g}"
                    else:
                        bg, fg, text = "#eeeeee", "#d62728" if note else "#888", note or "..."
                    tds.append(f"<td style='background:{bg};color:{fg};padding:3px 6px;text-align:right'>{text}</td>")
                rows.append(f"<tr><th style='padding:2px 6px;text-align:right'>{html.escape(_fmt(yv))}</th>"
                            + "".join(tds) + "</tr>")
            caption = "" if fv is None else f"<caption style='font-size:12px'>{html.escape(facet)} = {html.escape(_fmt(fv))}</caption>"
            maps.append(
                f"<table style='border-collapse:collapse;font-size:12px;margin:4px 12px 4px 0'>{caption}"
                f"<tr><th style='font-weight:normal;color:#666'>{html.escape(y)} \\ {html.escape(x)}</th>{head}</tr>"
                + "".join(rows) + "</table>")
        note = (f"<div style='font-size:11px;color:#666'>{html.escape(_METRICS[metric])} (the lowest over the runs "
                f"in a cell), darker = lower; log colour scale from {10 ** lo:.3g} to {10 ** hi:.3g}</div>")
        self.heat.value = "<div style='display:flex;flex-wrap:wrap'>" + "".join(maps) + "</div>" + note

    def _draw_table(self, df) -> None:
        if df.empty:
            self.table.value = ""
            return
        cols = list(self.sort_by.options)
        show = df.sort_values(self.sort_by.value, ascending=not self.descending.value, na_position="last",
                              key=lambda c: c.map(_key) if c.dtype == object else c)
        head = "".join(f"<th style='padding:2px 8px;text-align:left'>{html.escape(c)}</th>" for c in cols)
        body = []
        for _, row in show.head(MAX_TABLE_ROWS).iterrows():
            tds = []
            for c in cols:
                v = row[c]
                if c == "finding":
                    v = row["finding_title"] or ""
                    if row["error"]:
                        v = row["error"]
                text = "" if (isinstance(v, float) and math.isnan(v)) else _fmt(v)
                tds.append(f"<td style='padding:2px 8px'>{html.escape(text)}</td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        more = (f"<div style='font-size:11px;color:#666'>{len(df) - MAX_TABLE_ROWS} more runs in sweep.results</div>"
                if len(df) > MAX_TABLE_ROWS else "")
        self.table.value = (f"<table style='border-collapse:collapse;font-size:12px'><tr>{head}</tr>"
                            + "".join(body) + "</table>" + more)

    # -- actions -------------------------------------------------------------------------------
    def open_lab(self, index: int):
        """A Lab with run ``index``'s settings and the sweep's data, shown below the table."""
        from .lab import Lab

        run = self.sweep.runs[int(index)]
        lab = Lab(data=self.sweep.data, **run.config.to_dict())
        self.labs.append(lab)
        self.lab_out.clear_output()
        with self.lab_out:
            from IPython.display import display

            display(lab.widget if hasattr(lab, "widget") else lab)
        return lab


def stability_figure(results, by: str = "optimizer", title: str | None = None):
    """A stability map: each group's (optimizer's) best validation loss as a share of
    always predicting the mean, against the learning rate, both on log scales, with the
    line under which a run "trains" (:data:`lstm_widgets.sweep.summary.TRAINS_SHARE`).
    A learning rate whose runs all diverged or failed is drawn as a gap.

    Args:
        results: ``sweep.results`` of a sweep over learning_rate (and ``by``).
        by: The setting with one line each. Defaults to "optimizer".
        title: The figure title.

    Returns:
        A bqplot Figure (``figure.marks[0].y``: one row per group, NaN where nothing trained
        to a finite loss).
    """
    from bqplot import Axis, Figure

    from ..sweep.summary import TRAINS_SHARE, stability

    ranges = stability(results, by=by)
    rates = sorted({lr for r in ranges.values() for lr in r.tried})
    Y = np.array([[r.shares.get(lr, math.nan) for lr in rates] for r in ranges.values()], dtype=float)
    Y[~np.isfinite(Y) | (Y <= 0)] = np.nan
    lo, hi = decades(Y, [TRAINS_SHARE], default=(1e-2, 10.0))
    sx, sy = LogScale(min=rates[0] / 1.5, max=rates[-1] * 1.5), LogScale(min=lo, max=hi)
    X2, Y2 = drawable(np.asarray(rates, dtype=float), Y, lo)
    labels = [str(k) + (" (gap: diverged)" if np.isnan(row).any() else "") for k, row in zip(ranges, Y)]
    lines = Lines(x=X2, y=Y2, scales={"x": sx, "y": sy}, colors=[PALETTE[i % len(PALETTE)] for i in range(len(labels))],
                  labels=labels, display_legend=True, marker="circle", marker_size=24, stroke_width=2)
    band = Lines(x=np.array([rates[0] / 1.5, rates[-1] * 1.5], dtype=np.float32),
                 y=np.array([TRAINS_SHARE, TRAINS_SHARE], dtype=np.float32), scales={"x": sx, "y": sy},
                 colors=["#8a8a8a"], line_style="dashed", stroke_width=1.5,
                 labels=[f"trains below {TRAINS_SHARE:g}"], display_legend=True)
    log_x = np.log10(np.broadcast_to(np.asarray(rates, dtype=float), Y.shape))
    corner = emptiest_corner(log_x, Y, (math.log10(rates[0] / 1.5), math.log10(rates[-1] * 1.5)), (lo, hi), True)
    fig = Figure(
        marks=[lines, band],
        axes=[Axis(scale=sx, label="learning rate", tick_format=".0e", tick_values=np.asarray(rates)),
              log_axis(sy, label="best val loss / always predicting the mean", label_offset="50px")],
        title=title or f"stability map: below the dashed line ({TRAINS_SHARE:g}) a run trains",
        legend_location=corner, animation_duration=0,
        fig_margin={"top": 40, "bottom": 45, "left": 70, "right": 20},
    )
    fig.layout.width, fig.layout.max_width, fig.layout.height = "100%", "720px", "360px"
    return fig
