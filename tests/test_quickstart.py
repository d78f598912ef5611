"""The quickstart notebook runs headless."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# -- the quickstart notebook --------------------------------------------------------------------
@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_notebook_runs_headless():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and all(not c.get("outputs") for c in code)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\n"
            "lab.set(epochs=2)\n"
            "lab.train(wait=True)\n"
            "assert len(lab.history) == 2 and lab.state == 'finished', lab.status_text\n"
            "print(sys.executable, lab.status_text)"
        )
    )
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    lab_out = code[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in lab_out), lab_out
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(Path(sys.prefix)) in printed or ".venv" in printed, printed
    assert "finished" in printed
