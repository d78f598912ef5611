"""TimeGradientPanel: the gradient through time, as a line and an epoch × t heat map."""

from __future__ import annotations

import math

import numpy as np
from bqplot import Axis, ColorAxis, ColorScale, HeatMap, LinearScale, Lines, LogScale

from .base import MAX_COLUMNS, MAX_ROWS, Panel, RunRows
from .plot import F32, PALETTE, decades, drawable, figure, log_axis, positive


def _first_step_share(g) -> list[float]:
    g = np.asarray(g, dtype=float)
    if not g.size or not np.isfinite(g).all() or g.max() <= 0:
        return [math.nan]
    return [math.log10(max(g[0] / g.max(), 1e-30))]


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
            x=np.zeros(0, dtype=F32), y=np.zeros(0, dtype=F32), scales={"x": self.t_scale, "y": self.g_scale},
            colors=[PALETTE[0]], stroke_width=2, visible=False,
        )
        # kept runs (Keep run): each one's last epoch, dashed, e.g. an LSTM against a SimpleRNN
        self.kept_lines = Lines(
            x=np.zeros((1, 2), dtype=F32), y=np.ones((1, 2), dtype=F32), scales={"x": self.t_scale, "y": self.g_scale},
            colors=PALETTE[1:], stroke_width=1.5, line_style="dashed", visible=False,
        )
        self._kept: list = []
        self.e_scale = LinearScale()
        self.c_scale = ColorScale(min=-6.0, max=0.0, scheme="viridis")
        self.heatmap = HeatMap(
            x=np.arange(2, dtype=F32), y=np.arange(2, dtype=F32), color=np.zeros((2, 2), dtype=F32),
            scales={"x": self.t_scale, "y": self.e_scale, "color": self.c_scale}, visible=False,
        )
        self.figure = figure(
            "‖∂L/∂x_t‖ over time steps (latest epoch)", [self.kept_lines, self.line],
            [Axis(scale=self.t_scale, label="time step t", tick_format="d"),
             log_axis(self.g_scale, label="‖∂L/∂x_t‖")],
            height=140, tooltip=self.TOOLTIP,
        )
        self.figure.legend_location = "bottom-right"  # a vanishing gradient leaves it empty
        self.heat_figure = figure(
            "Epoch × t, each epoch ÷ its max (log10)", [self.heatmap],
            [Axis(scale=self.t_scale, label="time step t", tick_format="d"),
             Axis(scale=self.e_scale, orientation="vertical", label="epoch", tick_format="d", num_ticks=4),
             ColorAxis(scale=self.c_scale, orientation="vertical", side="right", num_ticks=4, tick_format=".0f")],
            height=170, tooltip=self.TOOLTIP,
        )
        self.heat_figure.fig_margin = {"top": 26, "bottom": 34, "left": 58, "right": 50}
        # Heat-map rows are downsampled keeping the epochs where the first step's share
        # of the gradient jumps (a spike in the reach).
        self._rows = RunRows(lambda r, s: r.grad_through_time, _first_step_share)
        self._finish(self.figure, self.heat_figure)

    def set_kept(self, kept) -> None:
        """Draw each kept run's last gradient through time, dashed, beside this run's: how
        far back each reaches (an LSTM against a SimpleRNN). An empty list clears them."""
        self._kept = list(kept)
        self.refresh()

    def _kept_rows(self) -> list[tuple[str, np.ndarray]]:
        out = []
        for k in self._kept:
            last = next((r for r in reversed(k.records) if len(r.grad_through_time)), None)
            if last is not None:
                cells = sorted({c for c in k.structure.layer_cell.values() if c}) if k.structure else []
                out.append((f"{k.label}" + (f" ({', '.join(cells)})" if cells else ""),
                            np.asarray(last.grad_through_time, dtype=float)))
        return out

    def _draw_kept_lines(self, kept, cols, lo) -> None:
        if not kept:
            if self.kept_lines.visible:
                self.kept_lines.visible = False
                self.line.display_legend = self.kept_lines.display_legend = False
            return
        t = np.asarray(cols, dtype=F32)
        X, Y = drawable(np.array([t] * len(kept)), np.array([positive(g[cols]) for _, g in kept]), lo)
        with self.kept_lines.hold_sync():
            self.kept_lines.x, self.kept_lines.y = X, Y
            self.kept_lines.labels = [label for label, _ in kept]
            self.kept_lines.visible = True
            self.kept_lines.display_legend = True
        self.line.labels = ["this run"]
        self.line.display_legend = True

    def _draw(self, history) -> None:
        self._rows.sync(history)
        if not self._rows.rows or not len(self._rows.rows[-1]):
            return
        last = np.asarray(self._rows.rows[-1], dtype=float)
        T = len(last)
        cols = np.unique(np.linspace(0, T - 1, min(T, MAX_COLUMNS)).round().astype(int))
        t = cols.astype(F32)
        y = positive(last[cols])
        kept = [k for k in self._kept_rows() if len(k[1]) == T]
        lo, hi = decades(y, *[positive(k[1][cols]) for k in kept], default=(1e-6, 1.0))
        self._draw_kept_lines(kept, cols, lo)
        # Exactly 0 cannot sit on a log axis: say how many steps got none (with inputs in
        # the thousands and saturated gates, all of them), and draw them at the floor.
        zeros = int(np.sum(last == 0))
        title = "‖∂L/∂x_t‖ over time steps (latest epoch)"
        if zeros:
            title = f"‖∂L/∂x_t‖, latest epoch: exactly 0 at {zeros} of {T} steps (at the floor)"
        if self.figure.title != title:
            self.figure.title = title
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
        # an exact 0 (or a row with nothing above 0) is below any share of the max: the floor
        c = np.clip(np.nan_to_num(c, nan=self.c_scale.min), self.c_scale.min, 0.0)
        with self.heatmap.hold_sync():
            self.heatmap.x = t
            self.heatmap.y = epochs[-len(rows):]
            self.heatmap.color = c.astype(F32)
            self.heatmap.visible = True
