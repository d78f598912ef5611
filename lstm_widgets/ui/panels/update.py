"""UpdateRatioPanel: the weight-update ratio ||ΔW||/||W|| per layer, with the healthy band."""

from __future__ import annotations

import numpy as np
from bqplot import Label, Lines

from ...diagnosis.stats import step_ratio
from ...diagnosis.thresholds import HEALTHY_BAND
from .base import TimePanel
from .plot import BAND_COLOUR, F32, PALETTE, drawable, epoch_axis, figure, log_axis, positive


class UpdateRatioPanel(TimePanel):
    """The update each step applied, ||ΔW_step||/||W|| per layer (mean over each epoch's
    steps, as measured in the train step), with the healthy band: the same per-step
    numbers and band the diagnosis judges."""

    css_class = "lw-panel-update"
    y_default = (1e-6, 1.0)
    TOOLTIP = (
        "How much each step moved each layer's weights, relative to their size: "
        "‖ΔW_step‖ / ‖W‖, the mean over the epoch's steps. The green band {lo:g}..{hi:g} "
        "lies around the rule of thumb of ~1e-3 per step, not a law; the diagnosis uses the "
        "same numbers. Far below: the layer is not learning; far above: it is thrown around."
    ).format(lo=HEALTHY_BAND[0], hi=HEALTHY_BAND[1])

    def __init__(self) -> None:
        super().__init__()
        sc = {"x": self.x_scale, "y": self.y_scale}
        lo, hi = HEALTHY_BAND
        self.band = Lines(
            x=np.array([0.0, 1.0], dtype=F32), y=np.array([[lo, lo], [hi, hi]], dtype=F32), scales=sc,
            fill="between", colors=[BAND_COLOUR], fill_colors=[BAND_COLOUR], fill_opacities=[0.12],
            opacities=[0.0, 0.0], preserve_domain={"x": True, "y": True},
        )
        self.band_label = Label(
            x=[0.0], y=[hi], text=[f"healthy {lo:g}..{hi:g} (rule of thumb)"], scales=sc, colors=[BAND_COLOUR],
            default_size=10, font_unit="px", y_offset=-3, x_offset=4,
        )
        self.lines = Lines(x=np.zeros(0, dtype=F32), y=np.zeros(0, dtype=F32), scales=sc, colors=PALETTE,
                           stroke_width=2, display_legend=True, visible=False)
        self._layers: list[str] = []
        self.figure = figure(
            "Update per step ‖ΔW‖/‖W‖ per layer (mean over the epoch)",
            [self.lines, self.overlay, self.band, self.band_label] + self.markers.marks,
            [epoch_axis(self.x_scale, label="epoch"), log_axis(self.y_scale, label="‖ΔW‖/‖W‖")],
            tooltip=self.TOOLTIP,
        )
        self._finish(self.figure)

    def _extract(self, r, structure):
        return [step_ratio(r, u) for u in structure.layers]

    def _y_extra(self, x, rows):
        return [np.array(HEALTHY_BAND) * [0.1, 10.0]]

    def _legend_labels(self, lo, hi):
        x0, x1 = self.x_range  # the band's label starts at the axis and takes about half its width
        return np.linspace(x0, x0 + 0.5 * (x1 - x0), 10), np.full(10, HEALTHY_BAND[1])

    def _draw_rows(self, x, rows, lo, hi, history) -> None:
        layers = list(history.structure.layers)
        y = positive(np.array(rows, dtype=float).reshape(len(x), len(layers)).T)
        with self.lines.hold_sync():
            self.lines.x, self.lines.y = drawable(x, y, lo)
            if layers != self._layers:
                self.lines.labels = layers
            self.lines.visible = bool(len(x))
        self._layers = layers
        band_x = np.array(self.x_range, dtype=F32)
        if not np.array_equal(band_x, self.band.x):
            self.band.x = band_x
            # The label starts where the axis does: left at epoch 0 while the axis starts at
            # epoch 1, it was cut off ("hy 0.0001..0.01" in a learner's screenshot).
            self.band_label.x = band_x[:1]
