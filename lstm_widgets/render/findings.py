"""Findings as text, Markdown and HTML: the one renderer the Lab, the monitor, the
report, the lessons and the CLI all use."""

from __future__ import annotations

import html
from typing import Iterable

__all__ = [
    "SEVERITY_COLOURS",
    "patch_text",
    "finding_text",
    "findings_text",
    "findings_markdown",
    "finding_html",
    "findings_html",
]

#: One colour per severity (they read on light and dark backgrounds alike).
SEVERITY_COLOURS = {"problem": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
_MUTED = "var(--jp-ui-font-color2, #666)"
_TEXT = "var(--jp-ui-font-color1, #222)"


def patch_text(patch: dict) -> str:
    """A patch as settings, e.g. "clipping='clipnorm', clip_threshold=1.0"."""
    return ", ".join(f"{k}={v!r}" for k, v in (patch or {}).items())


def finding_text(f, indent: str = "    ") -> str:
    """One finding as plain text: a "[SEVERITY] title" line, then the explanation,
    the evidence and the fix, indented."""
    lines = [f"[{f.severity.upper()}] {f.title}", f"{indent}{f.explanation}"]
    lines += [f"{indent}- {e}" for e in f.evidence or []]
    if f.fix:
        lines.append(f"{indent}Fix: {f.fix}")
    return "\n".join(lines)


def findings_text(findings: Iterable) -> str:
    """Every finding as plain text, a blank line between them."""
    findings = list(findings or [])
    if not findings:
        return "No diagnosis yet: nothing has been trained."
    return "\n\n".join(finding_text(f) for f in findings)


def findings_markdown(findings, evidence: bool = True) -> str:
    """The diagnosis as Markdown, for ``IPython.display.Markdown`` in a lesson.

    Args:
        findings: What :func:`lstm_widgets.diagnose` (or ``lab.findings``) returned.
        evidence: Also list each finding's evidence lines and fix. Defaults to True.
    """
    if not findings:
        return "*No diagnosis yet: nothing has been trained.*"
    parts = []
    for f in findings:
        parts.append(f"- **{f.title}** ({f.severity}, `{f.code}`): {f.explanation}")
        if evidence:
            parts += [f"  - {line}" for line in f.evidence]
            if f.fix:
                parts.append(f"  - *Fix:* {f.fix}" + (f" (patch `{f.patch}`)" if f.patch else ""))
    return "\n".join(parts)


def finding_html(f, show_patch: bool = False) -> str:
    """One finding as an HTML block (inline styles; Jupyter's theme colours where they
    exist, fixed colours elsewhere): severity, title, explanation, evidence, fix."""
    esc = html.escape
    colour = SEVERITY_COLOURS.get(f.severity, _MUTED)
    evidence = "".join(f"<li>{esc(str(e))}</li>" for e in (f.evidence or []))
    fix = f"<div><i>Fix:</i> {esc(f.fix)}</div>" if f.fix else ""
    patch = (f"<div><code>{esc(patch_text(f.patch))}</code></div>" if show_patch and f.patch else "")
    return (
        f"<div class='lw-finding-{esc(f.severity)}' style='color:{_TEXT}; border-left:4px solid {colour}; "
        f"padding:2px 8px; margin:4px 0; line-height:1.4; white-space:normal'>"
        f"<span style='color:{colour}; font-weight:bold; text-transform:uppercase; font-size:0.85em'>"
        f"{esc(f.severity)}</span> <b>{esc(f.title)}</b><div>{esc(f.explanation)}</div>"
        f"<ul style='margin:2px 0 2px 16px; padding:0'>{evidence}</ul>{fix}{patch}</div>"
    )


def findings_html(findings, show_patch: bool = True) -> str:
    """Every finding as HTML (a note when there is none)."""
    if findings is None:
        return f"<p style='color:{_MUTED}'><i>No diagnosis was available.</i></p>"
    if not findings:
        return "<p>No findings.</p>"
    return "".join(finding_html(f, show_patch) for f in findings)
