"""Everything that imports TensorFlow: the model, the instrumented train step, the one
recorder of EpochRecords, the Trainer and the Keras callback behind ``watch()``.

Importing this package loads TensorFlow (quietly, see ``_tf.py``); the rest of
lstm_widgets imports it lazily.
"""

from __future__ import annotations

from .monitor import Monitor
from .recorder import Recorder
from .trainer import STATES, Trainer

__all__ = ["Trainer", "Monitor", "Recorder", "STATES"]
