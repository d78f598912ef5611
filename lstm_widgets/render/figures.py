"""The report's figures, drawn with matplotlib from a History: one function per picture,
each returning a matplotlib Figure (tests read its data); :func:`to_svg` turns one into
inline SVG text with nothing fetched from anywhere.

matplotlib's object-oriented API is used (``matplotlib.figure.Figure``), never pyplot,
so drawing a report in a notebook changes neither the user's backend nor their figures.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np

from ..diagnosis.stats import step_ratio
from ..diagnosis.thresholds import HEALTHY_BAND
from ..downsample import keep_indices
from ..history import History, merge_markers

__all__ = [
    "PALETTE",
    "to_svg",
    "loss_figure",
    "gradient_figure",
    "update_figure",
    "gate_figures",
    "time_figures",
]


class _Palette:
    """matplotlib's own tab10 colours (the Tableau 10 the panels take from bqplot's
    CATEGORY10), read when first drawn so that importing this module loads no matplotlib."""

    def __getitem__(self, i: int) -> str:
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        colours = colormaps["tab10"].colors
        return to_hex(colours[i % len(colours)])

    def __len__(self) -> int:
        return 10


PALETTE = _Palette()
_SIZE = (6.4, 3.0)  # inches; the SVG scales to the page
_MAX_LINES = 8
_MAX_MARKERS = 20
_MAX_COLUMNS = 100
_MAX_ROWS = 100


def _figure(size=_SIZE):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def to_svg(fig) -> str:
    """The figure as an ``<svg>`` element for inline HTML: text kept as text, and the
    XML prologue, the metadata and the namespace URLs dropped (inline SVG in HTML needs
    none of them), so the page holds no address at all."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.replace("<svg", '<svg class="lw-plot"', 1)


def _positive(y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _epoch_axis(ax) -> None:
    ax.set_xlabel("epoch")
    _integer_ticks(ax.xaxis)


def _markers(ax, history: History, run_id) -> None:
    shown = merge_markers(history.run_markers(run_id))[-_MAX_MARKERS:]
    for m in shown:
        ax.axvline(m.position, color="#888", ls=(0, (3, 3)), lw=1)
        ax.annotate(m.label, (m.position, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", rotation=90, va="top", fontsize=7, color="#666")


def _finish(ax, history: History, run_id, ylabel: str, title: str, legend_outside: bool = True) -> None:
    """Log y axis, labels, whole-number epoch ticks, change markers and a legend."""
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    _epoch_axis(ax)
    _markers(ax, history, run_id)
    if legend_outside:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    else:
        ax.legend(loc="best", fontsize=8)


def _series(history: History, run_id, fields: list[tuple[str, str]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(epochs kept, one array per (field, unit)), downsampled together keeping spikes."""
    ys = [history.series(f, u, run_id)[1] for f, u in fields]
    x = history.series("loss", run_id=run_id)[0]
    keep = keep_indices(ys) if ys else np.arange(len(x))
    return x[keep], [y[keep] for y in ys]


def loss_figure(history: History, run_id=None):
    """Training and validation loss per epoch, log scale, with the change markers."""
    fig, ax = _figure()
    x, (loss, val) = _series(history, run_id, [("loss", "global"), ("val_loss", "global")])
    if not np.isfinite(_positive(loss)).any():
        _empty(ax, "no finite loss to draw")
        return fig
    ax.plot(x, _positive(loss), color=PALETTE[0], lw=1.8, label="loss")
    if np.isfinite(_positive(val)).any():
        ax.plot(x, _positive(val), color=PALETTE[1], lw=1.8, ls="--", label="val loss")
    _finish(ax, history, run_id, "loss", "Loss (log scale)", legend_outside=False)
    return fig


def _layers_or_global(history: History, layers) -> list[str]:
    return list(layers or []) or ["global"]


def gradient_figure(history: History, run_id=None, layers=None):
    """Mean gradient norm per layer, before (solid) and after (dashed) clipping, with the
    clip threshold in force."""
    fig, ax = _figure()
    layers = _layers_or_global(history, layers)[:_MAX_LINES]
    fields = [(f, layer) for layer in layers for f in ("grad_pre_mean", "grad_post_mean")]
    x, ys = _series(history, run_id, fields)
    if not any(np.isfinite(_positive(y)).any() for y in ys):
        _empty(ax, "no gradient norms recorded")
        return fig
    for i, layer in enumerate(layers):
        c = PALETTE[i % len(PALETTE)]
        ax.plot(x, _positive(ys[2 * i]), color=c, lw=1.8, label=f"{layer} before")
        ax.plot(x, _positive(ys[2 * i + 1]), color=c, lw=1.4, ls="--", label=f"{layer} after")
    recs = history.run(run_id)
    s = recs[-1].settings if recs else None
    if s is not None and s.clipping != "none" and s.clip_threshold:
        ax.axhline(s.clip_threshold, color="#d62728", ls=":", lw=2)
        ax.annotate(f"{s.clipping} = {s.clip_threshold:g}", (0, s.clip_threshold),
                    xycoords=("axes fraction", "data"), xytext=(4, 3), textcoords="offset points",
                    color="#d62728", fontsize=8)
    _finish(ax, history, run_id, "mean ‖g‖", "Gradient norm per layer: before (solid) / after (dashed) clipping")
    return fig


def update_figure(history: History, run_id=None, layers=None):
    """The update each step applied, ||ΔW_step|| / ||W|| per layer (mean over each epoch's
    steps), with the healthy band shaded: the numbers the diagnosis judges."""
    fig, ax = _figure()
    layers = _layers_or_global(history, layers)[:_MAX_LINES]
    recs = history.run(run_id)
    raw = [np.array([step_ratio(r, layer) for r in recs], dtype=float) for layer in layers]
    keep = keep_indices(raw) if raw else np.arange(len(recs))
    x = np.array([r.epoch for r in recs], dtype=float)[keep]
    ys = [y[keep] for y in raw]
    if not any(np.isfinite(_positive(y)).any() for y in ys):
        _empty(ax, "no update ratio recorded")
        return fig
    ax.axhspan(*HEALTHY_BAND, color="#2ca02c", alpha=0.12, lw=0)
    ax.annotate(f"healthy {HEALTHY_BAND[0]:g}..{HEALTHY_BAND[1]:g} (rule of thumb)", (0, HEALTHY_BAND[1]),
                xycoords=("axes fraction", "data"), xytext=(4, -10), textcoords="offset points",
                color="#2ca02c", fontsize=8)
    for i, (layer, y) in enumerate(zip(layers, ys)):
        ax.plot(x, _positive(y), color=PALETTE[i % len(PALETTE)], lw=1.8, label=layer)
    _finish(ax, history, run_id, "‖ΔW‖ / ‖W‖ per step", "Update per step, per layer (healthy band shaded)")
    return fig


def _bars(title: str, groups: list[tuple[str, dict[str, float]]], ylabel: str):
    fig, ax = _figure()
    vals = [v for _, d in groups for v in d.values() if math.isfinite(v) and v > 0]
    if not vals:
        _empty(ax, "no gated (LSTM/GRU) variables to split")
        return fig
    gates = list(dict.fromkeys(g for _, d in groups for g in d))
    width = 0.8 / max(len(gates), 1)
    xs = np.arange(len(groups))
    floor = 10 ** math.floor(math.log10(min(vals)))
    for j, g in enumerate(gates):
        heights = [d.get(g, math.nan) for _, d in groups]
        heights = [h if math.isfinite(h) and h > 0 else np.nan for h in heights]
        ax.bar(xs + (j - (len(gates) - 1) / 2) * width, heights, width * 0.9, color=PALETTE[j % len(PALETTE)],
               label=f"gate {g}", bottom=0)
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xticks(xs, [name if len(name) <= 26 else "…" + name[-25:] for name, _ in groups], fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return fig


def gate_figures(history: History, run_id=None) -> list:
    """Two bar charts of the latest epoch, one group per gated variable, one bar per gate:
    the mean gradient norm, and the update ratio."""
    recs = history.run(run_id)
    latest = recs[-1] if recs else None
    items = list(latest.gates.items())[:6] if latest else []
    ep = f" (epoch {latest.epoch})" if latest else ""
    return [
        _bars(f"Gradient norm per gate{ep}",
              [(var, {g: d.get("grad_pre_mean", math.nan) for g, d in per.items()}) for var, per in items],
              "mean ‖g‖ (log)"),
        _bars(f"Update per step per gate{ep}",
              [(var, {g: d.get("step_ratio_mean", d.get("update_ratio", math.nan)) for g, d in per.items()})
               for var, per in items],
              "‖ΔW‖ / ‖W‖ per step (log)"),
    ]


def time_figures(history: History, run_id=None) -> list:
    """The gradient through time: ||∂L/∂x_t|| against t (latest and first epoch), and a
    heat map of epoch × time step (log colour)."""
    recs = [r for r in history.run(run_id) if r.grad_through_time]
    line, ax = _figure()
    heat, hax = _figure()
    if not recs:
        _empty(ax, "no gradient through time recorded (no probe batch)")
        _empty(hax, "no gradient through time recorded (no probe batch)")
        return [line, heat]
    g = np.asarray(recs[-1].grad_through_time, dtype=float)
    ax.plot(np.arange(len(g)), _positive(g), color=PALETTE[0], lw=1.8, label=f"epoch {recs[-1].epoch}")
    if len(recs) > 1:
        g0 = np.asarray(recs[0].grad_through_time, dtype=float)
        ax.plot(np.arange(len(g0)), _positive(g0), color=PALETTE[7], lw=1.4, ls="--", label=f"epoch {recs[0].epoch}")
    ax.set_yscale("log")
    ax.set_xlabel("time step t (0 = oldest)")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel("‖∂L/∂x_t‖")
    ax.set_title("Gradient through time: ‖∂L/∂x_t‖", fontsize=10)
    ax.legend(loc="best", fontsize=8)

    n_t = max(len(r.grad_through_time) for r in recs)
    arr = np.full((len(recs), n_t), np.nan)
    for i, r in enumerate(recs):
        arr[i, : len(r.grad_through_time)] = r.grad_through_time
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(arr > 0, np.log10(arr), np.nan)
    if not np.isfinite(logv).any():
        _empty(hax, "no finite gradient through time")
        return [line, heat]
    # At most _MAX_ROWS epochs (those where the reach to the first step changes most are
    # kept) and _MAX_COLUMNS time steps.
    rows = keep_indices(logv[:, 0] - np.nanmax(logv, axis=1), _MAX_ROWS) if len(recs) > _MAX_ROWS else np.arange(len(recs))
    cols = np.unique(np.linspace(0, n_t - 1, min(n_t, _MAX_COLUMNS)).astype(int))
    img = logv[np.ix_(rows, cols)]
    epochs = np.array([recs[i].epoch for i in rows])
    im = hax.imshow(img, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                    extent=(cols[0] - 0.5, cols[-1] + 0.5, 0, len(rows)))
    tick_rows = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), 5)).astype(int))
    hax.set_yticks(tick_rows + 0.5, [str(e) for e in epochs[tick_rows]])
    hax.set_xlabel("time step t (0 = oldest)")
    _integer_ticks(hax.xaxis)
    hax.set_ylabel("epoch")
    hax.set_title("Gradient through time: epoch × time step", fontsize=10)
    heat.colorbar(im, ax=hax, label="log10 ‖∂L/∂x_t‖")
    return [line, heat]
