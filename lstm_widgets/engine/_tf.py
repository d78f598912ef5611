"""Import TensorFlow and Keras quietly, once.

TensorFlow's C++ side writes notices (oneDNN, CPU features) straight to file descriptor 2
at import, before absl logging is set up, so TF_CPP_MIN_LOG_LEVEL does not silence them;
in Jupyter, ipykernel forwards that descriptor into the learner's cell as red text. The
import therefore runs with descriptor 2 pointed at /dev/null. Python errors are not
affected: they are raised as exceptions, not written to the descriptor.

lstm_widgets requires no TensorFlow distribution (a user's own ``tensorflow``, GPU build
or not, must not get a second one beside it), so this is also where a missing or too old
TensorFlow is reported, with what to install.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

#: The lowest TensorFlow lstm_widgets runs on: the bound of the ``cpu`` extra in
#: pyproject.toml (a test keeps them equal) and the TensorFlow of the lowest pair that
#: tests/test_keras_versions.py installs and trains with.
MIN_TENSORFLOW = "2.18"
#: The lowest Keras: the ``keras>=`` bound of pyproject.toml's dependencies (pip enforces
#: it; watch()'s error names it), tested in that same lowest pair.
MIN_KERAS = "3.12"

_NO_TENSORFLOW = (
    "lstm_widgets trains with TensorFlow, and this environment ({python}) has none. "
    "lstm_widgets does not install one itself, so that it never adds a second TensorFlow "
    "beside yours. With no TensorFlow yet, install the small CPU-only build: "
    "pip install 'lstm_widgets[cpu]' (in a checkout of lstm_widgets: pip install '.[cpu]'); "
    "or install the TensorFlow you want, {minimum} or newer, e.g. "
    "pip install 'tensorflow[and-cuda]' for a GPU."
)


@contextlib.contextmanager
def _fd2_silenced():
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_tensorflow_version(version: str) -> None:
    """Raise an ImportError that says what to upgrade when ``version`` (a
    ``tf.__version__``) is older than :data:`MIN_TENSORFLOW`."""
    from packaging.version import InvalidVersion, Version  # a dependency of Keras

    try:
        release = Version(version).release
    except InvalidVersion:  # a custom build with an unusual version: let it try
        return
    if release < Version(MIN_TENSORFLOW).release:
        raise ImportError(
            f"lstm_widgets needs TensorFlow {MIN_TENSORFLOW} or newer (Keras 3 on its TensorFlow "
            f"backend); this environment has TensorFlow {version}. Upgrade the one you have, "
            f"e.g. pip install --upgrade 'tensorflow>={MIN_TENSORFLOW}' (or 'tensorflow-cpu>="
            f"{MIN_TENSORFLOW}' if that is the one `pip list` shows)."
        )


try:
    with _fd2_silenced():
        import tensorflow as tf  # noqa: E402
except ModuleNotFoundError as exc:
    if exc.name != "tensorflow":  # a broken TensorFlow: its own error says more
        raise
    import sys

    raise ImportError(_NO_TENSORFLOW.format(python=sys.executable, minimum=MIN_TENSORFLOW)) from None

# Before Keras: Keras 3 on an older TensorFlow fails in ways that do not say why.
check_tensorflow_version(tf.__version__)

with _fd2_silenced():
    import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":  # pragma: no cover - depends on the user's env
    raise ImportError(
        f"lstm_widgets needs Keras's TensorFlow backend; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set os.environ['KERAS_BACKEND'] = 'tensorflow' "
        f"before the first `import keras`."
    )

# -- the kit's own compiled functions ---------------------------------------------------
# Every Trainer (and Monitor, first check) builds its own tf.functions, by design: they
# close over that run's model and variables. From about the fifth, TensorFlow logs
# "N out of the last N calls to <function ...> triggered tf.function retracing" for them,
# and that line lands in whichever notebook cell ran last. It says nothing a learner can
# act on, so it is dropped for the kit's own functions only (a user's own tf.function
# still warns).
_OWN_QUALNAMES: set[str] = set()
_RETRACING = re.compile(r"calls to <function (\S+) at 0x[0-9a-f]+> triggered tf\.function retracing")


class _OwnRetracingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            m = _RETRACING.search(record.getMessage())
        except Exception:  # a record whose message cannot be formatted: leave it alone
            return True
        return not (m and m.group(1) in _OWN_QUALNAMES)


logging.getLogger("tensorflow").addFilter(_OwnRetracingFilter())


def compiled(fn=None, **options):
    """``tf.function`` for the kit's own functions (a decorator, with or without
    options): the same compiled function, with TensorFlow's retracing warning about it
    kept out of the learner's cells (see above)."""
    if fn is None:
        return lambda f: compiled(f, **options)
    _OWN_QUALNAMES.add(getattr(fn, "__qualname__", ""))
    return tf.function(fn, **options)


__all__ = ["tf", "keras", "MIN_TENSORFLOW", "MIN_KERAS", "check_tensorflow_version", "compiled"]
