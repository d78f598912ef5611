"""The Keras and TensorFlow versions lstm_widgets declares are the ones tested.

- The declared minimums (pyproject.toml) equal the ones the code checks and names.
- The lowest declared pair, installed in a fresh venv, runs the watch() and Trainer tests
  (the newest pair does the same in tests/test_install.py).
- A future Keras that changes the optimizer methods watch() hooks: watch() stops with one
  error naming the installed Keras, and the Trainer (which does not use the hook) trains.
  Simulated on the installed Keras, three ways: the method renamed, its parameters
  changed, and Keras's apply no longer calling it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import types

import pytest
from lstm_widgets.engine import _keras_patch
from lstm_widgets.engine._keras_patch import UnsupportedKeras
from lstm_widgets.engine._tf import MIN_KERAS, MIN_TENSORFLOW, check_tensorflow_version, keras

from support.runs import fit_watched, train, user_model
from support.venvs import SHARED_TESTS, ROOT, Venv, build_wheel, cpu_build, remove, run_tests

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lower_bound(requirements, name):
    bounds = {re.match(r"[^;]*>=\s*([\w.]+)", r).group(1) for r in requirements
              if re.match(rf"{re.escape(name)}\s*>=", r)}
    assert len(bounds) == 1, f"{name}: expected one lower bound in {requirements}, found {bounds}"
    return bounds.pop()


def test_declared_minimums_are_the_ones_the_code_checks():
    assert lower_bound(PYPROJECT["dependencies"], "keras") == MIN_KERAS
    cpu = PYPROJECT["optional-dependencies"]["cpu"]
    assert lower_bound(cpu, "tensorflow-cpu") == MIN_TENSORFLOW
    assert lower_bound(cpu, "tensorflow") == MIN_TENSORFLOW
    # The core requires no TensorFlow distribution: a user's own must stay the only one.
    assert not [r for r in PYPROJECT["dependencies"] if re.match(r"(tensorflow|tf-nightly|tf_nightly)", r)]
    assert PYPROJECT["requires-python"] == ">=3.11,<3.13"


def test_make_and_binder_install_the_cpu_build():
    assert '-e ".[test,cpu]"' in (ROOT / "Makefile").read_text()
    pins = dict(line.split("==") for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.lstrip().startswith("#"))
    assert "tensorflow-cpu" in pins and "tensorflow" not in pins
    release = lambda v: tuple(int(p) for p in v.strip().split(".")[:2])  # noqa: E731
    assert release(pins["tensorflow-cpu"]) >= release(MIN_TENSORFLOW)
    assert release(pins["keras"]) >= release(MIN_KERAS)
    assert "--no-deps" in (ROOT / "binder" / "postBuild").read_text()


def test_too_old_tensorflow_says_what_to_upgrade():
    with pytest.raises(ImportError) as err:
        check_tensorflow_version("2.17.1")
    assert "2.17.1" in str(err.value) and f"'tensorflow>={MIN_TENSORFLOW}'" in str(err.value)
    for fine in (f"{MIN_TENSORFLOW}.0", "2.21.0rc1", "2.22.0-dev20260101", "3.0.0", "custom-build"):
        check_tensorflow_version(fine)


def test_without_tensorflow_the_package_imports_and_names_the_install():
    code = (
        "import sys; sys.modules['tensorflow'] = None  # as if no TensorFlow were installed\n"
        "import lstm_widgets\n"
        "try:\n    lstm_widgets.Trainer\nexcept ImportError as exc:\n    print('ERR', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ERR lstm_widgets trains with TensorFlow"), done.stdout
    for words in ("pip install 'lstm_widgets[cpu]'", "pip install 'tensorflow", sys.executable):
        assert words in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_lowest_declared_pair_runs_the_watch_and_trainer_tests(tmp_path_factory):
    """The bottom of the declared range: keras MIN_KERAS.0 with TensorFlow MIN_TENSORFLOW.0."""
    wheel = build_wheel(tmp_path_factory)
    tf_pin, keras_pin = f"{cpu_build()}=={MIN_TENSORFLOW}.0", f"keras=={MIN_KERAS}.0"
    venv = Venv(tmp_path_factory.mktemp("lowest") / "lowest")
    venv.install(f"{wheel}[cpu]", tf_pin, keras_pin, "pytest>=8", "pytest-timeout>=2.3")
    owners = venv.tensorflow_owners()
    assert {k.lower().replace("_", "-"): v for k, v in owners.items()} == {cpu_build(): f"{MIN_TENSORFLOW}.0"}
    summary, versions = run_tests(venv, SHARED_TESTS, cwd=venv.path.parent)
    assert versions["keras"] == f"{MIN_KERAS}.0" and versions["tensorflow"] == f"{MIN_TENSORFLOW}.0"
    print(f"\n[lowest] keras {versions['keras']}, {cpu_build()} {versions['tensorflow']}: {summary}")
    remove(venv)


# -- a future Keras ----------------------------------------------------------------------------

def _base():
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    return BaseOptimizer


@pytest.fixture
def clip_renamed(monkeypatch):
    """Keras renamed _clip_gradients: Keras's own apply still clips, under the new name."""
    base = _base()
    clip, apply_ = base._clip_gradients, base._backend_apply_gradients

    def _backend_apply_gradients(self, grads, trainable_variables):
        self.__dict__["_clip_gradients"] = types.MethodType(clip, self)  # Keras's body, unchanged
        try:
            return apply_(self, grads, trainable_variables)
        finally:
            self.__dict__.pop("_clip_gradients", None)

    monkeypatch.delattr(base, "_clip_gradients")
    monkeypatch.setattr(base, "_clip_gradients_v2", clip, raising=False)
    monkeypatch.setattr(base, "_backend_apply_gradients", _backend_apply_gradients)
    return "has no _clip_gradients()"


@pytest.fixture
def clip_takes_more(monkeypatch):
    """Keras's _clip_gradients takes another parameter (and its apply passes it)."""
    base = _base()
    clip, apply_ = base._clip_gradients, base._backend_apply_gradients

    def _clip_gradients(self, grads, trainable_variables):
        return clip(self, grads)

    def _backend_apply_gradients(self, grads, trainable_variables):
        own = self._clip_gradients
        self.__dict__["_clip_gradients"] = lambda g: own(g, trainable_variables)
        try:
            return apply_(self, grads, trainable_variables)
        finally:
            self.__dict__.pop("_clip_gradients", None)

    monkeypatch.setattr(base, "_clip_gradients", _clip_gradients)
    monkeypatch.setattr(base, "_backend_apply_gradients", _backend_apply_gradients)
    return "takes (grads, trainable_variables), not (grads)"


@pytest.fixture
def clip_bypassed(monkeypatch):
    """_clip_gradients is still there, but Keras's apply no longer calls it (it clips by
    other means): the hook would be installed and never run."""
    base = _base()
    apply_ = base._backend_apply_gradients

    def _backend_apply_gradients(self, grads, trainable_variables):
        hooked = self.__dict__.pop("_clip_gradients", None)  # a wrapper on the instance is skipped
        try:
            return apply_(self, grads, trainable_variables)
        finally:
            if hooked is not None:
                self.__dict__["_clip_gradients"] = hooked

    monkeypatch.setattr(base, "_backend_apply_gradients", _backend_apply_gradients)
    return "went through a training step without calling _clip_gradients()"


@pytest.mark.parametrize("future", ["clip_renamed", "clip_takes_more", "clip_bypassed"])
def test_a_keras_that_changed_the_hooked_methods(future, request, data, sine):
    problem = request.getfixturevalue(future)
    model = user_model(clipnorm=0.01)
    with pytest.raises(UnsupportedKeras) as err:
        fit_watched(model, data, epochs=1)
    message = str(err.value)
    assert f"keras {keras.__version__}" in message
    assert problem in message, message
    assert "The Trainer and the Lab do not use them and keep working" in message
    assert re.search(rf"pip install 'keras>={re.escape(MIN_KERAS)},<[\d.]+'", message), message
    # The optimizer is left as it was: a plain fit still trains.
    assert not set(_keras_patch.HOOKED_METHODS) & set(model.optimizer.__dict__)
    model.fit(*data, epochs=1, verbose=0)
    # ... and the Trainer, which does not use the hook, trains on the same Keras.
    trainer = train(sine, epochs=1)
    assert trainer.state == "finished" and len(trainer.history) == 1


def test_the_suggested_keras_is_older_than_the_installed_one(monkeypatch):
    for installed, below in (("3.16.0", "3.16"), ("4.0.1", "4.0"), (f"{MIN_KERAS}.5", f"{MIN_KERAS}.5")):
        monkeypatch.setattr(keras, "__version__", installed)
        message = str(_keras_patch._unsupported("its optimizer (Adam) has no _clip_gradients()"))
        assert f"keras {installed}:" in message and f"<{below}'" in message, message
