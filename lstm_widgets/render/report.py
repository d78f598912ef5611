"""write_report: one self-contained HTML file of a training run.

Everything is inline: the CSS, and every picture as an SVG drawn here from the History
(no matplotlib, no JavaScript, no fonts or files fetched from anywhere), so the file
opens offline and can be mailed or attached to an issue.
"""

from __future__ import annotations

import datetime
import html
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .history import History

__all__ = ["write_report", "render_report", "settings_to_config", "SECTIONS"]

#: The report's section headings, in order.
SECTIONS = (
    "Settings",
    "Keras code",
    "Loss",
    "Gradient norm per layer",
    "Update ratio per layer",
    "Gates",
    "Gradient through time",
    "Setting changes",
    "Findings",
)
HEALTHY_BAND = (1e-4, 1e-2)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
_W, _H = 560, 280
_M = {"l": 62, "r": 130, "t": 26, "b": 38}  # margins; the legend sits on the right

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1000px;
       margin: 1.5em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ddd;
       padding-bottom: 2px; margin-top: 1.6em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 2px 8px;
       text-align: left; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 8px; overflow-x: auto; font-size: 0.85em; }
svg { background: #fff; border: 1px solid #eee; margin: 4px 0; max-width: 100%; height: auto; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
.finding { border-left: 4px solid #999; padding: 4px 10px; margin: 8px 0; background: #fafafa; }
.finding.problem { border-color: #d62728; } .finding.warning { border-color: #ff7f0e; }
.finding.info { border-color: #1f77b4; } .sev { font-weight: bold; text-transform: uppercase;
       font-size: 0.8em; margin-right: 6px; }
.note { color: #666; font-style: italic; }
"""


def settings_to_config(settings: dict[str, Any]):
    """The TrainConfig closest to recorded Monitor settings, or None when the optimizer
    is not one TrainConfig knows (adam, rmsprop, nadam, sgd). Used to print Keras code
    for a finding's patch."""
    from .config import OPTIMIZERS, TrainConfig

    if not settings or settings.get("optimizer") not in OPTIMIZERS:
        return None
    changes: dict[str, Any] = {"optimizer": settings["optimizer"], "scaler": "none"}
    lr = settings.get("learning_rate")
    if lr is not None and math.isfinite(lr) and 0 < lr <= 10:
        changes["learning_rate"] = lr
    if settings.get("optimizer") == "sgd":
        changes["momentum"] = min(max(float(settings.get("momentum") or 0.0), 0.0), 0.999)
        changes["nesterov"] = bool(settings.get("nesterov"))
    if settings.get("clipping") in ("clipnorm", "global_clipnorm", "clipvalue"):
        changes["clipping"] = settings["clipping"]
        changes["clip_threshold"] = settings["clip_threshold"]
    try:
        return TrainConfig().replace(**changes)
    except ValueError:
        return None



# -- a small SVG plotter ---------------------------------------------------------------------
def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1e4 or a < 1e-2:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:.3g}"


class _Axis:
    def __init__(self, lo: float, hi: float, log: bool, px0: float, px1: float):
        self.log = log
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        self.lo, self.hi, self.px0, self.px1 = lo, hi, px0, px1

    def __call__(self, v: float) -> float:
        if self.log:
            v = math.log10(v)
        return self.px0 + (v - self.lo) / (self.hi - self.lo) * (self.px1 - self.px0)

    def ticks(self) -> list[float]:
        if self.log:
            a, b = math.floor(self.lo), math.ceil(self.hi)
            step = max(1, math.ceil((b - a) / 6))
            return [10.0**e for e in range(a, b + 1, step) if self.lo - 1e-9 <= e <= self.hi + 1e-9]
        span = self.hi - self.lo
        raw = span / 5
        mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
        step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=mag)
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step + 1e-9) + 1)]


def _range(values: Sequence[float], log: bool, extra: Sequence[float] = ()) -> tuple[float, float] | None:
    vals = [v for v in list(values) + list(extra) if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    if log:
        return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi) + 1e-12)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


class _Plot:
    """An SVG line/bar chart with axes, a legend and optional bands, thresholds, markers."""

    def __init__(self, title: str, xlabel: str, ylabel: str, logy: bool = False, width=_W, height=_H):
        self.title, self.xlabel, self.ylabel, self.logy = title, xlabel, ylabel, logy
        self.w, self.h = width, height
        self.series: list[tuple[str, np.ndarray, np.ndarray, str, bool]] = []
        self.hlines: list[tuple[float, str, str]] = []
        self.vlines: list[tuple[float, str]] = []
        self.band: tuple[float, float] | None = None

    def line(self, label, x, y, color, dashed=False):
        self.series.append((label, np.asarray(x, float), np.asarray(y, float), color, dashed))

    def svg(self) -> str:
        ys = [v for _, _, y, _, _ in self.series for v in y]
        extra = [v for v, _, _ in self.hlines] + (list(self.band) if self.band else [])
        yr = _range(ys, self.logy, extra)
        xs = [v for _, x, _, _, _ in self.series for v in x]
        xr = _range(xs, False) if xs else None
        out = [f'<svg class="lw-plot" width="{self.w}" height="{self.h}" '
               f'viewBox="0 0 {self.w} {self.h}" role="img" aria-label="{_esc(self.title)}">',
               f'<text x="{self.w / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(self.title)}</text>']
        x0, x1 = _M["l"], self.w - _M["r"]
        y0, y1 = self.h - _M["b"], _M["t"]
        if yr is None or xr is None:
            out.append(f'<text x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" text-anchor="middle" class="empty">'
                       'no finite data to draw</text></svg>')
            return "".join(out)
        if len(set(xs)) == 1:
            xr = (xs[0] - 1, xs[0] + 1)
        else:
            xr = (min(xs), max(xs))
        X = _Axis(xr[0], xr[1], False, x0, x1)
        Y = _Axis(yr[0], yr[1], self.logy, y0, y1)
        out.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#ccc"/>')
        if self.band:
            b0, b1 = Y(self.band[0]), Y(self.band[1])
            out.append(f'<rect x="{x0}" y="{min(b0, b1):.1f}" width="{x1 - x0}" height="{abs(b1 - b0):.1f}" '
                       'fill="#2ca02c" fill-opacity="0.12"/>')
        for t in Y.ticks():
            py = Y(t)
            out.append(f'<line x1="{x0}" x2="{x1}" y1="{py:.1f}" y2="{py:.1f}" stroke="#eee"/>'
                       f'<text x="{x0 - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        for t in X.ticks():
            px = X(t)
            out.append(f'<text x="{px:.1f}" y="{y0 + 14}" text-anchor="middle">{_fmt(t)}</text>')
        out.append(f'<text x="{(x0 + x1) / 2}" y="{self.h - 6}" text-anchor="middle">{_esc(self.xlabel)}</text>'
                   f'<text x="12" y="{(y0 + y1) / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {(y0 + y1) / 2})">{_esc(self.ylabel)}</text>')
        for pos, label in self.vlines:
            if xr[0] <= pos <= xr[1]:
                px = X(pos)
                out.append(f'<line class="marker" x1="{px:.1f}" x2="{px:.1f}" y1="{y1}" y2="{y0}" stroke="#888" '
                           f'stroke-dasharray="3,3"/><text x="{px + 3:.1f}" y="{y1 + 10}" fill="#666">'
                           f'{_esc(label)}</text>')
        for v, label, color in self.hlines:
            if math.isfinite(v) and (v > 0 or not self.logy):
                py = Y(v)
                out.append(f'<line class="threshold" x1="{x0}" x2="{x1}" y1="{py:.1f}" y2="{py:.1f}" '
                           f'stroke="{color}" stroke-dasharray="2,3" stroke-width="2"/>'
                           f'<text x="{x0 + 4}" y="{py - 3:.1f}" fill="{color}">{_esc(label)}</text>')
        legend_y = y1 + 4
        for label, x, y, color, dashed in self.series:
            ok = np.isfinite(y) & ((y > 0) if self.logy else True)
            dash = ' stroke-dasharray="5,3"' if dashed else ""
            # Break the line at missing points rather than joining across them.
            segments, cur = [], []
            for xi, yi, k in zip(x, y, ok):
                if k:
                    cur.append(f"{X(xi):.1f},{Y(yi):.1f}")
                elif cur:
                    segments.append(cur)
                    cur = []
            if cur:
                segments.append(cur)
            for seg in segments:
                if len(seg) == 1:
                    cx, cy = seg[0].split(",")
                    out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
                else:
                    out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8"{dash} '
                               f'points="{" ".join(seg)}"/>')
            out.append(f'<line x1="{x1 + 8}" x2="{x1 + 26}" y1="{legend_y + 5}" y2="{legend_y + 5}" '
                       f'stroke="{color}" stroke-width="2"{dash}/><text x="{x1 + 30}" y="{legend_y + 9}">'
                       f'{_esc(_short(label, 17))}</text>')
            legend_y += 15
        out.append("</svg>")
        return "".join(out)


def _short(s: str, n: int) -> str:
    s = str(s)
    return s if len(s) <= n else "…" + s[-(n - 1):]


def _bars(title: str, groups: list[tuple[str, dict[str, float]]], ylabel: str) -> str:
    """Grouped bars on a log axis: one group per variable, one bar per gate."""
    w, h = _W, _H
    x0, x1, y0, y1 = _M["l"], w - _M["r"], h - _M["b"] - 14, _M["t"]
    vals = [v for _, d in groups for v in d.values()]
    yr = _range(vals, True)
    out = [f'<svg class="lw-plot" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="img" aria-label="{_esc(title)}">',
           f'<text x="{w / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}</text>']
    if yr is None:
        out.append(f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" class="empty">'
                   'no gated (LSTM/GRU) variables to split</text></svg>')
        return "".join(out)
    Y = _Axis(yr[0], yr[1], True, y0, y1)
    out.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#ccc"/>')
    for t in Y.ticks():
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{Y(t):.1f}" y2="{Y(t):.1f}" stroke="#eee"/>'
                   f'<text x="{x0 - 4}" y="{Y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    gates = list(dict.fromkeys(g for _, d in groups for g in d))
    gw = (x1 - x0) / max(len(groups), 1)
    bw = gw * 0.8 / max(len(gates), 1)
    for i, (name, d) in enumerate(groups):
        gx = x0 + i * gw + gw * 0.1
        for j, g in enumerate(gates):
            v = d.get(g, math.nan)
            if not (math.isfinite(v) and v > 0):
                continue
            top = Y(min(max(v, yr[0]), yr[1]))
            out.append(f'<rect x="{gx + j * bw:.1f}" y="{top:.1f}" width="{bw * 0.9:.1f}" height="{y0 - top:.1f}" '
                       f'fill="{PALETTE[j % len(PALETTE)]}"><title>{_esc(name)} {g}: {v:.3g}</title></rect>')
        out.append(f'<text x="{gx + gw * 0.4:.1f}" y="{y0 + 13}" text-anchor="middle">{_esc(_short(name, 22))}</text>')
    for j, g in enumerate(gates):
        out.append(f'<rect x="{x1 + 8}" y="{y1 + 4 + 15 * j}" width="12" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
                   f'<text x="{x1 + 24}" y="{y1 + 13 + 15 * j}">gate {_esc(g)}</text>')
    out.append(f'<text x="12" y="{(y0 + y1) / 2}" text-anchor="middle" transform="rotate(-90 12 {(y0 + y1) / 2})">'
               f'{_esc(ylabel)}</text></svg>')
    return "".join(out)


def _heatmap(title: str, epochs: list[int], rows: list[list[float]]) -> str:
    """Epoch (y) x time step (x) heat map of log10 values, viridis-like colours."""
    w, h = _W, _H
    x0, x1, y0, y1 = _M["l"], w - _M["r"], h - _M["b"], _M["t"]
    out = [f'<svg class="lw-plot lw-heatmap" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="img" aria-label="{_esc(title)}">',
           f'<text x="{w / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}</text>']
    n_t = max((len(r) for r in rows), default=0)
    arr = np.full((len(rows), n_t), np.nan)
    for i, r in enumerate(rows):
        arr[i, : len(r)] = r
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(arr > 0, np.log10(arr), np.nan)
    if not np.isfinite(logv).any():
        out.append(f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" class="empty">'
                   'no gradient through time recorded (no probe batch)</text></svg>')
        return "".join(out)
    # Bound the picture's size: at most 100 epoch rows and 100 time columns.
    ri = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), 100)).astype(int))
    ci = np.unique(np.linspace(0, n_t - 1, min(n_t, 100)).astype(int))
    logv = logv[np.ix_(ri, ci)]
    lo, hi = float(np.nanmin(logv)), float(np.nanmax(logv))
    span = (hi - lo) or 1.0
    cw, ch = (x1 - x0) / len(ci), (y0 - y1) / len(ri)
    stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]

    def colour(v):
        if not math.isfinite(v):
            return "#eeeeee"
        f = (v - lo) / span * (len(stops) - 1)
        k = min(int(f), len(stops) - 2)
        t = f - k
        c = [round(a + (b - a) * t) for a, b in zip(stops[k], stops[k + 1])]
        return "#%02x%02x%02x" % tuple(c)

    for i in range(len(ri)):
        for j in range(len(ci)):
            out.append(f'<rect x="{x0 + j * cw:.1f}" y="{y1 + i * ch:.1f}" width="{cw + 0.3:.1f}" '
                       f'height="{ch + 0.3:.1f}" fill="{colour(logv[i, j])}"/>')
    out.append(f'<text x="{x0}" y="{y0 + 14}">t=0 (oldest)</text>'
               f'<text x="{x1}" y="{y0 + 14}" text-anchor="end">t={n_t - 1} (latest)</text>'
               f'<text x="{x0 - 4}" y="{y1 + 10}" text-anchor="end">ep {epochs[ri[0]]}</text>'
               f'<text x="{x0 - 4}" y="{y0}" text-anchor="end">ep {epochs[ri[-1]]}</text>')
    for k in range(5):
        out.append(f'<rect x="{x1 + 10}" y="{y1 + 4 + 16 * k}" width="14" height="14" '
                   f'fill="{colour(hi - k * span / 4)}"/><text x="{x1 + 28}" y="{y1 + 15 + 16 * k}">'
                   f'{_fmt(10 ** (hi - k * span / 4))}</text>')
    out.append("</svg>")
    return "".join(out)


# -- the report ---------------------------------------------------------------------------------
def _section(title: str, body: str) -> str:
    slug = title.lower().replace(" ", "-")
    return f'<section id="{slug}"><h2>{_esc(title)}</h2>{body}</section>'


def _settings_table(history: History, config) -> str:
    rows: dict[str, Any] = {}
    if config is not None:
        rows.update(config.to_dict())
    latest = history.latest
    if latest is not None:
        for k, v in (latest.settings or {}).items():
            if v is not None and k != "lr_schedule":
                rows.setdefault(k, v)
    s = history.structure or {}
    if s.get("dataset"):
        rows.setdefault("data / model", s["dataset"])
    if s.get("timesteps"):
        rows.setdefault("timesteps", s["timesteps"])
    if s.get("layers"):
        cells = s.get("layer_cell") or {}
        rows.setdefault("layers", ", ".join(f"{n} ({cells.get(n) or 'no gates'})" for n in s["layers"]))
    if latest is not None:
        rows["epochs recorded"] = len(history)
        rows["last loss"] = f"{latest.loss:.4g}"
        if latest.val_loss is not None:
            rows["last val loss"] = f"{latest.val_loss:.4g}"
        rows["status"] = latest.status
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows.items())
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in s.get("notes") or [])
    return f"<table>{body}</table>{notes}" if rows else f'<p class="note">Nothing recorded yet.</p>{notes}'


def _keras_code(history: History, config, findings) -> str:
    if config is None:
        latest = history.latest
        config = settings_to_config(latest.settings if latest is not None else {}) if latest is not None else None
    if config is None:
        return '<p class="note">No Keras code: the optimizer is not one lstm_widgets knows.</p>'
    s = history.structure or {}
    feats = len(s.get("features") or []) or None
    own_model = s.get("source") == "watch"  # the user's model: only the optimizer is ours to show

    def code_for(cfg) -> str:
        if own_model:
            return f"model.compile(optimizer={cfg.keras_optimizer_code()}, loss=...)  # your loss\n"
        return cfg.to_keras_code(s.get("timesteps"), feats)

    code = code_for(config)
    out = f"<p>The settings in force, as plain Keras 3 + scikit-learn:</p><pre>{_esc(code)}</pre>"
    patch: dict[str, Any] = {}
    for f in findings or []:
        if getattr(f, "severity", "") in ("problem", "warning"):
            patch.update(getattr(f, "patch", None) or {})
    if patch:
        try:
            fixed = config.replace(**{k: v for k, v in patch.items() if k in config.field_names()})
            out += (f"<p>With the findings' fixes applied ({_esc(', '.join(f'{k}={v!r}' for k, v in patch.items()))}):"
                    f"</p><pre>{_esc(code_for(fixed))}</pre>")
        except ValueError as exc:
            out += f'<p class="note">The suggested fixes could not be combined: {_esc(exc)}</p>'
    return out


def _markers(history: History, run_id) -> list[tuple[float, str]]:
    return [(m.position, m.label) for m in history.run_markers(run_id)][-20:]


def _loss_svg(history: History, run_id) -> str:
    p = _Plot("Loss (log scale)", "epoch", "loss", logy=True)
    x, y = history.series("loss", run_id=run_id)
    p.line("loss", x, y, PALETTE[0])
    xv, yv = history.series("val_loss", run_id=run_id)
    if np.isfinite(yv).any():
        p.line("val loss", xv, yv, PALETTE[1], dashed=True)
    p.vlines = _markers(history, run_id)
    return p.svg()


def _grad_svg(history: History, run_id, layers) -> str:
    p = _Plot("Gradient norm per layer: before (solid) / after (dashed) clipping", "epoch", "mean ||g||", logy=True)
    for i, layer in enumerate(layers[:8]):
        c = PALETTE[i % len(PALETTE)]
        x, y = history.series("grad_pre_mean", layer, run_id)
        p.line(f"{layer} pre", x, y, c)
        x, y = history.series("grad_post_mean", layer, run_id)
        p.line(f"{layer} post", x, y, c, dashed=True)
    recs = history.run(run_id)
    if recs:
        s = recs[-1].settings or {}
        if s.get("clipping", "none") != "none" and s.get("clip_threshold"):
            p.hlines.append((float(s["clip_threshold"]), f"{s['clipping']} = {s['clip_threshold']:g}", "#d62728"))
    p.vlines = _markers(history, run_id)
    return p.svg()


def _ratio_svg(history: History, run_id, layers) -> str:
    p = _Plot("Update ratio ||ΔW|| / ||W|| per layer (healthy band shaded)", "epoch", "update ratio", logy=True)
    p.band = HEALTHY_BAND
    for i, layer in enumerate(layers[:8]):
        x, y = history.series("update_ratio", layer, run_id)
        p.line(layer, x, y, PALETTE[i % len(PALETTE)])
    p.vlines = _markers(history, run_id)
    return p.svg()


def _gates_svg(history: History, run_id) -> str:
    recs = history.run(run_id)
    latest = recs[-1] if recs else None
    groups_g = [(var, {g: d.get("grad_pre_mean", math.nan) for g, d in per.items()})
                for var, per in (latest.gates.items() if latest else [])][:6]
    groups_u = [(var, {g: d.get("update_ratio", math.nan) for g, d in per.items()})
                for var, per in (latest.gates.items() if latest else [])][:6]
    ep = f" (epoch {latest.epoch})" if latest else ""
    return (_bars(f"Gradient norm per gate{ep}", groups_g, "mean ||g|| (log)")
            + _bars(f"Update ratio per gate{ep}", groups_u, "||ΔW|| / ||W|| (log)"))


def _time_svg(history: History, run_id) -> str:
    recs = [r for r in history.run(run_id) if r.grad_through_time]
    p = _Plot("Gradient through time, latest epoch: ||∂L/∂x_t||", "time step t", "||∂L/∂x_t||", logy=True)
    if recs:
        g = recs[-1].grad_through_time
        p.line(f"epoch {recs[-1].epoch}", np.arange(len(g)), g, PALETTE[0])
        if len(recs) > 1:
            g0 = recs[0].grad_through_time
            p.line(f"epoch {recs[0].epoch}", np.arange(len(g0)), g0, PALETTE[7], dashed=True)
    heat = _heatmap("Gradient through time: epoch × time step (log colour)",
                    [r.epoch for r in recs], [r.grad_through_time for r in recs])
    return p.svg() + heat


def _markers_html(history: History) -> str:
    ms = list(history.markers)
    if not ms:
        return '<p class="note">No setting changed during training.</p>'
    rows = "".join(f"<tr><td>{m.run_id}</td><td>{m.position:g}</td><td>{_esc(m.setting)}</td>"
                   f"<td>{_esc(m.old)}</td><td>{_esc(m.new)}</td></tr>" for m in ms)
    return f"<table><tr><th>run</th><th>epoch</th><th>setting</th><th>from</th><th>to</th></tr>{rows}</table>"


def _findings_html(findings) -> str:
    if findings is None:
        return '<p class="note">No diagnosis was available for this report.</p>'
    if not findings:
        return "<p>No findings.</p>"
    out = []
    for f in findings:
        ev = "".join(f"<li>{_esc(e)}</li>" for e in (getattr(f, "evidence", None) or []))
        fix = f"<p><b>Fix:</b> {_esc(f.fix)}</p>" if getattr(f, "fix", "") else ""
        patch = getattr(f, "patch", None) or {}
        patch_s = (f"<p><code>{_esc(', '.join(f'{k}={v!r}' for k, v in patch.items()))}</code></p>" if patch else "")
        out.append(f'<div class="finding {_esc(f.severity)}"><span class="sev">{_esc(f.severity)}</span>'
                   f"<b>{_esc(f.title)}</b><p>{_esc(f.explanation)}</p><ul>{ev}</ul>{fix}{patch_s}</div>")
    return "".join(out)


def render_report(history: History, config=None, findings=None, title: str = "LSTM training report") -> str:
    """The report's HTML text (see :func:`write_report`)."""
    if not isinstance(history, History):
        raise ValueError(f"history must be an lstm_widgets History; got {type(history).__name__}.")
    run_id = history.current_run
    layers = list((history.structure or {}).get("layers") or [])
    if not layers and history.latest is not None:
        layers = ["global"]
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    run_note = f"run {run_id} of {len(history.run_ids)}" if run_id is not None else "no run recorded"
    parts = [
        _section("Settings", _settings_table(history, config)),
        _section("Keras code", _keras_code(history, config, findings)),
        _section("Loss", _loss_svg(history, run_id)),
        _section("Gradient norm per layer", _grad_svg(history, run_id, layers)),
        _section("Update ratio per layer", _ratio_svg(history, run_id, layers)),
        _section("Gates", _gates_svg(history, run_id)),
        _section("Gradient through time", _time_svg(history, run_id)),
        _section("Setting changes", _markers_html(history)),
        _section("Findings", _findings_html(findings)),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1>"
        f"<p class=\"meta\">lstm_widgets report · {_esc(run_note)} · written {now}</p>"
        + "".join(parts)
        + "</body></html>\n"
    )


def write_report(path, history: History, config=None, findings=None, title: str = "LSTM training report") -> str:
    """Write ONE self-contained HTML file: settings, Keras code, a picture of every panel,
    the setting changes and the findings. Needs no network to open.

    Args:
        path: The file to write (``.html``).
        history: The History to report (its latest run is pictured).
        config: The TrainConfig in force (a Lab's or Trainer's), for the settings and
            the Keras code. Defaults to None: read from the recorded settings.
        findings: ``diagnose(...)``'s findings. Defaults to None (no diagnosis section
            content).
        title: The page title. Defaults to "LSTM training report".

    Returns:
        The path written, as a string.
    """
    path = Path(path)
    text = render_report(history, config=config, findings=findings, title=title)
    path.write_text(text, encoding="utf-8")
    return str(path)
