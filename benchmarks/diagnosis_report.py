"""Evaluate the diagnosis on a labelled corpus of real training runs (tests/support/corpus.py).

For every case and seed: train it; train its designed fix where the label needs one;
confirm the label from the OUTCOME (never from the diagnosis); diagnose; and for every
warning or problem that suggests a patch, train the run again with the patch applied.
Then print, separately for the tuned part, the held-apart part (seed 2 of every case,
and the held-out series) and the fresh part (seed 3, never tuned on):

- recall per finding code (found / confirmed runs of that code) and precision (runs where
  the code was reported and is the label or one of its companions / all runs where it
  was reported);
- warnings or problems on healthy runs (target: none);
- how many patches made their run better: a lower validation MSE in the target's own
  units, and no problem the original run did not have (target: at least 90%).

Runs are cached on disk by their settings (``--cache DIR``), so the diagnosis can be
re-evaluated without training again; delete the folder after changing the engine.

    python benchmarks/diagnosis_report.py [--quick] [--cache DIR] [--only CODE[,CODE]]

The last line: ``recall >= 95% per code: yes/no, healthy warnings: N | N | N, patches
improving: P% | P% | P% (tuned | held apart | fresh)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/support

from lstm_widgets import History, TrainConfig, diagnose  # noqa: E402
from support.corpus import COMPANIONS, SEEDS, Case, cases, confirmed, make_data  # noqa: E402

RECALL_TARGET = 0.95
PATCH_TARGET = 0.90
IMPROVES_BY = 0.005  # a patched run counts as better when its MSE is at least 0.5% lower


class Runs:
    """Train (or read back from the cache) one run per (dataset, config, seed, then)."""

    def __init__(self, cache: Path | None):
        self.cache = cache
        self.trained = 0
        self.seconds = 0.0
        if cache:
            cache.mkdir(parents=True, exist_ok=True)

    def get(self, dataset: dict, config: dict, seed: int, then: dict | None = None):
        key = hashlib.sha1(json.dumps([dataset, config, seed, then], sort_keys=True).encode()).hexdigest()[:16]
        path = self.cache / f"{key}.json" if self.cache else None
        if path and path.exists():
            d = json.loads(path.read_text())
            return History.from_json(d["history"]), d["units_mse"]
        from lstm_widgets import Trainer

        data = make_data(dataset)
        t0 = time.perf_counter()
        trainer = Trainer(TrainConfig(seed=seed, **config), data)
        trainer.start()
        trainer.wait()
        if then and trainer.state == "finished":
            trainer.set(**then["set"])
            trainer.set(epochs=then["epochs"])
            trainer.start()
            trainer.wait()
        units = _units_mse(trainer, data)
        self.seconds += time.perf_counter() - t0
        self.trained += 1
        if path:
            path.write_text(json.dumps({"history": trainer.history.to_json(), "units_mse": units}))
        return trainer.history, units


def _units_mse(trainer, data) -> float:
    """The final model's validation MSE in the target's own units (inf if it diverged)."""
    last = trainer.history.latest
    if trainer.model_ is None or last is None or last.diverged or not data.has_val:
        return math.inf
    with np.errstate(all="ignore"):
        m = float(np.mean((trainer.predict(data.X_val) - data.y_val) ** 2))
    return m if math.isfinite(m) else math.inf


def evaluate(selected: list[Case], runs: Runs, seeds=SEEDS, patches: bool = True, misses: bool = False) -> list[dict]:
    rows = []
    for case in selected:
        for seed in seeds:
            history, units = runs.get(case.dataset, case.config, seed, case.then)
            fixed = None
            if case.fix:
                fixed = runs.get(case.dataset, {**case.config, **case.fix}, seed, case.then)[1]
            data = make_data(case.dataset)
            findings = diagnose(history, data)
            problems = {f.code for f in findings if f.severity == "problem"}
            row = {
                "case": case, "seed": seed, "part": case.part(seed), "units": units, "fixed": fixed,
                "confirmed": confirmed(case, history, units, fixed), "findings": findings,
                "codes": [f.code for f in findings], "patches": [],
            }
            for f in findings:
                if not (patches and f.actionable and f.patch):
                    continue
                try:
                    patched_config = TrainConfig(**case.config).replace(**f.patch).to_dict()
                except ValueError as exc:
                    row["patches"].append((f.code, f.patch, False, f"invalid: {exc}"))
                    continue
                patched_config.pop("seed", None)
                p_hist, p_units = runs.get(case.dataset, patched_config, seed, None)
                new = {g.code for g in diagnose(p_hist, data) if g.severity == "problem"} - problems
                better = p_units < (1 - IMPROVES_BY) * units if math.isfinite(units) else math.isfinite(p_units)
                row["patches"].append((f.code, f.patch, better and not new,
                                       f"{units:.4g} -> {p_units:.4g}" + (f", new {sorted(new)}" if new else "")))
            rows.append(row)
            mark = "ok " if (row["confirmed"] and (case.expected in row["codes"] if case.expected != "healthy"
                                                   else not any(f.actionable for f in findings))) else "MISS"
            if not row["confirmed"]:
                mark = "n/c"  # the outcome did not show what the case was designed for
            if misses and mark == "ok ":
                continue
            tag = {"tuned": "  ", "held apart": " H", "fresh": " F"}[row["part"]]
            print(f"{mark} {case.name:34s} seed {seed}{tag} units {units:9.4g} "
                  f"found {','.join(f'{f.code}:{f.severity[0]}' for f in findings)}"
                  + "".join(f" | patch {c} {'+' if ok else '-'} ({note})" for c, _, ok, note in row["patches"]),
                  flush=True)
    return rows


def _recipe(case: Case) -> str:
    c = case.config
    name = c.get("optimizer", "adam")
    return name + ("+momentum" if c.get("momentum") else "")


def coverage(rows: list[dict]) -> None:
    """Per label: the datasets and optimizers of its runs confirmed by their outcome, and
    the seeds they were confirmed at."""
    by = defaultdict(lambda: (set(), set(), set(), [0, 0]))
    for r in rows:
        ds, opts, seeds, n = by[r["case"].expected]
        n[1] += 1
        if r["confirmed"]:
            ds.add(r["case"].dataset.get("name"))
            opts.add(_recipe(r["case"]))
            seeds.add(r["seed"])
            n[0] += 1
    print("\n== coverage (runs confirmed by their outcome)")
    for code in sorted(by):
        ds, opts, seeds, (k, n) = by[code]
        print(f"  {code:22s} {k:3d}/{n:<3d} runs  {len(ds)} datasets  {len(opts)} optimizers ({', '.join(sorted(opts))})"
              f"  seeds {','.join(map(str, sorted(seeds)))}")


def summarize(rows: list[dict], label: str) -> dict:
    by_code = defaultdict(lambda: {"n": 0, "hit": 0})
    reported = defaultdict(lambda: {"n": 0, "right": 0})
    healthy_alarms, unconfirmed = [], []
    patches = [p for r in rows for p in r["patches"]]
    for r in rows:
        exp = r["case"].expected
        if not r["confirmed"]:
            unconfirmed.append(f"{r['case'].name}/{r['seed']}")
            continue
        actionable = [f for f in r["findings"] if f.actionable]
        if exp == "healthy":
            by_code["healthy"]["n"] += 1
            by_code["healthy"]["hit"] += not actionable
            if actionable:
                healthy_alarms.append(f"{r['case'].name}/{r['seed']}: " + ", ".join(f.code for f in actionable))
        else:
            by_code[exp]["n"] += 1
            by_code[exp]["hit"] += exp in r["codes"]
        for f in actionable:
            reported[f.code]["n"] += 1
            reported[f.code]["right"] += f.code == exp or f.code in COMPANIONS.get(exp, ())
    print(f"\n== {label}: {len(rows)} runs, {len(rows) - len(unconfirmed)} confirmed by their outcome")
    ok = True
    for code in sorted(by_code):
        s = by_code[code]
        recall = s["hit"] / s["n"] if s["n"] else math.nan
        prec = reported[code]["right"] / reported[code]["n"] if reported[code]["n"] else math.nan
        ok &= not (recall < RECALL_TARGET)
        print(f"  {code:22s} recall {s['hit']:3d}/{s['n']:<3d} {recall:6.1%}   precision "
              + (f"{reported[code]['right']}/{reported[code]['n']} {prec:.1%}" if reported[code]["n"] else "-"))
    for code in sorted(set(reported) - set(by_code)):
        print(f"  {code:22s} (no case)  precision {reported[code]['right']}/{reported[code]['n']}")
    n_good = sum(ok_ for _, _, ok_, _ in patches)
    share = n_good / len(patches) if patches else math.nan
    print(f"  warnings or problems on healthy runs: {len(healthy_alarms)}" + "".join(f"\n    {a}" for a in healthy_alarms))
    print(f"  patches that made their run better: {n_good}/{len(patches)} ({share:.0%})")
    if unconfirmed:
        print(f"  not confirmed by their outcome (left out): {', '.join(unconfirmed)}")
    return {"recall_ok": ok, "healthy_alarms": len(healthy_alarms), "patch_share": share}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="seed 0 only")
    p.add_argument("--cache", type=Path, default=None, help="folder to keep trained runs in")
    p.add_argument("--only", default="", help="comma-separated codes to evaluate")
    p.add_argument("--no-patches", action="store_true", help="skip the patched runs (recall and alarms only)")
    p.add_argument("--misses", action="store_true", help="print only the runs the diagnosis got wrong")
    args = p.parse_args(argv)
    only = {c for c in args.only.split(",") if c}
    selected = [c for c in cases() if not only or c.expected in only]
    seeds = (0,) if args.quick else SEEDS
    runs = Runs(args.cache)
    t0 = time.perf_counter()
    rows = evaluate(selected, runs, seeds, patches=not args.no_patches, misses=args.misses)
    coverage(rows)
    names = [n for n in ("tuned", "held apart", "fresh") if any(r["part"] == n for r in rows)]
    parts = [summarize([r for r in rows if r["part"] == n], f"{n} part") for n in names]
    print(f"\n{runs.trained} runs trained in {runs.seconds:.0f} s ({time.perf_counter() - t0:.0f} s in all)")
    recall_ok = "yes" if all(x["recall_ok"] for x in parts) else "no"
    alarms = " | ".join(str(x["healthy_alarms"]) for x in parts)
    shares = " | ".join(f"{x['patch_share']:.0%}" for x in parts)
    verdict = (f"recall >= {RECALL_TARGET:.0%} per code: {recall_ok}, healthy warnings: {alarms}, "
               f"patches improving: {shares} ({' | '.join(names)})")
    print(verdict)
    good = all(x["recall_ok"] and x["healthy_alarms"] == 0 and not (x["patch_share"] < PATCH_TARGET) for x in parts)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
