"""Fresh virtual environments for the install tests, the one wheel they install, and the
wheelhouse that keeps them from downloading a wheel twice.

pip's own cache does not help here: it is an HTTP cache, and pip stores a response only
when the server allows it (Cache-Control, ETag). The registry this project's machines
reach answers without those headers, so ``~/.cache/pip`` stays empty however often the
same TensorFlow is installed (measured with pip 23.2 and 26.3). The install tests
therefore keep the wheels themselves: :meth:`Venv.install` first runs ``pip download -d
WHEELHOUSE`` (pip resolves against the index as a plain ``pip install`` would, and skips
every file already in the folder: "File was already downloaded"), then ``pip install
--no-index --find-links WHEELHOUSE``, which resolves against what the venv already has
exactly as an online install does (an installed version that satisfies is kept; pip
prefers an index's copy of a file over a --find-links one, so the index must be off).
On a machine whose index does send caching headers this costs nothing extra, and pip's
cache is used as usual (nothing here passes --no-cache-dir).

The wheelhouse is ``$LSTM_WIDGETS_WHEELHOUSE``, else ``~/.cache/lstm_widgets/wheels``:
about 2 GB once the TensorFlow builds the tests use (for Python 3.11 and 3.12) are in it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WHEELHOUSE = Path(
    os.environ.get("LSTM_WIDGETS_WHEELHOUSE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lstm_widgets" / "wheels"
)

#: A long pip step (TensorFlow is 250-600 MB) on a slow link; the tests' own timeouts
#: are set above this.
PIP_TIMEOUT = 1500

#: The test files run against each installed Keras/TensorFlow pair (their fast tests):
#: watch() on users' models, the Trainer, Keras's clipping, and the future-Keras checks.
SHARED_TESTS = ["test_monitor.py", "test_trainer.py", "test_instrument.py", "test_keras_versions.py"]

_WHEEL: Path | None = None


def cpu_build() -> str:
    """The distribution the ``cpu`` extra picks on this machine (pyproject.toml's markers)."""
    x86 = platform.machine() in ("x86_64", "AMD64")
    return "tensorflow-cpu" if sys.platform in ("linux", "win32") and x86 else "tensorflow"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_wheel(tmp_path_factory) -> Path:
    """This checkout's wheel, built once per test session (pip wheel, the hatchling backend)."""
    global _WHEEL
    if _WHEEL is None or not _WHEEL.exists():
        out = tmp_path_factory.mktemp("dist")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
            capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, f"building the wheel failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        (_WHEEL,) = out.glob("lstm_widgets-*.whl")
    return _WHEEL


@dataclass
class Downloaded:
    """What ``pip download`` resolved: ``versions`` by normalised name, and which files it
    fetched now (``new``) or found already in the wheelhouse (``reused``)."""

    versions: dict[str, str] = field(default_factory=dict)
    new: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        new, reused = set(self.new), set(self.reused) - set(self.new)
        mb = sum((WHEELHOUSE / f).stat().st_size for f in new if (WHEELHOUSE / f).exists()) / 1e6
        return (f"{len(self.versions)} distributions resolved in {self.seconds:.0f} s: "
                f"{len(new)} wheels new to the wheelhouse ({mb:.0f} MB), {len(reused)} reused from it")


def _wheel_name_version(filename: str) -> tuple[str, str]:
    name, version = filename.split("-")[:2]
    return _norm(name), version


def download(python: str | Path, requirements: list[str], *extra: str, env=None) -> Downloaded:
    """``pip download`` of ``requirements`` into the wheelhouse with ``python``'s pip;
    ``extra`` options (e.g. ``--python-version 3.12 --only-binary=:all:``) resolve for
    another interpreter without installing anything."""
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(python), "-m", "pip", "download", "--progress-bar", "off", "-d", str(WHEELHOUSE), *extra, *requirements],
        capture_output=True, text=True, timeout=PIP_TIMEOUT, env=env,
    )
    assert done.returncode == 0, (
        f"pip download {' '.join(requirements)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    )
    result = Downloaded(seconds=time.perf_counter() - t0)
    for line in done.stdout.splitlines():
        line = line.strip()
        for prefix, bucket in (("Saved ", result.new), ("File was already downloaded ", result.reused)):
            if line.startswith(prefix):
                filename = Path(line[len(prefix):]).name
                if filename.startswith("lstm_widgets-"):  # this checkout's wheel, not a cache entry
                    (WHEELHOUSE / filename).unlink(missing_ok=True)
                    continue
                bucket.append(filename)
                name, version = _wheel_name_version(filename)
                result.versions[name] = version
    # A file copied from a local mirror (a file:// index) is "Saved" too: new to the
    # wheelhouse, though not downloaded.
    return result


class Venv:
    """A fresh virtual environment from this interpreter's Python (``python -m venv``),
    run with a clean environment: no PYTHONPATH, its own bin first on PATH."""

    def __init__(self, path: Path):
        self.path = Path(path)
        subprocess.run([sys.executable, "-m", "venv", str(self.path)], check=True, timeout=300)
        self.bin = self.path / "bin"
        self.python = self.bin / "python"
        self.env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                    "VIRTUAL_ENV": str(self.path), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                    "TF_CPP_MIN_LOG_LEVEL": "2"}
        for var in ("PYTHONPATH", "PYTHONHOME", "PIP_NO_CACHE_DIR", "KERAS_BACKEND"):
            self.env.pop(var, None)
        self.downloads: list[tuple[str, Downloaded]] = []

    def run(self, *cmd, cwd=None, timeout=600, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(c) for c in cmd], env=self.env, capture_output=True, text=True,
                              cwd=cwd or self.path, timeout=timeout)
        if check:
            assert done.returncode == 0, (
                f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done

    def pip(self, *args, timeout=PIP_TIMEOUT) -> str:
        return self.run(self.python, "-m", "pip", *args, timeout=timeout).stdout

    def install(self, *requirements: str) -> Downloaded:
        """``pip install requirements``, with the wheels taken from the wheelhouse (see the
        module's docstring): ``pip download`` fills it with what the index resolves, then
        pip installs from it offline, resolving against what the venv already has, as a
        plain ``pip install`` would (an installed version that satisfies is kept)."""
        got = download(self.python, list(requirements), env=self.env)
        label = " ".join(Path(r).name if os.sep in r else r for r in requirements)
        offline = self.run(self.python, "-m", "pip", "install", "--no-index", "--find-links", str(WHEELHOUSE),
                           *requirements, timeout=PIP_TIMEOUT, check=False)
        if offline.returncode != 0:
            # The venv's packages led pip to a version the index-wide resolution did not
            # fetch: install from the index, as a user would, and say so.
            print(f"\n[venv {self.path.name}] not all in the wheelhouse; pip install {label} from the index")
            self.pip("install", *requirements)
        self.downloads.append((label, got))
        print(f"\n[venv {self.path.name}] pip install {label}: {got.summary()}")
        return got

    def python_json(self, code: str, cwd=None, timeout=600):
        """Run ``code`` in the venv's Python (cwd outside the repository, so that the
        installed lstm_widgets is imported) and parse the JSON it prints last."""
        done = self.run(self.python, "-c", code, cwd=cwd, timeout=timeout)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def distributions(self) -> dict[str, str]:
        """Installed distributions: normalised name -> version."""
        return self.python_json(
            "import importlib.metadata as m, json, re\n"
            "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
            "for d in m.distributions()}))"
        )

    def tensorflow_owners(self) -> dict[str, str]:
        """Every distribution that writes into site-packages/tensorflow/ (tensorflow,
        tensorflow-cpu, tensorflow-intel, tf-nightly, ...): two of them is the broken
        install this package must never cause. Name -> version."""
        return self.python_json(
            "import importlib.metadata as m, json\n"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()\n"
            "    if any(str(f).startswith('tensorflow/') for f in (d.files or ()))}))"
        )


def run_tests(venv: Venv, files: list[str], cwd: Path) -> tuple[str, dict[str, str]]:
    """Run this checkout's test files (their fast tests) with the venv's Python against
    its installed lstm_widgets; return pytest's summary line and the Keras and TensorFlow
    versions they ran on. Fails with pytest's output when a test fails."""
    # cwd outside the repository: `python -m pytest` puts cwd on sys.path, and tests/conftest.py
    # adds tests/ only, so `import lstm_widgets` finds the installed wheel, not the checkout.
    versions = venv.python_json(
        "import json\nfrom lstm_widgets.engine._tf import keras, tf\nimport lstm_widgets\n"
        "print(json.dumps({'keras': keras.__version__, 'tensorflow': tf.__version__, 'file': lstm_widgets.__file__}))",
        cwd=cwd,
    )
    assert versions["file"].startswith(str(venv.path)), versions
    done = venv.run(
        venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "--rootdir", ROOT,
        *[ROOT / "tests" / f for f in files], cwd=cwd, timeout=1800, check=False,
    )
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else ""
    assert done.returncode == 0, f"the tests failed on keras {versions['keras']}, tensorflow {versions['tensorflow']}:\n" \
                                 f"{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    return summary, versions


def remove(venv: Venv) -> None:
    """Delete a venv's folder (a TensorFlow venv is about 1 GB)."""
    shutil.rmtree(venv.path, ignore_errors=True)
