"""clipping_too_tight: nearly every step clipped to a small share of its gradient, and
the loss barely moves (see Context.clipping_brakes)."""

from __future__ import annotations

from ..finding import Finding, epochs_text, fmt
from ..stats import median, nice, num, unit

CODE = "clipping_too_tight"


def check(ctx) -> list[Finding]:
    m = ctx.clipping_brakes
    if m is None:
        return []
    mode, threshold, window = ctx.clipping, ctx.clip_threshold, ctx.finite_window
    variables = [u for u in window[-1].units.get("grad_pre_mean", {}) if "/" in u]
    if mode == "clipnorm" and variables:
        typical = median([max(unit(r, "grad_pre_mean", v) for v in variables) for r in window])
    elif mode == "global_clipnorm":
        typical = m["grad_pre_mean"]
    else:
        typical = threshold * 100
    new = min(max(nice(2 * typical), nice(threshold * 10)), 1e6)
    return [Finding(
        CODE, "problem", "Gradient clipping is too tight",
        "Nearly every step is clipped, and clipping cuts the gradient to a small "
        "fraction of its size: the optimizer only ever sees a shrunken gradient, so the "
        "weights crawl. Clipping should trim rare spikes, not brake every step.",
        [
            f"{mode} at {threshold:g}: {m['clip_fraction']:.0%} of steps clipped ({epochs_text(window)}, median).",
            f"Mean gradient norm {fmt(m['grad_pre_mean'])} before clipping, {fmt(m['grad_post_mean'])} after "
            f"({m['kept']:.2%} of it kept).",
            f"Training loss changed by {m['progress']:.2%} over {epochs_text(window)}.",
        ],
        {
            "clipping": mode, "clip_threshold": threshold, "clip_fraction": m["clip_fraction"],
            "grad_pre_mean": m["grad_pre_mean"], "grad_post_mean": m["grad_post_mean"], "kept": m["kept"],
            "progress": num(m["progress"]),
        },
        {"clip_threshold": new},
        f"Raise the clip threshold to {new:g}, about twice the typical gradient norm.",
    )]
