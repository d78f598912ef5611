"""The lstm-widgets command: diagnose (exit 0/1/2) and lessons."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

VENV_BIN = Path(sys.executable).parent


def _tf_noise(text: str) -> str:
    return "\n".join(l for l in text.splitlines() if not re.match(r"^(WARNING: All log messages|I0000|W0000)", l))


# -- the CLI -----------------------------------------------------------------------------------------
def _cli(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(VENV_BIN / "lstm-widgets"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    t = np.arange(400)
    rng = np.random.default_rng(0)
    import pandas as pd

    pd.DataFrame({"x": np.sin(0.2 * t) + 0.05 * rng.normal(size=400), "y": np.cos(0.2 * t)}).to_csv(
        d / "small.csv", index=False)
    pd.DataFrame({"x": ["a"] * 50, "y": range(50)}).to_csv(d / "text.csv", index=False)
    return d


def test_cli_diagnose_healthy_exit_0(csv_dir):
    r = _cli("diagnose", "small.csv", "--target", "y", "--lookback", "10", "--epochs", "3", cwd=csv_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Healthy" in r.stdout and "Traceback" not in r.stderr


def test_cli_diagnose_problem_exit_1(csv_dir):
    r = _cli("diagnose", "small.csv", "--target", "y", "--lookback", "10", "--epochs", "3", "--lr", "1e-7",
             "--report", "r.html", cwd=csv_dir)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Learning rate too low" in r.stdout and "keras.optimizers.Adam(learning_rate=1e-05)" in r.stdout
    assert (csv_dir / "r.html").exists()


@pytest.mark.parametrize("args,needle", [
    (["missing.csv", "--target", "y", "--lookback", "10"], "no such file"),
    (["small.csv", "--target", "nope", "--lookback", "10"], "--target"),
    (["text.csv", "--target", "y", "--lookback", "5"], "not numeric"),
    (["small.csv", "--target", "y", "--lookback", "5000"], "--lookback"),
    (["small.csv", "--target", "y"], "--lookback"),
    (["small.csv", "--target", "y", "--lookback", "10", "--lr", "-1"], "learning_rate"),
])
def test_cli_diagnose_bad_input_exit_2(csv_dir, args, needle):
    r = _cli("diagnose", *args, cwd=csv_dir)
    assert r.returncode == 2, r.stdout + r.stderr
    err = _tf_noise(r.stderr).strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1, err


def test_cli_lessons_copies_and_keeps_edits(tmp_path):
    from lstm_widgets.cli import lesson_source

    names = sorted(p.name for p in lesson_source().glob("*.ipynb"))
    assert names, "no lesson notebooks found"
    r = _cli("lessons", "L", "--no-lab", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "L").glob("*.ipynb")) == names
    edited = tmp_path / "L" / names[0]
    edited.write_text("my edits")
    r = _cli("lessons", "L", "--no-lab", cwd=tmp_path)
    assert r.returncode == 0 and edited.read_text() == "my edits"
    assert "not overwritten" in r.stdout and names[0] in r.stdout
