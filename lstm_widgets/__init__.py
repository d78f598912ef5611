"""lstm_widgets: see why an LSTM is failing to update its weights, and fix it while it trains.

The engine (TrainConfig, SequenceData, Trainer, History) runs headless; the widgets
(Lab, watch) are imported lazily so that scripts and CI never load ipywidgets.
"""

from __future__ import annotations

from .config import TrainConfig
from .data import SequenceData, load_dataset, make_windows
from .diagnosis import Finding, diagnose
from .history import ChangeMarker, EpochRecord, History

__version__ = "0.1.0"

__all__ = [
    "TrainConfig",
    "SequenceData",
    "load_dataset",
    "make_windows",
    "SequenceScaler",
    "Trainer",
    "History",
    "EpochRecord",
    "ChangeMarker",
    "diagnose",
    "Finding",
    "Lab",
    "watch",
    "Monitor",
    "write_report",
    "first_checks",
    "lr_range_test",
    "ReduceOnPlateau",
    "Sweep",
    "load_ipython_extension",
    "__version__",
]

_LAZY = {
    # TensorFlow-backed parts load TensorFlow (about 2 s) on first use, not at import.
    "Trainer": ("engine.trainer", "Trainer"),
    "SequenceScaler": ("scaling", "SequenceScaler"),
    # Widgets (ipywidgets, bqplot) load only when the Lab is asked for.
    "Lab": ("ui", "Lab"),
    "watch": ("watch", "watch"),
    "Monitor": ("engine.monitor", "Monitor"),
    "write_report": ("render.report", "write_report"),
    "first_checks": ("engine.first_checks", "first_checks"),
    "lr_range_test": ("engine.lr_range", "lr_range_test"),
    "ReduceOnPlateau": ("engine.schedules", "ReduceOnPlateau"),
    # Dask loads only when a sweep is asked for.
    "Sweep": ("sweep", "Sweep"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        # Importing the submodule "watch" set this package's `watch` to the module;
        # keep the function instead (the module is callable too, see watch.py).
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lstm_widgets' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext lstm_widgets``: registers the ``%lstm_lab`` and ``%lstm_watch`` magics."""
    from .extension import load_ipython_extension as _load

    _load(ipython)


def __dir__():
    return sorted(__all__)
