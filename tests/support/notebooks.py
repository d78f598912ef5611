"""Helpers for tests that run notebooks in a real kernel (nbclient)."""

from __future__ import annotations

import re

# The kernel's own peak RSS. Not getrusage's ru_maxrss: Linux carries that high-water mark
# across exec from the process that forked the kernel (pytest, with TensorFlow loaded in a
# full run), so every kernel would "peak" at the test runner's size. VmHWM is per address
# space and starts afresh at exec.
RSS_CELL = (
    "import re\n"
    "print('LW_MAXRSS_KB', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
)


def cell_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def notebook_errors(nb) -> list[str]:
    return [
        f"cell {i}: {out.ename}: {out.evalue}\n" + "\n".join(out.traceback)[-2000:]
        for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.output_type == "error"
    ]


def max_rss_kb(nb) -> int:
    match = re.search(r"LW_MAXRSS_KB (\d+)", cell_text(nb.cells[-1]))
    assert match, "the memory cell printed nothing"
    return int(match.group(1))

