"""unscaled_inputs: features orders of magnitude apart, or large, as the model sees them."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, median, num, raw_feature_rms

CODE = "unscaled_inputs"


def check(ctx) -> list[Finding]:
    if not ctx.records:
        return []
    names, rms, source = ctx.feature_scales
    live = [x for x in rms if finite(x) and x > 1e-12]
    if not live:
        return []
    spread = max(live) / min(live)
    big = [(n, x) for n, x in zip(names, rms) if finite(x) and x >= T.UNSCALED_MAGNITUDE]
    if spread < T.UNSCALED_SPREAD and not big:
        return []
    window = ctx.finite_window  # empty when the run blew up at once: the scales are still known
    sat = {g: median([r.gate_saturation.get(g) for r in window]) for g in window[-1].gate_saturation} if window else {}
    evidence = [
        "Feature scale (RMS) of the " + source + ": " + ", ".join(f"{n} {fmt(x)}" for n, x in zip(names, rms)) + "."
    ]
    if spread >= T.UNSCALED_SPREAD:
        evidence.append(f"Largest / smallest feature scale: {spread:.3g}x (alarm at {T.UNSCALED_SPREAD:g}x).")
    if big:
        evidence.append(
            "Large features: " + ", ".join(f"{n} ({fmt(x)})" for n, x in big)
            + f"; above {T.UNSCALED_MAGNITUDE:g} a gate's pre-activation x·W easily passes ±3."
        )
    hot = {g: v for g, v in sat.items() if finite(v) and v >= T.SATURATED}
    if sat:
        evidence.append(
            f"Gate saturation on the probe batch ({epochs_text(window)}, median): "
            + ", ".join(f"{g} {v:.0%}" for g, v in sat.items() if finite(v)) + "."
        )
    scaler = ctx.settings.scaler
    if ctx.data is not None and scaler not in (None, "none"):
        evidence.append("Raw feature scales: " + ", ".join(fmt(float(x)) for x in raw_feature_rms(ctx.data.X_train)) + ".")
    patch = {"scaler": "standard"} if scaler != "standard" else {}
    return [Finding(
        CODE, "problem", "Input features are not scaled",
        "The input features live on very different scales (or on a large one). The large "
        "feature drives every gate's pre-activation far beyond ±3, where sigmoid and tanh "
        "are flat, so their gradients are ~0 and those weights stop updating; the small "
        "features are drowned out and their weights get almost no gradient either."
        + (f" Here {', '.join(hot)} {'is' if len(hot) == 1 else 'are'} saturated." if hot else ""),
        evidence,
        {
            "features": names, "rms": [num(x) for x in rms], "spread": num(spread),
            "saturation": {g: num(v) for g, v in sat.items()}, "scaler": scaler, "source": source,
        },
        patch,
        "Standardize each feature (fitted on the training split): scaler 'standard'."
        if patch else "Check the features: some are still huge after the standard scaler (outliers?).",
    )]
