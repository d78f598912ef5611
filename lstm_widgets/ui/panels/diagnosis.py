"""DiagnosisPanel: the findings, most severe first, each with an action button."""

from __future__ import annotations

import html
from typing import Any, Callable

from ipywidgets import HTML, Button, HBox, Layout, VBox

from ...render.findings import finding_html, patch_text
from .base import Panel

_SEVERITY_ORDER = {"problem": 0, "warning": 1, "info": 2}


class DiagnosisPanel(Panel):
    """The findings for a History, most severe first, each with its evidence and a button
    for its patch.

    Args:
        findings_for: ``findings_for(history) -> list[Finding]``, e.g. a Lab's cached
            diagnosis. The panel never diagnoses by itself.
        on_apply: Called with a Finding when its button is clicked.
        action: The button's label: "Apply" (the Lab) or "Code" (watch(), whose fit
            cannot be changed while it runs). Defaults to "Apply".
    """

    css_class = "lw-diagnosis"

    def __init__(self, findings_for: Callable[[Any], list], on_apply: Callable[[Any], Any] | None = None,
                 action: str = "Apply") -> None:
        super().__init__()
        self.findings_for = findings_for
        self.on_apply = on_apply
        self.action = action
        self.findings: list = []  # what is shown, in order (the buttons act on these)
        self.message = ""
        self.header = HTML(
            "<b>Diagnosis</b> <span style='color: var(--jp-ui-font-color2)'>— waiting for the first epoch</span>"
        )
        self.header.add_class("lw-diagnosis-header")
        self._rows: list[tuple[HTML, Button, HBox]] = []
        self.list = VBox()
        # As tall as its findings: in a fixed-height scroll box the evidence and the "Fix:"
        # line (what Apply will do) were cut off mid-line.
        self._finish(self.header, self.list, layout={"width": "400px", "padding": "4px"})

    def _draw(self, history) -> None:
        if not len(history.records):
            return
        try:
            findings = list(self.findings_for(history))
        except Exception as exc:  # a diagnosis bug must not stop the panels or training
            self.findings = []
            self._show_header(f"diagnosis failed: {type(exc).__name__}: {exc}")
            self._show([])
            return
        findings.sort(key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))
        self.findings = findings
        n_bad = sum(1 for f in findings if f.actionable)
        self._show_header(f"{len(findings)} finding(s), {n_bad} to act on" if findings else "no findings")
        self._show(findings)

    def _show_header(self, text: str) -> None:
        self.message = text
        value = f"<b>Diagnosis</b> <span style='color: var(--jp-ui-font-color2)'>— {html.escape(text)}</span>"
        if self.header.value != value:
            self.header.value = value

    def _row(self, i: int) -> tuple[HTML, Button, HBox]:
        while len(self._rows) <= i:
            text = HTML(layout=Layout(width="310px"))
            text.add_class("lw-finding")
            button = Button(description=self.action, layout=Layout(width="70px"), tooltip="Apply this fix")
            button.add_class("lw-apply")
            j = len(self._rows)
            button.on_click(lambda _b, j=j: self._apply(j))
            box = HBox([text, button], layout=Layout(align_items="flex-start"))
            self._rows.append((text, button, box))
        return self._rows[i]

    def _apply(self, j: int) -> None:
        if j < len(self.findings) and self.on_apply is not None:
            self.on_apply(self.findings[j])

    def _show(self, findings: list) -> None:
        boxes = []
        for i, f in enumerate(findings):
            text, button, box = self._row(i)
            value = finding_html(f)
            if text.value != value:
                text.value = value
            show = bool(f.patch)
            if button.layout.visibility != ("visible" if show else "hidden"):
                button.layout.visibility = "visible" if show else "hidden"
            button.tooltip = f"{self.action}: {patch_text(f.patch)}"
            boxes.append(box)
        if [id(b) for b in self.list.children] != [id(b) for b in boxes]:
            self.list.children = boxes
