"""The built wheel, installed where its users are, in fresh virtual environments.

- Into an environment that already has TensorFlow: that one stays the only TensorFlow,
  and lstm_widgets trains with it (and, were it removed, says what to install).
- From nothing, the ``cpu`` extra (what ``make lab``, ``make test`` and Binder's pins use)
  brings the CPU-only build.
- The wheel carries the lessons and the bundled data, and ``lstm-widgets lessons DIR``
  copies them from the installed wheel.
- The newest Keras and TensorFlow pip resolves today run the watch() and Trainer tests
  (tests/test_keras_versions.py runs the lowest declared pair).
- Python 3.12, Binder's runtime: its pins and this package resolve for it, and Python
  3.13, which nothing here runs, is refused.

Every pip step resolves against the index and takes its wheels from a wheelhouse that
persists between runs (tests/support/venvs.py says why pip's own cache does not suffice).
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest

from support.venvs import SHARED_TESTS, ROOT, Venv, build_wheel, cpu_build, download, remove, run_tests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

NOTEBOOKS = ROOT / "notebooks"
SMOKE = Path(__file__).parent / "support" / "smoke.py"


def norm(name: str) -> str:
    return name.lower().replace("_", "-")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, wheel):
    """A venv with nothing but ``pip install 'lstm_widgets[cpu]'`` (the learner's path);
    ``owners`` and ``dists`` are read right after that install."""
    venv = Venv(tmp_path_factory.mktemp("fresh") / "fresh")
    venv.install(f"{wheel}[cpu]")
    venv.owners = {norm(k): v for k, v in venv.tensorflow_owners().items()}
    venv.dists = venv.distributions()
    yield venv
    remove(venv)


def check_smoke(venv: Venv, cwd: Path) -> dict:
    done = venv.run(venv.python, SMOKE, cwd=cwd, timeout=900)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["file"].startswith(str(venv.path)), f"imported the checkout, not the installed wheel: {got['file']}"
    assert got["trainer_finished_in_time"] and got["trainer_state"] == "finished" and got["trainer_epochs"] == 1, got
    assert got["watch_epochs"] == 1 and got["watch_steps"] == 2 and got["watch_complete"], got
    assert got["finite"] and got["trainer_grad"] > 0 and got["watch_grad"] > 0 and got["watch_clipped"], got
    return got


def test_with_tensorflow_already_installed_it_stays_the_only_one(tmp_path, wheel):
    venv = Venv(tmp_path / "has-tf")
    venv.install("tensorflow")  # the user's own TensorFlow, the full (GPU-capable) build
    before = venv.tensorflow_owners()
    assert [norm(n) for n in before] == ["tensorflow"], before

    venv.install(str(wheel))
    after = venv.tensorflow_owners()
    assert after == before, f"installing lstm_widgets changed the TensorFlow: before {before}, after {after}"
    check = venv.run(venv.python, "-m", "pip", "check", check=False)
    assert check.returncode == 0, f"pip check after installing lstm_widgets:\n{check.stdout}"

    got = check_smoke(venv, tmp_path)
    assert got["tensorflow"] == next(iter(before.values()))
    print(f"[has-tf] {before} kept; trained with keras {got['keras']}, tensorflow {got['tensorflow']}")

    # Without any TensorFlow, the package imports and says what to install at first use.
    venv.pip("uninstall", "-y", "tensorflow")
    assert venv.tensorflow_owners() == {}
    err = venv.python_json(
        "import json, lstm_widgets\n"
        "try:\n    lstm_widgets.Trainer\n    print(json.dumps(None))\n"
        "except ImportError as exc:\n    print(json.dumps(str(exc)))",
        cwd=tmp_path,
    )
    assert err is not None, "lstm_widgets.Trainer loaded without TensorFlow"
    assert "pip install 'lstm_widgets[cpu]'" in err and "pip install 'tensorflow" in err and str(venv.python) in err
    remove(venv)


def test_from_nothing_the_cpu_extra_installs_the_cpu_build(fresh):
    assert list(fresh.owners) == [cpu_build()], fresh.owners
    assert "keras" in fresh.dists and "lstm-widgets" in fresh.dists
    print(f"[fresh] {fresh.owners}, keras {fresh.dists['keras']}")


def test_wheel_carries_the_lessons_and_the_data_and_the_cli_copies_them(wheel, fresh, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        lessons = sorted(NOTEBOOKS.glob("*.ipynb"))
        assert lessons
        for nb in lessons:
            arc = f"lstm_widgets/_lessons/{nb.name}"
            assert arc in names, f"{nb.name} is not in the wheel"
            assert sha(z.read(arc)) == sha(nb.read_bytes()), f"{arc} differs from notebooks/{nb.name}"
        csv = ROOT / "lstm_widgets" / "datasets" / "energy.csv"
        assert sha(z.read("lstm_widgets/datasets/energy.csv")) == sha(csv.read_bytes())
        assert not [n for n in names if n.startswith(("tests/", "notebooks/")) or "/support/" in n]

    dest = tmp_path / "my lessons"
    done = fresh.run(fresh.bin / "lstm-widgets", "lessons", dest, "--no-lab", cwd=tmp_path)
    assert f"{len(lessons)} copied, 0 kept" in done.stdout, done.stdout
    for nb in lessons:
        assert sha((dest / nb.name).read_bytes()) == sha(nb.read_bytes())
    where = fresh.python_json(
        "import json\nfrom lstm_widgets.cli import lesson_source\nfrom lstm_widgets.data import sample_csv_path\n"
        "print(json.dumps([str(lesson_source()), sample_csv_path()]))",
        cwd=tmp_path,
    )
    assert all(p.startswith(str(fresh.path)) and "site-packages" in p for p in where), where


def test_newest_keras_and_tensorflow_run_the_watch_and_trainer_tests(fresh, tmp_path):
    """The top of the declared range: whatever pip resolves today for a fresh install."""
    fresh.install("pytest>=8", "pytest-timeout>=2.3")
    summary, versions = run_tests(fresh, SHARED_TESTS, cwd=tmp_path)
    print(f"[newest] keras {versions['keras']}, {cpu_build()} {versions['tensorflow']}: {summary}")


def test_binder_pins_and_this_package_resolve_for_python_312(wheel):
    pins = dict(
        line.split("==") for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    )
    py312 = ("--python-version", "3.12", "--only-binary=:all:")
    # Binder installs the pins, then the package with --no-deps: resolving both together
    # shows the pins satisfy the package's own requirements on 3.12.
    got = download(sys.executable, ["-r", str(ROOT / "binder" / "requirements.txt"), f"{wheel}[cpu]"], *py312)
    print(f"\n[3.12] binder pins + lstm_widgets[cpu]: {got.summary()}")
    for name, version in pins.items():
        assert got.versions.get(norm(name)) == version.strip(), f"{name}: pinned {version}, resolved {got.versions.get(norm(name))}"
    assert "tensorflow" not in got.versions and "tensorflow-cpu" in got.versions

    from lstm_widgets.engine._tf import MIN_KERAS, MIN_TENSORFLOW

    low = download(sys.executable, [f"{wheel}[cpu]", f"{cpu_build()}=={MIN_TENSORFLOW}.0", f"keras=={MIN_KERAS}.0"], *py312)
    print(f"[3.12] lowest pair: {low.summary()}")
    assert low.versions[cpu_build()] == f"{MIN_TENSORFLOW}.0" and low.versions["keras"] == f"{MIN_KERAS}.0"

    import subprocess

    refused = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheel.parent / "py313"),
         "--python-version", "3.13", "--only-binary=:all:", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert refused.returncode != 0 and "requires a different Python" in refused.stdout + refused.stderr
