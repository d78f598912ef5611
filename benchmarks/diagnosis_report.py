"""Train every scenario of tests/support/scenarios.py for real and check the diagnosis.

Prints one row per scenario: the finding it should produce, the findings produced
(severity p/w/i), hit or miss, and the margin of the deciding number to its threshold
(how far from the edge the scenario is). The last line is ``hits: N/M, false alarms: K``.

A hit: the expected code is among the findings (for a good scenario: no warning or
problem at all). A false alarm: any warning or problem in a good scenario, or in any
other scenario a problem-severity finding that is neither expected nor one of its
companions (tests/support/scenarios.py.COMPANIONS).

Run: ``.venv/bin/python benchmarks/diagnosis_report.py [scenario ...]``
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/support

from lstm_widgets.diagnosis import diagnose, stats as S, thresholds as T  # noqa: E402
from support.scenarios import COMPANIONS, SCENARIOS, run_scenario


def judge(scenario, findings) -> tuple[bool, list[str]]:
    """(hit, false alarms) for one scenario's findings."""
    codes = {f.code for f in findings}
    serious = [f for f in findings if f.severity in ("warning", "problem")]
    if scenario.good:
        return not serious, [f.code for f in serious]
    allowed = {scenario.expected} | COMPANIONS.get(scenario.expected, frozenset())
    alarms = [f.code for f in findings if f.severity == "problem" and f.code not in allowed]
    return scenario.expected in codes, alarms


def _x(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return "n/a"
    return f"{a / b:.3g}x"


def margin(scenario, findings, history) -> str:
    """How far the deciding number is from its threshold (bigger is safer)."""
    by = {f.code: f for f in findings}
    f = by.get(scenario.expected)
    if scenario.good:
        recs = history.run()[-T.WINDOW_EPOCHS:]
        trend = S.loss_trend(recs)
        prof = [S.time_profile(r.grad_through_time) for r in recs]
        ratios = [p["ratio"] for p in prof if p]
        worst = min(ratios) if ratios else math.nan
        return (
            f"loss falls {trend['progress']:.0%}, {trend['ups']} up / val {trend['val_ups']} up;"
            f" grad-time ratio {_x(worst, T.VANISH_RATIO)} above"
        )
    if f is None:
        return "-"
    d = f.data
    if f.code == "nonfinite":
        return f"diverged at epoch {d['epoch']}"
    if f.code == "exploding_gradients":
        return f"growth {_x(d['growth'] or math.nan, T.EXPLODE_GROWTH)} the limit"
    if f.code == "lr_too_high":
        step = S.median(d["update_ratio_step"])
        return f"ratio/step {_x(step, T.UPDATE_RATIO_HIGH)} the limit, loss {d['trend']}"
    if f.code == "lr_too_low":
        step = S.median(d["update_ratio_step"])
        return f"ratio/step {_x(T.UPDATE_RATIO_LOW, step)} below the limit"
    if f.code == "unscaled_inputs":
        return f"spread {_x(d['spread'], T.UNSCALED_SPREAD)} the limit"
    if f.code == "clipping_too_tight":
        return f"kept {d['kept']:.2%} (limit {T.CLIP_SHRINK:.0%}), loss {d['progress']:.2%}"
    if f.code == "clipping_no_effect":
        return f"largest norm {_x(d['clip_threshold'] / T.CLIP_FAR_ABOVE, d['largest_pre_norm'])} below the limit"
    if f.code == "vanishing_gradients":
        return f"ratio {_x(T.VANISH_RATIO, d['ratio'])} below the limit"
    if f.code == "stalled_weights":
        kind, name, v = d["stalled"][0]
        return f"{name}: ratio {v:.2g}"
    return "-"


def main(names: list[str]) -> int:
    scenarios = [SCENARIOS[n] for n in names] if names else list(SCENARIOS.values())
    rows, hits, alarms_total = [], 0, 0
    t_all = time.perf_counter()
    for sc in scenarios:
        t0 = time.perf_counter()
        history, data = run_scenario(sc)
        findings = diagnose(history, data)
        hit, alarms = judge(sc, findings)
        hits += hit
        alarms_total += len(alarms)
        found = ", ".join(f"{f.code}({f.severity[0]})" for f in findings)
        rows.append((
            sc.name, sc.expected, found, "hit" if hit else "MISS",
            margin(sc, findings, history) + (f"; FALSE ALARM {alarms}" if alarms else ""),
            f"{time.perf_counter() - t0:.1f}s",
        ))
    head = ("scenario", "expected", "found (p=problem, w=warning, i=info)", "result", "margin", "time")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"total time {time.perf_counter() - t_all:.1f}s")
    print(f"hits: {hits}/{len(scenarios)}, false alarms: {alarms_total}")
    return 0 if hits == len(scenarios) and alarms_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
