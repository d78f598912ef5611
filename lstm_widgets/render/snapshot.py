"""A frozen picture of one run: what a lesson's text describes, kept as it was.

A Lab is live: after Run All, the cells further down (an exercise, another setting) have
changed it, so a lesson's first Lab showed the exercise's final state under text about
the run before it. A snapshot is plain HTML (inline SVG drawn by matplotlib, no widget),
so later cells cannot change it and a saved notebook shows it without a kernel.
"""

from __future__ import annotations

import html

from ..history import History
from . import figures

__all__ = ["snapshot_html", "PANELS"]

#: The pictures a snapshot can hold, by the Lab's panel names.
PANELS = {
    "loss": lambda h, r: [figures.loss_figure(h, r)],
    "grad": lambda h, r: [figures.gradient_figure(h, r)],
    "update": lambda h, r: [figures.update_figure(h, r)],
    "gates": lambda h, r: figures.gate_figures(h, r),
    "time": lambda h, r: figures.time_figures(h, r),
}


def snapshot_html(history: History, run_id=None, title: str = "", status: str = "",
                  panels=("loss", "grad", "update")) -> str:
    """The run's pictures side by side under a caption (the title, the run, its settings
    and the status when taken).

    Raises:
        ValueError: an unknown panel name, or no run recorded yet.
    """
    unknown = [p for p in panels if p not in PANELS]
    if unknown:
        raise ValueError(f"panels has unknown name(s) {unknown}; choose from {list(PANELS)}.")
    run_id = history.current_run if run_id is None else run_id
    records = history.run(run_id) if run_id is not None else []
    if not records:
        raise ValueError("Nothing to picture yet: train first (lab.train(wait=True)), then take the snapshot.")
    s = records[-1].settings
    what = f"run {run_id}, {len(records)} epoch(s): {s.optimizer} lr {s.learning_rate:g}, clipping {s.clipping}"
    if s.clipping != "none" and s.clip_threshold is not None:
        what += f" {s.clip_threshold:g}"
    svgs = "".join(f'<div style="flex:0 0 auto">{figures.to_svg(fig)}</div>'
                   for name in panels for fig in PANELS[name](history, run_id))
    head = f"<b>{html.escape(title)}</b> " if title else ""
    tail = f" · {html.escape(status)}" if status else ""
    return (f'<style>.lw-snapshot svg.lw-plot{{width:390px;height:auto}}</style>'
            f'<div class="lw-snapshot" style="border-left:3px solid var(--jp-border-color1,#ccc);padding-left:8px">'
            f'<div style="font-size:12px;color:var(--jp-ui-font-color1)">{head}'
            f'<span style="color:var(--jp-ui-font-color2)">frozen picture of {html.escape(what)}{tail}</span></div>'
            f'<div style="display:flex;flex-flow:row wrap;gap:6px">{svgs}</div></div>')
