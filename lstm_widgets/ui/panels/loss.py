"""LossPanel: training and validation loss per epoch (log scale)."""

from __future__ import annotations

import math

import numpy as np
from bqplot import Lines

from .base import TimePanel
from .plot import F32, PALETTE, drawable, epoch_axis, figure, log_axis, positive


class LossPanel(TimePanel):
    """Training and validation loss per epoch (log scale)."""

    css_class = "lw-panel-loss"
    TOOLTIP = (
        "Training loss (blue) and validation loss (orange) per epoch, log scale. Flat "
        "from the start: the weights are not updating; rising or gaps: diverging."
    )

    def __init__(self) -> None:
        super().__init__()
        self.lines = Lines(
            x=np.zeros(0, dtype=F32), y=np.zeros((2, 0), dtype=F32), scales={"x": self.x_scale, "y": self.y_scale},
            colors=PALETTE[:2], labels=["loss", "val loss"], display_legend=True, stroke_width=2, marker="circle",
            marker_size=12, visible=False,
        )
        self.overlay.colors = PALETTE[:2]
        self.figure = figure(
            "Loss (log)", [self.lines, self.overlay] + self.markers.marks,
            [epoch_axis(self.x_scale, label="epoch"), log_axis(self.y_scale, label="loss")],
            tooltip=self.TOOLTIP,
        )
        self._finish(self.figure)

    def _extract(self, r, structure):
        return (r.loss, math.nan if r.val_loss is None else r.val_loss)

    def _draw_rows(self, x, rows, lo, hi, history) -> None:
        y = positive(np.asarray(rows, dtype=float).reshape(len(x), 2).T)
        with self.lines.hold_sync():
            self.lines.x, self.lines.y = drawable(x, y, lo)
            self.lines.marker = "circle" if len(x) < 40 else None
            self.lines.visible = bool(len(x))
