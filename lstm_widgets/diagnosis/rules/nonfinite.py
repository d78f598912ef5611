"""nonfinite: the loss, a gradient or a weight became NaN or infinite."""

from __future__ import annotations

from ..finding import Finding, fmt
from ..stats import finite, num, unit
from ._calm import calm_patch

CODE = "nonfinite"


def check(ctx) -> list[Finding]:
    window = ctx.window
    bad = [r for r in window if r.status == "diverged" or not finite(r.loss) or sum(r.nonfinite.values()) > 0]
    if not bad and ctx.status != "diverged":
        return []
    if not bad:
        bad = [window[-1]]
    first = bad[0]
    evidence = [f"Run status: {ctx.status}." if ctx.status else "Non-finite numbers recorded."]
    if not finite(first.loss):
        evidence.append(f"Epoch {first.epoch}: training loss is {first.loss}.")
    if first.val_loss is not None and not finite(first.val_loss):
        evidence.append(f"Epoch {first.epoch}: validation loss is {first.val_loss}.")
    nf = {v: int(c) for v, c in first.nonfinite.items() if c}
    if nf:
        worst = sorted(nf.items(), key=lambda kv: -kv[1])[:3]
        evidence.append(
            f"Epoch {first.epoch}: non-finite gradient elements in "
            + ", ".join(f"{v} ({c})" for v, c in worst) + "."
        )
    finite_before = [r for r in ctx.records if r.epoch < first.epoch and finite(unit(r, "grad_pre_max"))]
    if finite_before:
        last_ok = finite_before[-1]
        evidence.append(
            f"Epoch {last_ok.epoch} (last finite): loss {fmt(last_ok.loss)}, largest pre-clip "
            f"gradient norm {fmt(unit(last_ok, 'grad_pre_max'))}."
        )
    lr = ctx.learning_rate
    patch, fix = calm_patch(ctx)
    return [Finding(
        CODE, "problem", "Training diverged: NaN or infinite numbers",
        "The loss or the gradients became NaN or infinite. Once a NaN reaches the weights "
        "every later update is NaN too, so the weights can no longer learn anything: "
        "training stopped. Usually the steps were far too large (a high learning rate, "
        "unscaled inputs, or gradients that exploded without clipping).",
        evidence,
        {
            "epoch": first.epoch, "status": ctx.status, "loss": num(first.loss),
            "nonfinite": nf, "learning_rate": lr, "clipping": ctx.settings.clipping,
        },
        patch,
        "Restart: " + fix[0].lower() + fix[1:],
    )]
