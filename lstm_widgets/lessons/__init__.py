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
from . import checks
from .checks import *  # noqa: F403 (the check_* functions, listed in checks.__all__)
from .result import CheckResult, Criterion
from .predict import Prediction, predict
from .scaling import check_scaler_fit, check_scaling
from .stability import check_stability
from .through_time import growth_through_time, one_step

__all__ = [
    "Criterion",
    "CheckResult",
    *checks.__all__,
    "check_scaling",
    "check_scaler_fit",
    "check_stability",
    "predict",
    "Prediction",
    "one_step",
    "growth_through_time",
    "gradient_reach",
    "findings_markdown",
    "sample_csv_path",
    "MIN_EPOCHS",
]
