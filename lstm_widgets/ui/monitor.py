"""MonitorView: live panels and the diagnosis for a user's own ``model.fit``.

``lstm_widgets.watch(model)`` displays one below the cell. Keras calls the Monitor's
``on_epoch_end`` on the thread that runs ``fit`` (the cell's own, in the foreground);
the view redraws from there. ipykernel sends comm messages on iopub at once, even
while the cell is still running, so the plots move epoch by epoch during ``fit``.

The diagnosis cannot change a fit that is already running: a finding's button shows
the Keras code of its fix (recompile with it and call ``fit`` again; the Monitor keeps
recording into the same run and marks the change on the plots).
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections import deque

from ipywidgets import HTML, Box, Layout, VBox

from ..diagnosis import CachedDiagnosis
from .panels import CodeView, DiagnosisPanel, make_panels

__all__ = ["MonitorView", "show_monitor"]

log = logging.getLogger("lstm_widgets")


class MonitorView:
    """Live panels + diagnosis for a :class:`lstm_widgets.watch.Monitor`.

    Stable CSS classes: ``lw-monitor`` (root), ``lw-monitor-status`` (status line),
    ``lw-monitor-notes`` (notes), and the panels' own ``lw-panel-*`` / ``lw-diagnosis``.

    Args:
        monitor: The Monitor to follow; the view subscribes to its epochs.
    """

    def __init__(self, monitor) -> None:
        self.monitor = monitor
        self._lock = threading.RLock()
        self.update_times: deque[float] = deque(maxlen=200)
        self.panels = make_panels()
        self._diagnosis = CachedDiagnosis()
        self.diagnosis_panel = DiagnosisPanel(lambda h: self._diagnosis(h), on_apply=self._show_fix, action="Code")
        self.code_view = CodeView()
        self.status = HTML()
        self.status.add_class("lw-monitor-status")
        self.notes = HTML()
        self.notes.add_class("lw-monitor-notes")
        grid = Box(
            [p.widget for p in self.panels.values()] + [self.diagnosis_panel.widget],
            layout=Layout(display="flex", flex_flow="row wrap", align_items="flex-start", grid_gap="4px"),
        )
        grid.add_class("lw-panels")
        self.code_view.widget.layout.display = "none"
        self.widget = VBox([self.status, self.notes, grid, self.code_view.widget], layout=Layout(width="100%"))
        self.widget.add_class("lw-monitor")
        monitor.on_epoch(self._on_epoch)
        self._show_status()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def update(self) -> float:
        """Redraw every panel and the diagnosis from the History; returns seconds spent."""
        t0 = time.perf_counter()
        with self._lock:
            h = self.monitor.history
            for p in self.panels.values():
                p.update(h)
            self.diagnosis_panel.update(h)
            self._show_status()
        dt = time.perf_counter() - t0
        self.update_times.append(dt)
        return dt

    def _on_epoch(self, record) -> None:
        self.update()

    def _show_status(self) -> None:
        h = self.monitor.history
        r = h.latest
        if r is None:
            text = "waiting for model.fit(..., callbacks=[monitor])"
        else:
            s = r.settings
            clip_text = f"{s.clipping}={s.clip_threshold:g}" if s.clipping != "none" else "no clipping"
            val = f" · val loss {r.val_loss:.4g}" if r.val_loss is not None else ""
            lr = s.learning_rate if s.learning_rate is not None else float("nan")
            text = (
                f"epoch {r.epoch} · loss {r.loss:.4g}{val} · {s.optimizer_class or s.optimizer} "
                f"lr {lr:.3g} · {clip_text} · {r.time_s:.2f} s/epoch"
            )
            if r.status == "diverged":
                text += " · DIVERGED (loss, a gradient or a weight is NaN/inf)"
        value = f"<b>lstm_widgets.watch</b> <span class='lw-monitor-text'>— {html.escape(text)}</span>"
        if self.status.value != value:
            self.status.value = value
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.monitor.notes)
        value = f"<ul style='margin:0 0 0 16px; padding:0; color: var(--jp-ui-font-color2)'>{notes}</ul>" if notes else ""
        if self.notes.value != value:
            self.notes.value = value

    def _show_fix(self, finding) -> None:
        """Show the Keras code of a finding's patch (a running fit cannot be changed)."""
        r = self.monitor.history.latest
        cfg = r.settings.to_config() if r is not None else None
        patch = dict(getattr(finding, "patch", {}) or {})
        try:
            if cfg is None:
                raise ValueError("the optimizer is not one lstm_widgets knows (adam, rmsprop, nadam, sgd)")
            fixed = cfg.replace(**{k: v for k, v in patch.items() if k in cfg.field_names()})
            code = (
                f"model.compile(optimizer={fixed.keras_optimizer_code()}, loss=...)  # your loss\n"
                f"model.fit(..., callbacks=[monitor])  # keeps recording into the same run\n"
            )
            if "scaler" in patch and patch["scaler"] != "none":
                code = "# Scale X per feature, fitted on the training split only, then:\n" + code
            note = f"Fix for {finding.title!r}: {finding.fix}"
        except ValueError as exc:
            code = f"# suggested change: {patch}\n"
            note = f"Fix for {finding.title!r} ({exc})"
        self.code_view.show(code, note)
        self.code_view.widget.layout.display = None


def show_monitor(monitor) -> MonitorView:
    """Display a MonitorView for ``monitor`` in the current cell's output."""
    from IPython.display import display

    view = MonitorView(monitor)  # kept alive by its subscription to the monitor's epochs
    display(view)
    return view
