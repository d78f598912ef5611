"""clipping_no_effect: the threshold lies far above every gradient norm seen."""

from __future__ import annotations

from .. import thresholds as T
from ..finding import Finding, epochs_text, fmt
from ..stats import finite, nice, unit

CODE = "clipping_no_effect"


def check(ctx) -> list[Finding]:
    mode, window = ctx.clipping, ctx.finite_window
    if mode == "none" or len(window) < 2:
        return []
    threshold = ctx.clip_threshold
    variables = [u for u in window[-1].units.get("grad_pre_mean", {}) if "/" in u]
    fracs = [unit(r, "clip_fraction", u) for r in window for u in r.units.get("clip_fraction", {})]
    if mode == "clipnorm" and variables:
        largest = max(unit(r, "grad_pre_max", v) for r in window for v in variables)
    else:
        largest = max(unit(r, "grad_pre_max") for r in window)
    if not (all(finite(f) and f == 0 for f in fracs) and finite(largest) and largest < threshold / T.CLIP_FAR_ABOVE):
        return []
    return [Finding(
        CODE, "info", "Gradient clipping never engages",
        "The clip threshold is far above every gradient norm seen, so no step was clipped: "
        "clipping changes nothing in this run. It still caps a sudden explosion far above "
        "the usual norms; a threshold a few times the largest norm seen would also catch "
        "smaller spikes. Training itself is not hurt by this.",
        [
            f"{mode} at {threshold:g}: no step clipped in {epochs_text(window)}.",
            f"Largest pre-clip norm seen: {fmt(largest)} ({threshold / largest:.3g}x below the threshold).",
        ],
        {"clipping": mode, "clip_threshold": threshold, "largest_pre_norm": largest,
         "suggested_threshold": nice(max(5 * largest, 1e-6))},
        {},
        "",
    )]
