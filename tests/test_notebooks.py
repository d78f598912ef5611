"""The lessons: every notebook runs headless with its solutions and passes its checks,
every starter runs and does not pass, the kernel stays small."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest

from support.claims import CLAIMS, FACTS_CELL, facts_of
from support.notebooks import RSS_CELL, cell_text, max_rss_kb, notebook_errors

ROOT = Path(__file__).resolve().parents[1]


NOTEBOOKS = ROOT / "notebooks"


ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))


LESSONS = [p for p in ALL_NOTEBOOKS if re.match(r"0[1-9]_", p.name)]


KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


MAX_RSS_BYTES = 1024**3  # mybinder.org allows 2 GB; the lessons must stay under half of it


SOLUTION_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _exercises(nb) -> list[tuple[int, str]]:
    """(index of the exercise cell, solution code) for each exercise."""
    out = []
    for i, cell in enumerate(nb.cells):
        if "exercise" in _tags(cell):
            out.append((i, SOLUTION_BLOCK.search(nb.cells[i + 1].source).group(1)))
    return out


def test_there_are_six_lessons():
    assert [p.name[:2] for p in LESSONS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_saved_clean_with_a_kernelspec(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert dict(nb.metadata.get("kernelspec", {})) == KERNELSPEC
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_structure(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "**Goal.**" in first.source
    assert nb.cells[-1].cell_type == "markdown" and nb.cells[-1].source.startswith("## What to remember")
    exercises = _exercises(nb)
    assert exercises, "a lesson needs at least one exercise"
    for i, solution in exercises:
        starter, hidden = nb.cells[i], nb.cells[i + 1]
        assert starter.cell_type == "code" and "check_" in starter.source
        assert hidden.cell_type == "markdown" and "solution" in _tags(hidden)
        assert "<details><summary>Show solution</summary>" in hidden.source
        assert "check_" in solution and solution.strip() != starter.source.strip()
    # A lesson shows its problem live: a Lab, trained with wait=True for headless runs.
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "Lab(" in code and "train(wait=True)" in code
    # Numbers in the explanations come from the run: f-strings rendered as Markdown.
    assert "display(Markdown(" in code or "say(" in code


#: Code that does something a learner should read: such a cell shows its source.
_ACTS = ("make_windows(", "SequenceData", "read_csv(", "Lab(", ".train(", "compare_runs(", "check_", "Sweep(",
         ".run(", "display(", "keep_run", "restart(", "first_checks(")


def _narrates(src: str) -> bool:
    """A cell whose work is to word a paragraph from the run (numbers into say(...))."""
    s = src.strip()
    return "say(" in s and not any(k in s for k in _ACTS) and s.splitlines()[-1].strip() not in ("lab", "sweep")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_the_first_cell_says_what_to_do_when_a_saved_lab_shows_model_not_found(path):
    """A notebook saved with its widgets and reopened shows "Error displaying widget:
    model not found" in place of each Lab, with no word of why."""
    first = nbformat.read(path, as_version=4).cells[0]
    assert "model not found" in first.source and "Run All Cells" in first.source


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_cells_that_only_narrate_show_their_text_not_their_code(path):
    """The prose of a lesson lives in say(f"...") cells; with their source shown the
    learner read each paragraph twice, once as code. Those cells start collapsed
    (JupyterLab and Notebook 7 show a "..." to open them); a cell that acts shows its code."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        hidden = bool(cell.metadata.get("jupyter", {}).get("source_hidden"))
        assert hidden == _narrates(cell.source), f"cell {i}: source_hidden={hidden}:\n{cell.source[:300]}"


def _run(nb, kernel_name="python3", cwd=NOTEBOOKS, timeout=300):
    from nbclient import NotebookClient

    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    return time.perf_counter() - t0


@pytest.mark.notebook
@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_headless_with_solutions(path):
    """Each exercise cell runs twice in the notebook's own state: first its starter code
    (which must run and must NOT pass), then the solution (which must pass). The rest of
    the notebook then runs on after the solution."""
    nb = nbformat.read(path, as_version=4)
    exercises = _exercises(nb)
    starters = {}
    for offset, (i, solution) in enumerate(exercises):
        at = i + offset  # each inserted starter shifts the later cells by one
        starter = nbformat.v4.new_code_cell(nb.cells[at].source)
        starter.metadata["tags"] = ["starter"]
        nb.cells[at].source = solution
        nb.cells.insert(at, starter)
        starters[at] = at + 1
    nb.cells.append(nbformat.v4.new_code_cell(FACTS_CELL))
    nb.cells.append(nbformat.v4.new_code_cell(RSS_CELL))

    wall = _run(nb)
    rss_kb = max_rss_kb(nb)
    print(f"\n[lesson] {path.name}: {wall:.1f} s wall, peak RSS {rss_kb / 1024:.0f} MB")

    assert not notebook_errors(nb), "\n\n".join(notebook_errors(nb))
    for starter_at, solution_at in starters.items():
        starter_out, solution_out = cell_text(nb.cells[starter_at]), cell_text(nb.cells[solution_at])
        assert "NOT YET" in starter_out and "PASSED" not in starter_out, (
            f"{path.name}: the starter code of cell {starter_at} should not pass:\n{starter_out}"
        )
        assert "PASSED" in solution_out, f"{path.name}: the solution did not pass:\n{solution_out}"
    for i, cell in enumerate(nb.cells):  # a frozen picture shows the run it was taken of
        if cell.cell_type == "code" and "lab.snapshot(" in cell.source:
            shown = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
            assert "frozen picture of run" in shown and shown.count("<svg") >= 2, f"{path.name}: cell {i}"
    assert rss_kb * 1024 < MAX_RSS_BYTES, f"{path.name}: peak RSS {rss_kb / 1024:.0f} MB"
    if path.stem in CLAIMS:  # what the lesson teaches, on the runs it made
        CLAIMS[path.stem](facts_of(cell_text(nb.cells[-2])))
