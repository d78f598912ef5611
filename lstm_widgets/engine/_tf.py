"""Import TensorFlow and Keras quietly, once.

TensorFlow's C++ side writes notices (oneDNN, CPU features) straight to file descriptor 2
at import, before absl logging is set up, so TF_CPP_MIN_LOG_LEVEL does not silence them;
in Jupyter, ipykernel forwards that descriptor into the learner's cell as red text. The
import therefore runs with descriptor 2 pointed at /dev/null. Python errors are not
affected: they are raised as exceptions, not written to the descriptor.
"""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


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


with _fd2_silenced():
    import keras  # noqa: E402
    import tensorflow as tf  # noqa: E402

if keras.backend.backend() != "tensorflow":  # pragma: no cover - depends on the user's env
    raise ImportError(
        f"lstm_widgets needs Keras's TensorFlow backend; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set os.environ['KERAS_BACKEND'] = 'tensorflow' "
        f"before the first `import keras`."
    )

__all__ = ["tf", "keras"]
