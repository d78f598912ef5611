"""GatePanel: per-gate gradient norm and update ratio of the latest epoch."""

from __future__ import annotations

import math

import numpy as np
from bqplot import Axis, Bars, LogScale, OrdinalScale

from .base import Panel
from .plot import F32, PALETTE, decades, figure, log_axis, positive


class GatePanel(Panel):
    """Per gate (i, f, c, o) of each LSTM layer: gradient norm and update ratio of the
    kernel W (input weights) and the recurrent kernel U, for the latest epoch."""

    css_class = "lw-panel-gates"
    # The colour key comes first: the caption shows one line, and a legend inside the
    # plot covered the bars it explains.
    TOOLTIP = (
        "Blue: kernel W (from the inputs), orange: recurrent U (from the previous step). "
        "Latest epoch, per gate: i input, f forget, c cell candidate, o output (GRU: z, r, "
        "h). A gate far below the others is the one that stopped learning."
    )

    def __init__(self) -> None:
        super().__init__()
        self.x_scale = OrdinalScale()
        self.grad_scale = LogScale(min=1e-4, max=1.0)
        self.ratio_scale = LogScale(min=1e-6, max=1.0)
        kw = dict(type="grouped", colors=PALETTE[:2], labels=["kernel W", "recurrent U"], padding=0.2)
        self.grad_bars = Bars(
            x=["i"], y=np.full((2, 1), 1e-4, dtype=F32), scales={"x": self.x_scale, "y": self.grad_scale},
            base=1e-4, **kw,
        )
        self.ratio_bars = Bars(
            x=["i"], y=np.full((2, 1), 1e-6, dtype=F32), scales={"x": self.x_scale, "y": self.ratio_scale},
            base=1e-6, **kw,
        )
        self.figure = figure(
            "Gradient norm per gate (latest epoch)", [self.grad_bars],
            [Axis(scale=self.x_scale), log_axis(self.grad_scale, label="‖g‖")],
            height=140, tooltip=self.TOOLTIP,
        )
        self.ratio_figure = figure(
            "Update per step per gate (latest epoch)", [self.ratio_bars],
            [Axis(scale=self.x_scale), log_axis(self.ratio_scale, label="‖ΔW‖/‖W‖")],
            height=140, tooltip=self.TOOLTIP,
        )
        self._finish(self.figure, self.ratio_figure)

    def _draw(self, history) -> None:
        structure = history.structure
        records = history.records
        rec = records[-1] if records else None
        gated = structure.gated
        var_layer = structure.var_layer
        layers = []
        for var in gated:
            lay = var_layer.get(var, var.split("/")[0])
            if lay not in layers:
                layers.append(lay)
        if rec is None or not gated:
            # No bars from an earlier model: a SimpleRNN restarted after an LSTM kept them.
            cell = next(iter(structure.layer_cell.values()), None) if getattr(structure, "layer_cell", None) else None
            why = (f"a {cell} layer has no gates" if rec is not None and cell else
                   "no gated (LSTM/GRU) layer" if rec is not None else "waiting for the first epoch")
            for bars in (self.grad_bars, self.ratio_bars):
                bars.visible = False
            self.figure.title = f"Gradient norm per gate: {why}"
            self.ratio_figure.title = f"Update per step per gate: {why}"
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
                    ratio[row].append(vals.get("step_ratio_mean", vals.get("update_ratio", math.nan)))
        raw = np.asarray(grad, dtype=float)
        if raw.size and np.isfinite(raw).all() and not (raw > 0).any():
            # Exactly 0 cannot sit on a log axis: the bars were blank with no word of why
            # (saturated gates, e.g. unscaled inputs in the thousands).
            for bars in (self.grad_bars, self.ratio_bars):
                bars.visible = False
            self.figure.title = f"Gradient per gate, epoch {rec.epoch}: exactly 0 in every gate"
            self.ratio_figure.title = f"Update per gate, epoch {rec.epoch}: none (no gradient reaches them)"
            return
        for bars in (self.grad_bars, self.ratio_bars):
            bars.visible = True
        g = positive(grad)
        r = positive(ratio)
        glo, ghi = decades(g)
        rlo, rhi = decades(r, default=(1e-6, 1.0))
        # Bars on a log scale grow from ``base``: put it at the axis floor, and draw a
        # missing or zero value as an empty bar at the floor.
        with self.grad_bars.hold_sync():
            self.grad_bars.x = labels
            self.grad_bars.y = np.nan_to_num(g, nan=glo).astype(F32)
            self.grad_bars.base = glo
        with self.ratio_bars.hold_sync():
            self.ratio_bars.x = labels
            self.ratio_bars.y = np.nan_to_num(r, nan=rlo).astype(F32)
            self.ratio_bars.base = rlo
        with self.grad_scale.hold_sync():
            self.grad_scale.min, self.grad_scale.max = glo, ghi
        with self.ratio_scale.hold_sync():
            self.ratio_scale.min, self.ratio_scale.max = rlo, rhi
        title = f"Gradient norm per gate, epoch {rec.epoch}"
        if self.figure.title != title or not self.ratio_figure.title.endswith(f"epoch {rec.epoch}"):
            self.figure.title = title
            self.ratio_figure.title = f"Update per step per gate, epoch {rec.epoch}"
