"""write_report: one self-contained HTML file of a training run.

Everything is inline: the CSS, and every picture as SVG drawn by matplotlib
(:mod:`lstm_widgets.render.figures`; no JavaScript, no fonts or files fetched from
anywhere), so the file opens offline and can be mailed or attached to an issue. The
findings are rendered by :mod:`lstm_widgets.render.findings`, as in the Lab.
"""

from __future__ import annotations

import datetime
import html
from pathlib import Path
from typing import Any

from ..history import History
from . import figures
from .findings import findings_html, patch_text

__all__ = ["write_report", "render_report", "SECTIONS"]

#: The report's section headings, in order.
SECTIONS = (
    "Settings",
    "Keras code",
    "Loss",
    "Gradient norm per layer",
    "Update per step per layer",
    "Gates",
    "Gradient through time",
    "Setting changes",
    "Findings",
)
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
.note { color: #666; font-style: italic; }
"""


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _section(title: str, body: str) -> str:
    slug = title.lower().replace(" ", "-")
    return f'<section id="{slug}"><h2>{_esc(title)}</h2>{body}</section>'


def _settings_table(history: History, config) -> str:
    rows: dict[str, Any] = {}
    if config is not None:
        rows.update(config.to_dict())
    latest = history.latest
    if latest is not None:
        for k, v in latest.settings.known().items():
            if k != "lr_schedule":
                rows.setdefault(k, v)
    s = history.structure
    if s.dataset:
        rows.setdefault("data / model", s.dataset)
    if s.timesteps:
        rows.setdefault("timesteps", s.timesteps)
    if s.layers:
        rows.setdefault("layers", ", ".join(f"{n} ({s.layer_cell.get(n) or 'no gates'})" for n in s.layers))
    if latest is not None:
        rows["epochs recorded"] = len(history)
        rows["last loss"] = f"{latest.loss:.4g}"
        if latest.val_loss is not None:
            rows["last val loss"] = f"{latest.val_loss:.4g}"
        rows["status"] = latest.status
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows.items())
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in s.notes)
    return f"<table>{body}</table>{notes}" if rows else f'<p class="note">Nothing recorded yet.</p>{notes}'


def _keras_code(history: History, config, findings) -> str:
    if config is None and history.latest is not None:
        config = history.latest.settings.to_config()
    if config is None:
        return '<p class="note">No Keras code: the optimizer is not one lstm_widgets knows.</p>'
    s = history.structure
    own_model = s.source == "watch"  # the user's model: only the optimizer is ours to show

    def code_for(cfg) -> str:
        if own_model:
            return f"model.compile(optimizer={cfg.keras_optimizer_code()}, loss=...)  # your loss\n"
        return cfg.to_keras_code(s.timesteps, len(s.features) or None)

    out = f"<p>The settings in force, as plain Keras 3 + scikit-learn:</p><pre>{_esc(code_for(config))}</pre>"
    patch: dict[str, Any] = {}
    for f in findings or []:
        if f.actionable:
            patch.update(f.patch or {})
    if patch:
        try:
            fixed = config.replace(**{k: v for k, v in patch.items() if k in config.field_names()})
            out += (f"<p>With the findings' fixes applied ({_esc(patch_text(patch))}):"
                    f"</p><pre>{_esc(code_for(fixed))}</pre>")
        except ValueError as exc:
            out += f'<p class="note">The suggested fixes could not be combined: {_esc(exc)}</p>'
    return out


def _markers_html(history: History) -> str:
    ms = list(history.markers)
    if not ms:
        return '<p class="note">No setting changed during training.</p>'
    rows = "".join(f"<tr><td>{m.run_id}</td><td>{m.position:g}</td><td>{_esc(m.setting)}</td>"
                   f"<td>{_esc(m.old)}</td><td>{_esc(m.new)}</td></tr>" for m in ms)
    return f"<table><tr><th>run</th><th>epoch</th><th>setting</th><th>from</th><th>to</th></tr>{rows}</table>"


def _figures(*figs) -> str:
    return "".join(figures.to_svg(f) for f in figs)


def render_report(history: History, config=None, findings=None, title: str = "LSTM training report") -> str:
    """The report's HTML text (see :func:`write_report`)."""
    if not isinstance(history, History):
        raise ValueError(f"history must be an lstm_widgets History; got {type(history).__name__}.")
    run_id = history.current_run
    layers = list(history.structure.layers)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    run_note = f"run {run_id} of {len(history.run_ids)}" if run_id is not None else "no run recorded"
    parts = [
        _section("Settings", _settings_table(history, config)),
        _section("Keras code", _keras_code(history, config, findings)),
        _section("Loss", _figures(figures.loss_figure(history, run_id))),
        _section("Gradient norm per layer", _figures(figures.gradient_figure(history, run_id, layers))),
        _section("Update per step per layer", _figures(figures.update_figure(history, run_id, layers))),
        _section("Gates", _figures(*figures.gate_figures(history, run_id))),
        _section("Gradient through time", _figures(*figures.time_figures(history, run_id))),
        _section("Setting changes", _markers_html(history)),
        _section("Findings", findings_html(findings)),
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
        findings: ``diagnose(...)``'s findings. Defaults to None (the Findings section
            says no diagnosis was available).
        title: The page title. Defaults to "LSTM training report".

    Returns:
        The path written, as a string.
    """
    path = Path(path)
    path.write_text(render_report(history, config=config, findings=findings, title=title), encoding="utf-8")
    return str(path)
