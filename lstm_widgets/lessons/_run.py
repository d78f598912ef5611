"""Reading the run a check judges, and the criteria several checks share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diagnosis import diagnose
from ..diagnosis.context import settings_in_force
from ..diagnosis.finding import fmt
from ..diagnosis.stats import finite, mean_baseline
from ..history import RunSettings
from .result import CheckResult, Criterion

__all__ = ["Run", "run_of", "begin", "diagnose_run", "trained", "not_diverged", "loss_falls", "beats_mean",
           "findings_absent", "result", "MIN_EPOCHS", "LOSS_MUST_FALL"]

#: Epochs a run needs before a check judges it: the diagnosis leaves out the first epoch
#: and needs three more to see a trend (thresholds.MIN_TREND_EPOCHS), plus one to spare.
MIN_EPOCHS = 5
#: Share by which the loss must fall from the first recorded epoch to the last for
#: "the loss falls": 10%, clearly above epoch-to-epoch noise (see thresholds.LOSS_FLAT).
LOSS_MUST_FALL = 0.10


@dataclass
class Run:
    """The run a check judges: its records, the settings in force, its data."""

    history: Any
    records: list
    settings: RunSettings
    data: Any = None
    trainer: Any = None
    status: str = ""


def run_of(obj: Any, name: str = "run") -> Run:
    """The latest run of a Lab, a Trainer or a History, or run ``run_id`` of ``(history, run_id)``."""
    run_id = None
    if isinstance(obj, tuple) and len(obj) == 2:
        obj, run_id = obj
    trainer = getattr(obj, "trainer", None)
    if trainer is None and hasattr(type(obj), "model_") and hasattr(obj, "history"):  # not obj.model_: no unpark
        trainer = obj  # a Trainer
    history = getattr(obj, "history", obj)
    if not (hasattr(history, "run") and hasattr(history, "runs")):
        raise ValueError(
            f"{name} must be a Lab, a Trainer or a History; got {type(obj).__name__}. "
            f"Pass the lab you trained, e.g. check(lab)."
        )
    if run_id is not None and run_id not in history.runs:
        raise ValueError(f"{name}: run {run_id!r} is not in that History; its runs are {history.run_ids}.")
    records = history.run(run_id)
    info = history.runs.get(records[-1].run_id) if records else None
    settings = settings_in_force(records, history.run_markers(run_id), info.settings if info else None)
    if trainer is not None:
        settings = RunSettings.from_config(trainer.config)
    data = getattr(obj, "data", None) if trainer is None else trainer.data
    return Run(history, records, settings, data, trainer, info.status if info else "")


def begin(obj: Any, check: str, name: str = "lab") -> tuple[Run, list, CheckResult | None]:
    """(the run, its diagnosis, None), or (the run, [], a "train first" result) when the
    run has recorded nothing yet: how every check starts."""
    run = run_of(obj, name)
    if not run.records:
        return run, [], CheckResult(check, [trained(run, MIN_EPOCHS if name == "lab" else 1)])
    return run, diagnose_run(run), None


def diagnose_run(run: Run) -> list:
    """The diagnosis of the run."""
    return diagnose(run.history, run.data)


def trained(run: Run, epochs: int = MIN_EPOCHS) -> Criterion:
    n = len(run.records)
    return Criterion(
        f"The latest run trained at least {epochs} epochs",
        n >= epochs,
        f"{n} epoch(s) recorded in run {run.records[-1].run_id}" if n else "nothing recorded yet",
        f"Train longer: lab.set(epochs={max(epochs, 10)}), then lab.restart(start=False) and "
        f"lab.train(wait=True).",
    )


def not_diverged(run: Run, hint: str) -> Criterion:
    bad = [r for r in run.records if r.diverged or not finite(r.loss)]
    ok = bool(run.records) and not bad and run.status != "diverged"
    detail = (
        f"epoch {bad[0].epoch}: loss {fmt(bad[0].loss)}" if bad
        else f"every loss finite, last {fmt(run.records[-1].loss)}" if run.records else "no epoch"
    )
    return Criterion("No NaN or infinity: the run did not diverge", ok, detail, hint)


def loss_falls(run: Run, share: float = LOSS_MUST_FALL, hint: str = "") -> Criterion:
    losses = [r.loss for r in run.records if finite(r.loss)]
    if len(losses) < 2:
        return Criterion(f"The training loss falls by at least {share:.0%}", False, "too few epochs", hint)
    drop = (losses[0] - losses[-1]) / abs(losses[0]) if losses[0] else 0.0
    return Criterion(
        f"The training loss falls by at least {share:.0%}",
        drop >= share,
        f"{fmt(losses[0])} → {fmt(losses[-1])}, {'fell' if drop >= 0 else 'rose'} {abs(drop):.0%}",
        hint,
    )


def beats_mean(run: Run, hint: str, share: float = 1.0) -> Criterion | None:
    """The last epoch's training loss is below ``share`` x that of always predicting the
    mean (1: merely beats it; TRAINS_SHARE: well below it, the stability maps' "trains")."""
    if run.data is None or not run.records:
        return None
    naive = mean_baseline(run.data, "train", bool(run.settings.scale_target), run.settings.loss or "mse")
    loss = run.records[-1].loss
    text = ("The final training loss beats always predicting the mean target" if share >= 1 else
            f"The final training loss is at most {share:g} of always predicting the mean target")
    return Criterion(
        text,
        finite(loss) and loss < share * naive,
        f"{fmt(loss)} vs {fmt(naive)} for the mean" + (f" ({fmt(loss / naive)} of it)" if share < 1 and naive else ""),
        hint,
    )


def findings_absent(
    findings: list | None, codes: tuple[str, ...], text: str, hint: str, quote_fix: bool = True
) -> Criterion | None:
    """Holds when the diagnosis reports none of ``codes``; the hint quotes the finding's
    fix unless ``quote_fix`` is False (when the exercise rules that fix out)."""
    if findings is None:
        return None
    hits = [f for f in findings if f.code in codes]
    detail = "diagnosis: " + ", ".join(f.code for f in findings) if findings else "diagnosis: nothing yet"
    if hits and hits[0].fix and quote_fix:
        hint = f"{hint} The diagnosis suggests: {hits[0].fix}"
    return Criterion(text, not hits, detail, hint)


def result(name: str, criteria: list, findings: list | None) -> CheckResult:
    notes = []
    if findings is None:
        notes.append("The diagnosis is not available yet, so the criteria that rely on it were skipped.")
    return CheckResult(name, [c for c in criteria if c is not None], notes)
