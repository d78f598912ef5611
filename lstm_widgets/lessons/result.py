"""The result type of the lessons' exercise checks: criteria with marks, numbers and hints."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["Criterion", "CheckResult"]


@dataclass
class Criterion:
    """One thing a check looks at.

    Attributes:
        text: What must hold, e.g. "The run did not diverge".
        passed: Whether it holds.
        detail: The numbers it was judged on, e.g. "loss 0.36 → 0.14".
        hint: What to try when it does not hold.
    """

    text: str
    passed: bool
    detail: str = ""
    hint: str = ""

    @property
    def mark(self) -> str:
        return "✓" if self.passed else "✗"

    def line(self) -> str:
        return f"{self.mark} {self.text}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class CheckResult:
    """The outcome of an exercise check.

    Attributes:
        name: The check, e.g. "check_clipping".
        criteria: Every criterion, in the order checked.
        notes: Extra lines shown under the criteria (e.g. "diagnosis not available").
    """

    name: str
    criteria: list[Criterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every criterion holds."""
        return bool(self.criteria) and all(c.passed for c in self.criteria)

    @property
    def hint(self) -> str:
        """The hint of the first criterion that does not hold ("" when all hold)."""
        for c in self.criteria:
            if not c.passed:
                return c.hint
        return ""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        head = f"{self.name}: {'PASSED' if self.passed else 'NOT YET'}"
        lines = [head] + [f"  {c.line()}" for c in self.criteria] + [f"  {n}" for n in self.notes]
        if not self.passed and self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour = "#2ca02c" if self.passed else "#d62728"
        verdict = "PASSED" if self.passed else "NOT YET"
        rows = "".join(
            f"<li style='list-style:none'><span style='color:{'#2ca02c' if c.passed else '#d62728'}'>"
            f"{c.mark}</span> {html.escape(c.text)}"
            + (f" <span style='color:var(--jp-ui-font-color2, #666)'>({html.escape(c.detail)})</span>"
               if c.detail else "")
            + "</li>"
            for c in self.criteria
        )
        notes = "".join(f"<div><i>{html.escape(n)}</i></div>" for n in self.notes)
        hint = (
            f"<div style='margin-top:4px'><b>Hint:</b> {html.escape(self.hint)}</div>"
            if not self.passed and self.hint else ""
        )
        return (
            f"<div class='lw-check' style='border-left:4px solid {colour}; padding:4px 8px'>"
            f"<b>{html.escape(self.name)}: <span style='color:{colour}'>{verdict}</span></b>"
            f"<ul style='margin:4px 0; padding-left:4px'>{rows}</ul>{notes}{hint}</div>"
        )
