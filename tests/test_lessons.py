"""The lessons: every notebook runs headless with its solutions and passes its checks,
every starter runs and does not pass, the kernel stays small; the check functions pass
and fail on tiny real runs; the Binder pins install and run the quickstart."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from lstm_widgets import SequenceData, TrainConfig, load_dataset
from lstm_widgets.lessons import (
    CheckResult,
    Criterion,
    check_clipping,
    check_gradient_reach,
    check_learning_rate,
    check_own_data,
    check_scaler_fit,
    check_scaling,
    findings_markdown,
    gradient_reach,
    sample_csv_path,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))
LESSONS = [p for p in ALL_NOTEBOOKS if re.match(r"0[1-9]_", p.name)]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
MAX_RSS_BYTES = 1024**3  # mybinder.org allows 2 GB; the lessons must stay under half of it
SOLUTION_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# The kernel's own peak RSS. Not getrusage's ru_maxrss: Linux carries that high-water mark
# across exec from the process that forked the kernel (pytest, with TensorFlow loaded in a
# full run), so every kernel would "peak" at the test runner's size. VmHWM is per address
# space and starts afresh at exec.
RSS_CELL = (
    "import re\n"
    "print('LW_MAXRSS_KB', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _exercises(nb) -> list[tuple[int, str]]:
    """(index of the exercise cell, solution code) for each exercise."""
    out = []
    for i, cell in enumerate(nb.cells):
        if "exercise" in _tags(cell):
            out.append((i, SOLUTION_BLOCK.search(nb.cells[i + 1].source).group(1)))
    return out


# -- structure (fast) ------------------------------------------------------------------------


def test_there_are_five_lessons():
    assert [p.name[:2] for p in LESSONS] == ["01", "02", "03", "04", "05"]


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


# -- execution --------------------------------------------------------------------------------


def _run(nb, kernel_name="python3", cwd=NOTEBOOKS, timeout=300):
    from nbclient import NotebookClient

    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    return time.perf_counter() - t0


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _errors(nb) -> list[str]:
    return [
        f"cell {i}: {out.ename}: {out.evalue}\n" + "\n".join(out.traceback)[-2000:]
        for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.output_type == "error"
    ]


def _max_rss_kb(nb) -> int:
    match = re.search(r"LW_MAXRSS_KB (\d+)", _text(nb.cells[-1]))
    assert match, "the memory cell printed nothing"
    return int(match.group(1))


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
    nb.cells.append(nbformat.v4.new_code_cell(RSS_CELL))

    wall = _run(nb)
    rss_kb = _max_rss_kb(nb)
    print(f"\n[lesson] {path.name}: {wall:.1f} s wall, peak RSS {rss_kb / 1024:.0f} MB")

    assert not _errors(nb), "\n\n".join(_errors(nb))
    for starter_at, solution_at in starters.items():
        starter_out, solution_out = _text(nb.cells[starter_at]), _text(nb.cells[solution_at])
        assert "NOT YET" in starter_out and "PASSED" not in starter_out, (
            f"{path.name}: the starter code of cell {starter_at} should not pass:\n{starter_out}"
        )
        assert "PASSED" in solution_out, f"{path.name}: the solution did not pass:\n{solution_out}"
    assert rss_kb * 1024 < MAX_RSS_BYTES, f"{path.name}: peak RSS {rss_kb / 1024:.0f} MB"


# -- check functions on tiny real runs ---------------------------------------------------------


def _train(data, **settings):
    from lstm_widgets import Trainer

    trainer = Trainer(TrainConfig(units=8, **settings), data)
    trainer.start()
    assert trainer.wait(120)
    return trainer


@pytest.fixture(scope="module")
def adding20():
    return load_dataset("adding", n_samples=256, seq_len=20)


@pytest.fixture(scope="module")
def multiscale():
    return load_dataset("multiscale", n_samples=256, seq_len=20)


@pytest.fixture(scope="module")
def energy():
    df = pd.read_csv(sample_csv_path(), parse_dates=["timestamp"], index_col="timestamp")
    return SequenceData.from_series(df.iloc[:400], lookback=12, target="load_kw", name="energy")


def _failed(result: CheckResult) -> list[str]:
    return [c.text for c in result.criteria if not c.passed]


def test_check_clipping_passes_when_clipping_tames_the_explosion(adding20):
    trainer = _train(adding20, optimizer="sgd", learning_rate=1.0, clipping="global_clipnorm",
                     clip_threshold=0.1, epochs=8)
    result = check_clipping(trainer)
    assert result.passed, repr(result)
    assert "PASSED" in repr(result) and result.hint == ""


def test_check_clipping_fails_without_clipping_and_says_why(adding20):
    trainer = _train(adding20, optimizer="sgd", learning_rate=1.0, clipping="none", epochs=8)
    result = check_clipping(trainer)
    assert not result.passed
    assert "Gradient clipping is on" in _failed(result)
    assert "The final training loss beats always predicting the mean target" in _failed(result)
    assert "NOT YET" in repr(result) and "Hint:" in repr(result) and "clipping=" in result.hint


def test_check_clipping_fails_with_a_threshold_far_too_loose(adding20):
    trainer = _train(adding20, optimizer="sgd", learning_rate=1.0, clipping="global_clipnorm",
                     clip_threshold=100.0, epochs=8)
    result = check_clipping(trainer)
    assert not result.passed, repr(result)
    assert "learning_rate × threshold" in result.hint or "threshold" in result.hint


def test_check_learning_rate_pass_and_fail():
    data = load_dataset("adding", n_samples=256, seq_len=10)
    good = check_learning_rate(_train(data, learning_rate=1e-2, epochs=8))
    assert good.passed, repr(good)
    low = check_learning_rate(_train(data, learning_rate=1e-6, epochs=8))
    assert not low.passed
    assert "The weights move (no 'learning rate too low')" in _failed(low)
    assert "raise the learning rate" in low.hint


def test_check_learning_rate_needs_enough_epochs():
    data = load_dataset("adding", n_samples=128, seq_len=10)
    result = check_learning_rate(_train(data, learning_rate=1e-2, epochs=2))
    assert not result.passed
    assert _failed(result)[0].startswith("The latest run trained at least")
    assert "epochs=" in result.hint


def test_check_scaling_pass_fail_and_baseline(multiscale):
    unscaled = _train(multiscale, scaler="none", learning_rate=3e-3, epochs=8)
    scaled = _train(multiscale, scaler="standard", learning_rate=3e-3, epochs=8)
    result = check_scaling(scaled, baseline=unscaled)
    assert result.passed, repr(result)
    assert any("baseline" in c.text for c in result.criteria)
    bad = check_scaling(unscaled)
    assert not bad.passed
    failed = " ".join(_failed(bad))
    assert "A scaler is on" in failed and "comparable scales" in failed and "saturated" in failed
    # a baseline can be a number, or (history, run_id) of an earlier run
    assert not check_scaling(scaled, baseline=1e-9).passed
    assert check_scaling(scaled, baseline=(unscaled.history, unscaled.history.current_run)).passed
    with pytest.raises(ValueError, match="not in that History"):
        check_scaling(scaled, baseline=(unscaled.history, 99))


def test_check_scaler_fit(multiscale):
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    flat = lambda X: X.reshape(-1, X.shape[-1])  # noqa: E731
    assert check_scaler_fit(StandardScaler().fit(flat(multiscale.X_train)), multiscale).passed
    assert check_scaler_fit(MinMaxScaler().fit(flat(multiscale.X_train)), multiscale).passed
    leaky = StandardScaler().fit(flat(np.concatenate([multiscale.X_train, multiscale.X_val])))
    result = check_scaler_fit(leaky, multiscale)
    assert not result.passed and "seen the validation data" in result.hint
    unfitted = check_scaler_fit(StandardScaler(), multiscale)
    assert not unfitted.passed and "fit" in unfitted.hint
    lumped = check_scaler_fit(StandardScaler().fit(multiscale.X_train.reshape(-1, 1)), multiscale)
    assert not lumped.passed and "one statistic per feature" in _failed(lumped)[0]
    with pytest.raises(ValueError, match="StandardScaler or MinMaxScaler"):
        check_scaler_fit(object(), multiscale)
    with pytest.raises(ValueError, match="no validation split"):
        check_scaler_fit(leaky, SequenceData(multiscale.X_train, multiscale.y_train))


def test_gradient_reach_counts_back_from_the_end():
    assert gradient_reach([1e-9, 1e-5, 0.01, 0.5, 1.0]) == 3
    assert gradient_reach([1.0, 1.0, 1.0]) == 3
    assert gradient_reach([1.0, 1e-4, 1.0]) == 1  # stops at the first step below, walking back
    assert gradient_reach([0.2, 1.0], fraction=0.5) == 1
    for bad in ([], [1.0, math.nan], [1.0, 0.0]):
        with pytest.raises(ValueError, match="grad_through_time"):
            gradient_reach(bad)


def test_check_gradient_reach(adding20):
    trainer = _train(adding20, cell="simple_rnn", learning_rate=3e-3, epochs=3)
    truth = gradient_reach(trainer.history.latest.grad_through_time)
    assert check_gradient_reach(truth, trainer.history).passed
    assert check_gradient_reach(truth + 1, trainer).passed  # within one step
    wrong = check_gradient_reach(truth + 5, trainer.history)
    assert not wrong.passed and "too many" in repr(wrong)
    for answer in (None, float(truth), "3"):
        assert not check_gradient_reach(answer, trainer.history).passed


def test_check_own_data_pass_and_the_hints_that_lead_there(energy):
    good = check_own_data(_train(energy, scaler="standard", scale_target=True, learning_rate=3e-3, epochs=8))
    assert good.passed, repr(good)
    target_unscaled = check_own_data(_train(energy, scaler="standard", learning_rate=3e-3, epochs=8))
    assert not target_unscaled.passed and "scale_target=True" in target_unscaled.hint
    unscaled = check_own_data(_train(energy, scaler="none", learning_rate=3e-3, epochs=6))
    assert not unscaled.passed and "scaler='standard'" in unscaled.hint


def test_check_own_data_rejects_builtin_data_and_histories(adding20):
    trainer = _train(adding20, learning_rate=3e-3, epochs=5)
    result = check_own_data(trainer)
    assert "The data is your own (not a built-in dataset)" in _failed(result)
    with pytest.raises(ValueError, match="Lab or a Trainer"):
        check_own_data(trainer.history)


def test_checks_reject_what_is_not_a_run():
    for check in (check_clipping, check_learning_rate, check_scaling, check_own_data):
        with pytest.raises(ValueError, match="must be a Lab, a Trainer or a History"):
            check(42)
    with pytest.raises(ValueError, match="must be a Lab, a Trainer or a History"):
        check_gradient_reach(3, "history")


def test_checks_before_any_training_say_train_first():
    from lstm_widgets import History

    for check in (check_clipping, check_learning_rate, check_scaling):
        result = check(History())
        assert not result.passed and "nothing recorded yet" in repr(result)


def test_check_result_displays_itself():
    result = CheckResult("check_demo", [Criterion("A holds", True, "1 < 2"), Criterion("B holds", False, hint="do B")])
    assert not result and not result.passed and result.hint == "do B"
    text = repr(result)
    assert text.splitlines()[0] == "check_demo: NOT YET"
    assert "✓ A holds (1 < 2)" in text and "✗ B holds" in text and "Hint: do B" in text
    html = result._repr_html_()
    assert "NOT YET" in html and "✗" in html and "do B" in html and "<script" not in html
    ok = CheckResult("check_demo", [Criterion("A <b>holds</b>", True)])
    assert ok and repr(ok).startswith("check_demo: PASSED") and "&lt;b&gt;" in ok._repr_html_()
    assert not CheckResult("check_empty")  # no criterion, no pass


def test_findings_markdown():
    from lstm_widgets.diagnosis import Finding

    assert "nothing has been trained" in findings_markdown([])
    f = Finding("lr_too_low", "warning", "Learning rate too low", "Steps too small.",
                ["Update ratio 1e-5 per step."], {}, {"learning_rate": 1e-3}, "Raise it 100x.")
    text = findings_markdown([f])
    assert "**Learning rate too low**" in text and "Update ratio 1e-5" in text and "Raise it 100x" in text
    assert "Update ratio" not in findings_markdown([f], evidence=False)


def test_sample_csv_is_shipped_and_regenerates_identically(tmp_path):
    path = Path(sample_csv_path())
    df = pd.read_csv(path)
    assert list(df.columns) == ["timestamp", "temperature_c", "occupancy", "load_kw"]
    assert len(df) == 720 and not df.isna().any().any()
    script = ROOT / "lstm_widgets" / "datasets" / "make_energy_csv.py"
    copy = tmp_path / "make_energy_csv.py"
    shutil.copy(script, copy)
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    assert (tmp_path / "energy.csv").read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match="energy.csv"):
        sample_csv_path("nope.csv")


def test_compare_runs_one_line_per_run(adding20):
    from bqplot import LogScale

    from lstm_widgets.ui.compare import compare_runs, run_series

    a = _train(adding20, learning_rate=3e-3, epochs=3)
    b = _train(adding20, learning_rate=1e-2, epochs=4)
    fig = compare_runs({"slow": a.history, "fast": b, "records": b.history.run()}, field="loss")
    line = fig.marks[0]
    assert list(line.labels) == ["slow", "fast", "records"] and line.display_legend
    assert np.asarray(line.y).shape == (3, 4)  # padded to the longest run
    x0 = np.asarray(line.x)[0]
    assert np.isnan(x0[3]) or x0[3] == 3  # nothing drawn past the shorter run's last epoch
    assert isinstance(line.scales["y"], LogScale)
    y = np.asarray(line.y)
    assert line.scales["y"].min <= np.nanmin(y) and line.scales["y"].max >= np.nanmax(y)
    x, g = run_series(a, "grad_through_time")
    assert x[-1] == 0 and len(x) == adding20.n_timesteps and np.all(g > 0)
    lin = compare_runs({"a": (a.history, 1)}, field="clip_fraction", log_y=False)
    assert not isinstance(lin.marks[0].scales["y"], LogScale)
    with pytest.raises(ValueError, match="field must be one of"):
        compare_runs({"a": a}, field="nope")
    with pytest.raises(ValueError, match="legend_location must be one of"):
        compare_runs({"a": a}, legend_location="nowhere")
    assert list(fig.axes[0].tick_values) == [1.0, 2.0, 3.0, 4.0]  # whole epochs only
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_runs({})
    with pytest.raises(ValueError, match=r"runs\['x'\]"):
        compare_runs({"x": 3})
    with pytest.raises(ValueError, match="not in that History"):
        compare_runs({"a": (a.history, 7)})


def test_compare_runs_maps_non_positive_values_to_nan_on_a_log_scale():
    from lstm_widgets.history import EpochRecord
    from lstm_widgets.ui.compare import compare_runs

    recs = [EpochRecord(1, e, loss, None, 0.1, 1) for e, loss in enumerate([1.0, 0.0, -1.0, math.inf], 1)]
    line = compare_runs({"r": recs}).marks[0]
    x, y = np.atleast_1d(line.x).ravel(), np.atleast_1d(line.y).ravel()  # bqplot squeezes one row
    drawn = {(float(a), float(b)) for a, b in zip(x, y) if np.isfinite(a) and np.isfinite(b)}
    assert drawn == {(1.0, 1.0)}  # 0, -1 and inf are not drawn
    falling = [EpochRecord(1, e, loss, None, 0.1, 1) for e, loss in enumerate([1.0, 0.3, 0.1, 0.03], 1)]
    flat = [EpochRecord(2, e, 1.0, None, 0.1, 1) for e in range(1, 5)]
    assert compare_runs({"f": falling, "flat": flat}).legend_location == "bottom-left"  # the empty corner
    assert compare_runs({"f": falling}).legend_location == "top-right"  # two empty corners: top-right


# -- Binder ---------------------------------------------------------------------------------


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
    assert not _errors(nb), "\n\n".join(_errors(nb))
    rss_kb = _max_rss_kb(nb)
    where = _text(nb.cells[-2])
    print(f"[binder] quickstart: {printed.strip().splitlines()[-1]} s, peak RSS {rss_kb / 1024:.0f} MB, "
          f"{where.strip()}")
    assert str(venv) in where, f"the kernel did not import the installed lstm_widgets: {where}"
    assert rss_kb * 1024 < MAX_RSS_BYTES
