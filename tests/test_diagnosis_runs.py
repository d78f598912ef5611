"""diagnose(): proven on real training runs (lstm_widgets.scenarios), plus edge cases.

Every scenario trains once per module (a module-scoped fixture); the whole file takes
well under a minute on two CPU cores.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import asdict

import pytest
from lstm_widgets import History, TrainConfig, load_dataset
from lstm_widgets.diagnosis import CODES, SEVERITIES, Finding, diagnose, per_step_ratio
from lstm_widgets.engine.trainer import Trainer
from lstm_widgets.history import RunSettings

from support.scenarios import (
    COMPANIONS,
    SCENARIOS,
    Scenario,
    build_scenario,
    run_scenario,
)

BAD = [s for s in SCENARIOS.values() if not s.good]
GOOD = [s for s in SCENARIOS.values() if s.good]
TREND_CODES = {"lr_too_high", "lr_too_low", "stalled_weights", "clipping_too_tight"}


@pytest.fixture(scope="module")
def runs():
    """{name: (history, data, findings)} for every scenario, each trained once."""
    out = {}
    for sc in SCENARIOS.values():
        history, data = run_scenario(sc)
        out[sc.name] = (history, data, diagnose(history, data))
    return out


def _codes(findings):
    return [f.code for f in findings]


def _sub_history(history: History, n_epochs: int) -> History:
    """The same run cut after its first ``n_epochs`` epochs."""
    h = History.from_json(history.to_json())
    h.records = h.records[:n_epochs]
    return h


# -- the scenarios produce what they are meant to -------------------------------------------


@pytest.mark.parametrize("scenario", BAD, ids=lambda s: s.name)
def test_problem_scenario_is_found(runs, scenario):
    _, _, findings = runs[scenario.name]
    assert scenario.expected in _codes(findings), [(f.code, f.evidence) for f in findings]
    allowed = {scenario.expected} | COMPANIONS[scenario.expected]
    stray = [f.code for f in findings if f.severity == "problem" and f.code not in allowed]
    assert not stray, f"false alarms in {scenario.name}: {stray}"
    assert "healthy" not in _codes(findings)


@pytest.mark.parametrize("scenario", GOOD, ids=lambda s: s.name)
def test_good_configuration_raises_no_alarm(runs, scenario):
    _, _, findings = runs[scenario.name]
    assert _codes(findings) == ["healthy"], [(f.code, f.evidence) for f in findings]
    assert findings[0].severity == "info" and findings[0].evidence


def test_good_configurations_cover_several_datasets():
    assert len({s.dataset["name"] for s in GOOD}) >= 2


# -- the findings are well formed ---------------------------------------------------------------


def test_findings_are_complete_sorted_and_json_friendly(runs):
    for name, (_, _, findings) in runs.items():
        ranks = [SEVERITIES.index(f.severity) for f in findings]
        assert ranks == sorted(ranks, reverse=True), name
        for f in findings:
            assert isinstance(f, Finding) and f.code in CODES
            assert f.title and f.explanation and f.evidence, (name, f.code)
            json.dumps(asdict(f), allow_nan=False)  # data holds no NaN/inf, no numpy types
            if f.patch:
                assert f.fix, (name, f.code)


def test_patches_are_valid_relative_changes(runs):
    for name, (_, _, findings) in runs.items():
        config, _ = build_scenario(SCENARIOS[name])
        for f in findings:
            new = config.replace(**f.patch)  # raises ValueError if invalid
            assert not f.patch or new.diff(config), (name, f.code, f.patch)
            lr_old, lr_new = config.learning_rate, new.learning_rate
            if f.code == "lr_too_low":
                assert 10 * lr_old * 0.999 <= lr_new <= 100 * lr_old * 1.001 and lr_new <= 1.0
            if f.code in ("lr_too_high", "nonfinite"):
                assert lr_new == pytest.approx(lr_old / 10, rel=0.6)
            if f.code in ("nonfinite", "exploding_gradients"):
                assert new.clipping != "none" and new.clip_threshold <= 1.0
            if f.code == "unscaled_inputs":
                assert new.scaler == "standard"
            if f.code == "clipping_too_tight":
                assert new.clip_threshold >= 10 * config.clip_threshold
            if f.code == "clipping_no_effect":
                assert new.clip_threshold < config.clip_threshold


def test_json_round_trip_gives_the_same_findings(runs):
    for name, (history, data, findings) in runs.items():
        again = diagnose(History.from_json(history.to_json()), data)
        assert [asdict(f) for f in again] == [asdict(f) for f in findings], name


#: Findings that need the raw target, so only a diagnosis given the data can make them.
DATA_ONLY = {"unscaled_target", "worse_than_mean"}


def test_data_is_optional_and_only_adds_the_target_findings(runs):
    for name, (history, _, findings) in runs.items():
        without = _codes(diagnose(history))
        with_data = [c for c in _codes(findings) if c not in DATA_ONLY]
        assert [c for c in without if c not in DATA_ONLY] == with_data, name
        assert not DATA_ONLY & set(without), name


# -- short and empty histories ------------------------------------------------------------------


def test_empty_history_gives_no_finding():
    assert diagnose(History()) == []
    h = History()
    h.begin_run(1, RunSettings.from_config(TrainConfig()))
    assert diagnose(h) == []


@pytest.mark.parametrize("n_epochs", [1, 2])
def test_very_short_runs_do_not_judge_trends(runs, n_epochs):
    for name, (history, data, _) in runs.items():
        findings = diagnose(_sub_history(history, n_epochs), data)
        assert findings, name
        assert not TREND_CODES & set(_codes(findings)), (name, _codes(findings))


def test_bad_history_argument():
    with pytest.raises(ValueError, match="history must be an lstm_widgets History"):
        diagnose([1, 2, 3])


def test_per_step_ratio_uses_sqrt_of_steps():
    assert per_step_ratio(0.03, 9) == pytest.approx(0.01)
    assert per_step_ratio(0.01, 0) == pytest.approx(0.01)


def test_diagnosis_imports_no_tensorflow():
    code = (
        "import sys, lstm_widgets.diagnosis, lstm_widgets.render, lstm_widgets.lessons;"
        "sys.exit(1 if any(m.split('.')[0] == 'tensorflow' for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- changes while training: judge the epochs since the change ---------------------------------


def test_a_change_is_judged_on_the_epochs_after_it():
    from lstm_widgets import Trainer

    data = load_dataset("sine", n_samples=256, seq_len=16)
    trainer = Trainer(TrainConfig(optimizer="adam", learning_rate=1e-6, units=8, epochs=5, seed=0), data)
    trainer.start()
    trainer.wait(120)
    assert "lr_too_low" in _codes(diagnose(trainer.history, data))

    trainer.set(learning_rate=3e-3)
    waiting = diagnose(trainer.history, data)
    assert _codes(waiting) == ["waiting"] and waiting[0].data["new"] == pytest.approx(3e-3)

    trainer.start()  # continues the same run with the new learning rate
    trainer.wait(120)
    assert len(trainer.history.run()) == 10 and trainer.history.run_markers()
    after = diagnose(trainer.history, data)
    assert "lr_too_low" not in _codes(after), [(f.code, f.evidence) for f in after]
    assert not any(f.severity == "problem" for f in after)


def test_scenario_lookup_errors():
    with pytest.raises(ValueError, match="scenario 'nope' is unknown"):
        run_scenario("nope")
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        run_scenario(42)
    assert isinstance(SCENARIOS["lr_too_low"], Scenario)
    assert all(not math.isnan(float(s.config.get("learning_rate", 1e-3))) for s in SCENARIOS.values())


# -- findings that need the raw data (real runs) ------------------------------------------


@pytest.fixture(scope="module")
def big_target():
    """The sine task with its target in raw units in the hundreds (as kW or prices are)."""
    from lstm_widgets import SequenceData

    d = load_dataset("sine", n_samples=384, seq_len=20)
    return SequenceData(d.X_train, d.y_train * 300 + 800, d.X_val, d.y_val * 300 + 800, name="big")


def _trained(data, **cfg):
    t = Trainer(TrainConfig(units=8, epochs=8, **cfg), data)
    t.start()
    t.wait(300)
    return t


def test_a_target_in_raw_units_is_found_and_its_fix_works(big_target):
    raw = _trained(big_target)
    found = {f.code: f for f in diagnose(raw.history, big_target)}
    assert "unscaled_target" in found and found["unscaled_target"].patch == {"scale_target": True}
    assert "worse_than_mean" in found
    assert any("Target RMS" in line for line in found["unscaled_target"].evidence)
    fixed = _trained(big_target, **found["unscaled_target"].patch)
    codes = [f.code for f in diagnose(fixed.history, big_target)]
    assert codes == ["healthy"], codes
    assert "unscaled_target" not in [f.code for f in diagnose(raw.history)]  # needs the data


def test_a_run_worse_than_the_mean_is_called_out():
    data = load_dataset("adding", n_samples=512, seq_len=40)
    t = Trainer(TrainConfig(optimizer="sgd", learning_rate=1.0, clipping="clipnorm", clip_threshold=100.0,
                            epochs=10), data)
    t.start()
    t.wait(300)
    found = {f.code: f for f in diagnose(t.history, data)}
    assert "worse_than_mean" in found, list(found)
    assert found["worse_than_mean"].data["best_loss"] >= 2 * found["worse_than_mean"].data["mean_baseline"]
