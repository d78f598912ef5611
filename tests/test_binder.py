"""The Binder pins install into a fresh virtual environment and run the quickstart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from support.notebooks import RSS_CELL, cell_text, max_rss_kb, notebook_errors

ROOT = Path(__file__).resolve().parents[1]


NOTEBOOKS = ROOT / "notebooks"


MAX_RSS_BYTES = 1024**3  # mybinder.org allows 2 GB; the lessons must stay under half of it


@pytest.mark.slow
@pytest.mark.notebook
def test_binder_requirements_install_and_run_the_quickstart(tmp_path):
    """A fresh venv with binder/requirements.txt and binder/postBuild runs 00_quickstart.

    Binder pins Python 3.12 (runtime.txt); this checks the same pins on this machine's
    Python, with pip's cache reused between runs.
    """
    quickstart = NOTEBOOKS / "00_quickstart.ipynb"
    if not quickstart.exists():
        pytest.skip("notebooks/00_quickstart.ipynb is not there yet")
    venv = tmp_path / "binder-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "VIRTUAL_ENV": str(venv), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)

    def sh(*cmd, **kw):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
        assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    t0 = time.perf_counter()
    sh(str(py), "-m", "pip", "install", "-q", "-r", str(ROOT / "binder" / "requirements.txt"), timeout=1800)
    # repo2docker runs postBuild from the repository root, with the environment's python first on PATH.
    sh("bash", str(ROOT / "binder" / "postBuild"), cwd=ROOT, timeout=600)
    print(f"\n[binder] install: {time.perf_counter() - t0:.0f} s")
    sh(str(py), "-m", "ipykernel", "install", "--sys-prefix", "--name", "lw-binder")

    # The pins really are the ones installed.
    pins = dict(
        line.split("==") for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    )
    frozen = dict(
        line.split("==") for line in sh(str(py), "-m", "pip", "freeze").splitlines() if "==" in line
    )
    norm = lambda n: n.lower().replace("_", "-")  # noqa: E731
    frozen = {norm(k): v for k, v in frozen.items()}
    for name, version in pins.items():
        assert frozen.get(norm(name)) == version.strip(), f"{name}: pinned {version}, got {frozen.get(norm(name))}"

    # Run the quickstart with the venv's own nbclient and kernel, not this process's.
    out = tmp_path / "quickstart_out.ipynb"
    runner = textwrap.dedent(f"""
        import re, resource, sys, time
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(quickstart)!r}, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("import lstm_widgets; print('LW_FILE', lstm_widgets.__file__)"))
        nb.cells.append(nbformat.v4.new_code_cell({RSS_CELL!r}))
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="lw-binder", allow_errors=True,
                       resources={{"metadata": {{"path": {str(NOTEBOOKS)!r}}}}}).execute()
        print(f"WALL {{time.perf_counter() - t0:.1f}}")
        nbformat.write(nb, {str(out)!r})
    """)
    # cwd outside the repository, so the kernel imports the installed lstm_widgets.
    printed = sh(str(py), "-c", runner, cwd=tmp_path, timeout=900)
    nb = nbformat.read(out, as_version=4)
    assert not notebook_errors(nb), "\n\n".join(notebook_errors(nb))
    rss_kb = max_rss_kb(nb)
    where = cell_text(nb.cells[-2])
    print(f"[binder] quickstart: {printed.strip().splitlines()[-1]} s, peak RSS {rss_kb / 1024:.0f} MB, "
          f"{where.strip()}")
    assert str(venv) in where, f"the kernel did not import the installed lstm_widgets: {where}"
    assert rss_kb * 1024 < MAX_RSS_BYTES
