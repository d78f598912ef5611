"""The Lab's figures (bqplot) and views (ipywidgets), one module per panel, each fed
from a History through one ``update(history)`` method (see :mod:`.base`)."""

from __future__ import annotations

from .base import KeptRun, Panel, TimePanel
from .plot import drawable
from .code import CodeView
from .diagnosis import DiagnosisPanel
from .gates import GatePanel
from .gradient import GradientPanel
from .loss import LossPanel
from .time import TimeGradientPanel
from .update import UpdateRatioPanel

__all__ = [
    "KeptRun",
    "Panel",
    "TimePanel",
    "LossPanel",
    "GradientPanel",
    "UpdateRatioPanel",
    "GatePanel",
    "TimeGradientPanel",
    "DiagnosisPanel",
    "CodeView",
    "drawable",
    "make_panels",
]


def make_panels() -> dict[str, Panel]:
    """The plot panels every view shows (the Lab and watch()'s monitor), by key."""
    return {
        "loss": LossPanel(),
        "grad": GradientPanel(),
        "update": UpdateRatioPanel(),
        "gates": GatePanel(),
        "time": TimeGradientPanel(),
    }
