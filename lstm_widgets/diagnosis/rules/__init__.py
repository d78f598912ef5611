"""The diagnosis rules: one per module, each ``check(ctx) -> list[Finding]`` over the
:class:`~lstm_widgets.diagnosis.context.Context` built once per call.

To add a rule: write a module with ``CODE`` and ``check(ctx)``, and list it in
:data:`RULES` where it ranks among findings of equal severity (causes before
symptoms). Nothing else needs to change.
"""

from __future__ import annotations

from . import (
    behind_persistence,
    clipping_no_effect,
    clipping_too_tight,
    exploding,
    lr_too_high,
    lr_too_low,
    nonfinite,
    stalled,
    unscaled_inputs,
    unscaled_target,
    not_learning,
    vanishing,
)

__all__ = ["RULES"]

#: Every rule, in the order findings of equal severity are listed: causes before symptoms.
RULES = (
    nonfinite,
    exploding,
    lr_too_high,
    unscaled_inputs,
    unscaled_target,
    clipping_too_tight,
    vanishing,
    lr_too_low,
    stalled,
    not_learning,
    behind_persistence,
    clipping_no_effect,
)
