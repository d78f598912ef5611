"""Lesson 1's control for backpropagation through time: the same samples without
recurrence, and how the gradient grows going back in time before a run's first step."""

from __future__ import annotations

import math
from typing import Any

from ..data import SequenceData
from ..diagnosis.stats import time_profile
from ._run import run_of

__all__ = ["one_step", "growth_through_time"]


def one_step(data: SequenceData) -> SequenceData:
    """The same samples with all their time steps laid side by side as the features of a
    single step: the same information and targets, and nothing to backpropagate through
    time. A run on it at the same learning rate is the control for an explosion that
    comes through time.

    Raises:
        ValueError: ``data`` is not a SequenceData.
    """
    if not isinstance(data, SequenceData):
        raise ValueError(f"data must be a SequenceData; got {type(data).__name__}.")
    flat = lambda X: None if X is None else X.reshape(len(X), 1, -1)  # noqa: E731
    names = [f"{f}@t{t}" for t in range(data.n_timesteps) for f in data.feature_names]
    return SequenceData(flat(data.X_train), data.y_train, flat(data.X_val), data.y_val,
                        feature_names=names, name=f"{data.name}, one step")


def growth_through_time(obj: Any, run_id: int | None = None) -> float:
    """||∂L/∂x_0|| / ||∂L/∂x_(T-1)|| on the probe batch before the run's first step: how
    much larger the gradient is at the first time step than at the last. Above 1 it grows
    going back in time (what explodes through time); below 1 it fades (lesson 4). NaN
    when the run was not probed.

    Args:
        obj: A Lab, a Trainer or a History.
        run_id: The run; defaults to the latest.
    """
    run = run_of(obj, "obj")
    history = run.history
    info = history.runs.get(history.current_run if run_id is None else run_id)
    profile = time_profile(info.initial_grad_through_time if info else [])
    return math.nan if profile is None else float(profile["first"])
