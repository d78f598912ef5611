"""CodeView: the Keras 3 + scikit-learn code for the settings in force."""

from __future__ import annotations

import html

from ipywidgets import HTML, Layout


class CodeView:
    """The Keras 3 + scikit-learn code for the settings in force, in an HTML <pre>."""

    def __init__(self) -> None:
        self.widget = HTML(layout=Layout(width="auto"))
        self.widget.add_class("lw-code")
        self.code = ""

    def show(self, code: str, note: str = "") -> None:
        """Show ``code`` (and a one-line ``note`` above it)."""
        self.code = code
        head = f"<div style='color: var(--jp-ui-font-color2)'>{html.escape(note)}</div>" if note else ""
        value = (
            "<details open><summary style='color: var(--jp-ui-font-color1); cursor: pointer'>"
            "<b>Keras code for the settings in force</b></summary>"
            f"{head}<pre style='color: var(--jp-content-font-color1); background: var(--jp-layout-color2); "
            "border: 1px solid var(--jp-border-color2); padding: 6px; max-height: 260px; overflow: auto; "
            f"font-size: 11px; line-height: 1.3'>{html.escape(code)}</pre></details>"
        )
        if self.widget.value != value:
            self.widget.value = value
