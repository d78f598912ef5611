"""GradientPanel: gradient norm per layer before and after clipping, the threshold, and
the share of steps clipped."""

from __future__ import annotations

import math

import numpy as np
from bqplot import Axis, Label, LinearScale, Lines

from .base import TimePanel
from .plot import F32, PALETTE, THRESHOLD_COLOUR, Markers, drawable, epoch_axis, figure, log_axis, positive

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
        sc = {"x": self.x_scale, "y": self.y_scale}
        empty = np.zeros(0, dtype=F32)
        self.pre = Lines(x=empty, y=empty, scales=sc, colors=PALETTE, stroke_width=2, display_legend=True, visible=False)
        self.post = Lines(x=empty, y=empty, scales=sc, colors=PALETTE, stroke_width=1.5, line_style="dashed",
                          visible=False)
        self.threshold = Lines(
            x=empty, y=empty, scales=sc, colors=[THRESHOLD_COLOUR], stroke_width=2, line_style="dotted",
            visible=False,
        )
        self.threshold_label = Label(
            x=[0.0], y=[1.0], text=[""], scales=sc, colors=[THRESHOLD_COLOUR], default_size=10,
            font_unit="px", align="start", y_offset=-4, visible=False,
        )
        self.frac_y = LinearScale(min=0.0, max=1.0, allow_padding=False)  # no -4% and 104% ticks
        self.fraction = Lines(
            x=empty, y=empty, scales={"x": self.x_scale, "y": self.frac_y}, colors=[THRESHOLD_COLOUR],
            stroke_width=1.5, fill="bottom", fill_opacities=[0.2], visible=False,
        )
        self.frac_markers = Markers(self.x_scale, self.frac_y, labels=False)
        self._layers: list[str] = []
        self.figure = figure(
            "Gradient norm per layer (solid: before clip, dashed: after)",
            [self.pre, self.post, self.overlay, self.threshold, self.threshold_label] + self.markers.marks,
            [epoch_axis(self.x_scale, label="epoch"), log_axis(self.y_scale, label="‖g‖")],
            height=190, tooltip=self.TOOLTIP,
        )
        self.fraction_figure = figure(
            "Fraction of steps clipped",
            [self.fraction] + self.frac_markers.marks,
            [epoch_axis(self.x_scale, label=""),
             Axis(scale=self.frac_y, orientation="vertical", tick_format=".0%", tick_values=[0.0, 0.5, 1.0])],
            height=95, tooltip="Share of each epoch's steps where clipping changed the gradient "
            "(any variable). Near 100% for long: the threshold, not the learning rate, sets the step.",
        )
        self.fraction_figure.fig_margin = {"top": 20, "bottom": 20, "left": 58, "right": 14}
        self._finish(self.figure, self.fraction_figure)

    def _extract(self, r, structure):
        pre = r.units.get("grad_pre_mean", {})
        post = r.units.get("grad_post_mean", {})
        s = r.settings
        mode = s.clipping or "none"
        thr = float(s.clip_threshold) if mode != "none" and s.clip_threshold is not None else math.nan
        return (
            [pre.get(u, math.nan) for u in structure.layers],
            [post.get(u, math.nan) for u in structure.layers],
            thr,
            r.units.get("clip_fraction", {}).get("global", math.nan),
            mode,
        )

    def _series(self, row):
        return row[0]

    def _y_extra(self, x, rows):
        return [[r[1] for r in rows], [r[2] for r in rows]]

    def _legend_series(self, x, rows):
        # The threshold is a reference line, not data: the legend may cross it, not its label.
        post = np.array([r[1] for r in rows], dtype=float).reshape(len(rows), -1)
        return [post[:, j] for j in range(post.shape[1])]

    def _legend_labels(self, lo, hi):
        if not self.threshold_label.visible:
            return np.zeros(0), np.zeros(0)
        x0, x1 = self.x_range  # the label ends at the last epoch and reaches about half way back
        xs = np.linspace(x1 - 0.5 * (x1 - x0), x1, 40)  # many points: a covered label is unreadable
        return xs, np.full(40, float(self.threshold_label.y[0]))

    def _draw_rows(self, x, rows, lo, hi, history) -> None:
        layers = list(history.structure.layers)
        n, k = len(x), len(layers)
        pre = positive(np.array([r[0] for r in rows], dtype=float).reshape(n, k).T)
        post = positive(np.array([r[1] for r in rows], dtype=float).reshape(n, k).T)
        thr = np.array([r[2] for r in rows], dtype=float)
        frac = np.array([r[3] for r in rows], dtype=float)
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
                self.threshold.x, self.threshold.y = x, thr.astype(F32)
                self.threshold.visible = True
            else:  # hidden, but with drawable data: all-NaN data makes bqplot write d="null"
                self.threshold.x = np.array(self.x_range, dtype=F32)
                self.threshold.y = np.array([lo, lo], dtype=F32)
                self.threshold.visible = False
        with self.threshold_label.hold_sync():
            if clipping:
                self.threshold_label.x = [float(x[-1])]
                self.threshold_label.y = [float(thr[-1])]
                self.threshold_label.text = [_CLIP_LABEL.get(rows[-1][4], "{t:g}").format(t=thr[-1])]
                self.threshold_label.align = "end"
                # Above the line, unless the line runs along the top of the plot: there the
                # label would be drawn into the title's margin and cut off.
                self.threshold_label.y_offset = 12 if _near_top(float(thr[-1]), lo, hi) else -4
            self.threshold_label.visible = clipping
        with self.fraction.hold_sync():
            self.fraction.x, self.fraction.y = x, np.nan_to_num(frac).astype(F32)
            self.fraction.visible = bool(n)
        markers = history.run_markers() if hasattr(history, "run_markers") else []
        self.frac_markers.draw(markers, 0.0, 1.0)


def _near_top(y: float, lo, hi) -> bool:
    """Is ``y`` in the top tenth of the log-scaled range [lo, hi] (or above it)?"""
    if lo is None or hi is None or not (hi > lo > 0) or not y > 0:
        return False
    return (math.log10(y) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) > 0.9
