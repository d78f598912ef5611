"""The live Lab: ipywidgets controls and bqplot panels around a background Trainer.

Importing this package imports ipywidgets and bqplot; the engine (``lstm_widgets``
without ``.ui``) never does.
"""

from __future__ import annotations

from .compare import compare_runs
from .lab import Lab

__all__ = ["Lab", "compare_runs"]
