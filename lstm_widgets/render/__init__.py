"""Findings as text, Markdown and HTML; the report's figures (matplotlib, inline SVG);
the self-contained HTML report. No widget and no TensorFlow is imported here."""

from __future__ import annotations

from .findings import findings_html, findings_markdown, findings_text
from .report import render_report, write_report

__all__ = ["findings_text", "findings_markdown", "findings_html", "write_report", "render_report"]
