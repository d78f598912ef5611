"""stalled_weights: a layer or gate barely changes while the rest of the model moves."""

from __future__ import annotations

import math
from typing import Any

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, median, num, ratio_of

CODE = "stalled_weights"


def check(ctx) -> list[Finding]:
    recs = ctx.finite_window
    if len(recs) < T.MIN_TREND_EPOCHS:
        return []
    stalled, data = [], {}
    layers = ctx.structure.layers or [
        u for u in recs[-1].units.get("update_ratio", {}) if "/" not in u and u != "global"
    ]
    if len(layers) >= 2:
        fields_ = ("update_ratio", "delta_norm", "weight_norm")
        med = {
            name: median([ratio_of({f: r.units.get(f, {}).get(name) for f in fields_}) for r in recs])
            for name in layers
        }
        med = {k: v for k, v in med.items() if finite(v)}
        top = max(med.values(), default=math.nan)
        if finite(top) and top >= T.STALL_OTHERS_MOVE:
            for name, v in med.items():
                if v <= T.STALL_RELATIVE * top:
                    stalled.append(("layer", name, v, top))
        data["layers"] = med
    gates_data = {}
    for var, per_gate in recs[-1].gates.items():
        if var.rsplit("/", 1)[-1] == "bias":
            continue  # biases of i, c, o start at zero: their ratio is meaningless early
        med = {g: median([ratio_of(r.gates.get(var, {}).get(g, {})) for r in recs]) for g in per_gate}
        med = {k: v for k, v in med.items() if finite(v)}
        gates_data[var] = med
        top = max(med.values(), default=math.nan)
        if not finite(top) or top < T.STALL_OTHERS_MOVE:
            continue
        if any(kind == "layer" and var.startswith(name + "/") for kind, name, _, _ in stalled):
            continue
        for g, v in med.items():
            if v <= T.STALL_RELATIVE * top:
                stalled.append(("gate", f"{var}:{g}", v, top))
    data["gates"] = gates_data
    if not stalled:
        return []
    evidence = [
        f"{kind.capitalize()} {name}: median update ratio {fmt(v)} per epoch vs {fmt(top)} for "
        f"the fastest ({epochs_text(recs)})."
        for kind, name, v, top in stalled[:6]
    ]
    if len(stalled) > 6:
        evidence.append(f"... and {len(stalled) - 6} more.")
    sat = recs[-1].gate_saturation
    hot = {g: v for g, v in sat.items() if finite(v) and v >= T.SATURATED}
    if hot:
        evidence.append("Saturated gates (probe batch): " + ", ".join(f"{g} {v:.0%}" for g, v in hot.items()) + ".")
    patch: dict[str, Any] = {}
    if ctx.settings.scaler == "none" and hot:
        patch, fix = {"scaler": "standard"}, "Standardize the inputs so the gates leave saturation."
    elif ctx.settings.optimizer == "sgd":
        patch = {"optimizer": "adam", "learning_rate": 1e-3}
        fix = "Switch to Adam 1e-3, which scales each weight's step to its own gradient size."
    else:
        fix = "Look for saturated gates or a layer cut off from the loss; a restart with another seed may help."
    whole_layer = any(kind == "layer" for kind, *_ in stalled)
    return [Finding(
        CODE, "problem" if whole_layer else "warning",
        "Some weights stopped changing",
        "A layer or gate barely changes while the rest of the model moves: its gradient "
        "is ~0, typically because its activations are saturated (sigmoid/tanh flat) or the "
        "signal to it has vanished. Those weights are effectively frozen.",
        evidence,
        {**data, "stalled": [[k, n, num(v)] for k, n, v, _ in stalled]},
        patch,
        fix,
    )]
