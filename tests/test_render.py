"""Findings rendered as Markdown (the renderer the lessons use)."""

from __future__ import annotations

from lstm_widgets.lessons import (
    findings_markdown,
)


def test_findings_markdown():
    from lstm_widgets.diagnosis import Finding

    assert "nothing has been trained" in findings_markdown([])
    f = Finding("lr_too_low", "warning", "Learning rate too low", "Steps too small.",
                ["Update ratio 1e-5 per step."], {}, {"learning_rate": 1e-3}, "Raise it 100x.")
    text = findings_markdown([f])
    assert "**Learning rate too low**" in text and "Update ratio 1e-5" in text and "Raise it 100x" in text
    assert "Update ratio" not in findings_markdown([f], evidence=False)
