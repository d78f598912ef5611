"""Sweeps on Dask: many settings at once, each run the same headless Trainer as a Dask
task, per-epoch records streamed back. No widget is imported here (the display lives in
``lstm_widgets.ui.sweep_view``)."""

from .cluster import ClusterPlan, close_local_cluster, plan_local_cluster
from .core import RUN_STATES, Sweep, SweepRun
from .grid import RUN_LIMIT, expand_grid

__all__ = ["Sweep", "SweepRun", "RUN_STATES", "expand_grid", "RUN_LIMIT", "plan_local_cluster", "ClusterPlan",
           "close_local_cluster"]
