"""Import TensorFlow and Keras quietly, once (TF's C++ log level must be set before import)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

if keras.backend.backend() != "tensorflow":  # pragma: no cover - depends on the user's env
    raise ImportError(
        f"lstm_widgets needs Keras's TensorFlow backend; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set os.environ['KERAS_BACKEND'] = 'tensorflow' "
        f"before the first `import keras`."
    )

__all__ = ["tf", "keras"]
