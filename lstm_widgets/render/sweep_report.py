"""write_sweep_report: one self-contained HTML file of a sweep, in the style of the run
report (inline CSS, matplotlib figures as inline SVG, nothing fetched from anywhere):
every run's validation curve, the best validation loss over the settings, and the table
of runs with their diagnosis."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np

from ..sweep.summary import heat_map_cells, value_order
from . import figures
from .report import _CSS, _esc, _section

__all__ = ["write_sweep_report", "render_sweep_report", "SWEEP_SECTIONS"]

SWEEP_SECTIONS = ("Runs", "Validation loss of every run", "Best validation loss over the settings", "Table of runs")
_MAX_MAPS = 6


def _curves(sweep):
    fig, ax = figures._figure((7.0, 3.4))
    key = sweep.varying[0] if sweep.varying else "seed"
    values = sorted({getattr(r.config, key) for r in sweep.runs}, key=value_order)
    colour = {v: figures.PALETTE[i] for i, v in enumerate(values)}
    drawn = False
    for r in sweep.runs:
        y = np.asarray(r.val_losses, dtype=float)
        y[~np.isfinite(y) | (y <= 0)] = np.nan
        if np.isfinite(y).any():
            ax.plot(np.arange(1, len(y) + 1), y, color=colour[getattr(r.config, key)], lw=1.2, alpha=0.85)
            drawn = True
    if not drawn:
        figures._empty(ax, "no run has recorded a finite loss")
        return fig
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    figures._integer_ticks(ax.xaxis)
    for v in values:
        ax.plot([], [], color=colour[v], label=f"{key} = {v}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"validation loss of every run, coloured by {key}")
    return fig


def _heat_maps(sweep, df) -> str:
    if len(sweep.varying) == 0:
        return '<p class="note">Nothing varies between the runs.</p>'
    x = sweep.varying[0]
    y = sweep.varying[1] if len(sweep.varying) > 1 else sweep.varying[0]
    facet = sweep.varying[2] if len(sweep.varying) > 2 else None
    groups = [(None, df)] if facet is None else sorted(df.groupby(facet), key=lambda kv: value_order(kv[0]))
    vals = df[~df["status"].isin(["diverged", "failed"])]["best_val_loss"].to_numpy(dtype=float)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    lo, hi = (math.log10(vals.min()), math.log10(vals.max())) if vals.size else (0.0, 1.0)
    out = []
    for fv, g in groups[:_MAX_MAPS]:
        xs, ys, cells = heat_map_cells(g, x, y, "best_val_loss")
        grid = np.full((len(ys), len(xs)), np.nan)
        fig, ax = figures._figure((1.2 + 0.9 * len(xs), 0.9 + 0.45 * len(ys)))
        for (xv, yv), (v, note) in cells.items():
            i, j = ys.index(yv), xs.index(xv)
            if math.isfinite(v) and v > 0:
                grid[i, j] = math.log10(v)
            ax.text(j, i, f"{v:.3g}" if math.isfinite(v) else (note or "-"), ha="center", va="center", fontsize=8,
                    color="#d62728" if note else ("white" if math.isfinite(v) and (math.log10(v) - lo) <
                                                   0.6 * (hi - lo or 1) else "black"))
        ax.imshow(grid, cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1, aspect="auto")
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        ax.set_yticks(range(len(ys)), [str(v) for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if fv is not None:
            ax.set_title(f"{facet} = {fv}", fontsize=9)
        out.append(figures.to_svg(fig))
    more = (f'<p class="note">{len(groups) - _MAX_MAPS} more maps left out (one per {_esc(facet)}).</p>'
            if len(groups) > _MAX_MAPS else "")
    return ("<p>Each cell: the lowest best validation loss of its runs; darker is lower (log scale). "
            "“diverged” or “failed”: no run there gave a finite loss.</p>" + "".join(out) + more)


def _table(sweep, df) -> str:
    cols = ["run"] + list(sweep.varying) + ["status", "epochs", "best_val_loss", "final_val_loss", "step_ratio",
                                            "finding_title"] + (["error"] if (df["error"] != "").any() else [])
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    rows = []
    for _, row in df.sort_values("best_val_loss", na_position="last").iterrows():
        cells = []
        for c in cols:
            v = row[c]
            text = "" if isinstance(v, float) and math.isnan(v) else (f"{v:.4g}" if isinstance(v, float) else v)
            cells.append(f"<td>{_esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render_sweep_report(sweep, title: str = "LSTM sweep report") -> str:
    """The report's HTML text (see :func:`write_sweep_report`)."""
    df = sweep.results
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    try:
        best = sweep.best()
        best_text = (f"Best: run {best.index} ("
                     + ", ".join(f"{k} = {getattr(best.config, k)}" for k in sweep.varying)
                     + f"), best validation loss {df.loc[best.index, 'best_val_loss']:.4g}.")
    except ValueError as exc:
        best_text = f"No best run: {exc}"
    shared = {k: v for k, v in sweep.base.to_dict().items() if k not in sweep.varying}
    runs = (f"<p>{_esc(sweep.progress_text())}. {_esc(sweep.where)}</p><p>{_esc(best_text)}</p>"
            "<p>Shared by every run: " + _esc(", ".join(f"{k} = {v}" for k, v in shared.items())) + "</p>")
    parts = [
        _section("Runs", runs),
        _section("Validation loss of every run", figures.to_svg(_curves(sweep))),
        _section("Best validation loss over the settings", _heat_maps(sweep, df)),
        _section("Table of runs", _table(sweep, df)),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_esc(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1>"
            f"<p class=\"meta\">lstm_widgets sweep report · {len(sweep)} runs · written {now}</p>"
            + "".join(parts) + "</body></html>\n")


def write_sweep_report(path, sweep, title: str = "LSTM sweep report") -> str:
    """Write ONE self-contained HTML file of ``sweep`` (needs no network to open).
    Returns the path written."""
    path = Path(path)
    path.write_text(render_sweep_report(sweep, title), encoding="utf-8")
    return str(path)
