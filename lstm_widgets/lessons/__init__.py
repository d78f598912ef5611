"""What the self-paced lessons in ``notebooks/`` import: the exercise checks and their
result type, and the statistics and renderers they share with the diagnosis.

Each ``check_*`` function looks at what a learner's run recorded (a Lab, a Trainer or a
History) and returns a :class:`CheckResult`: every criterion with ✓ or ✗ and the
numbers it was judged on, and, when something failed, a hint. A result displays itself
in a notebook (HTML) and as plain text, which says "PASSED" or "NOT YET".

Example:
    >>> lab.set(clipping="clipnorm", clip_threshold=0.1)
    >>> lab.restart(start=False); lab.train(wait=True)
    >>> check_clipping(lab)
    check_clipping: PASSED ...
"""

from __future__ import annotations

from ..data import sample_csv_path
from ..diagnosis.stats import gradient_reach
from ..render.findings import findings_markdown
from ._run import MIN_EPOCHS
from .checks import (
    check_clipping,
    check_gradient_reach,
    check_learning_rate,
    check_own_data,
    check_scaler_fit,
    check_scaling,
)
from .result import CheckResult, Criterion

__all__ = [
    "Criterion",
    "CheckResult",
    "check_clipping",
    "check_learning_rate",
    "check_scaling",
    "check_scaler_fit",
    "check_gradient_reach",
    "check_own_data",
    "gradient_reach",
    "findings_markdown",
    "sample_csv_path",
    "MIN_EPOCHS",
]
