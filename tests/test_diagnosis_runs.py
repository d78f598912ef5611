"""diagnose() on real training runs: a subset of the evaluation corpus (tests/support/
corpus.py, seed 0 of one case per finding code and several healthy recipes), each case's
label first confirmed by the run's outcome, then the diagnosis checked against it; plus
properties every real run's findings must have. The whole corpus, every seed, the held-apart
part and the patches' effect: ``make bench`` (benchmarks/diagnosis_report.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import pytest
from support.corpus import CASES, COMPANIONS, confirmed, make_data

from lstm_widgets import History, Trainer, TrainConfig, load_dataset
from lstm_widgets.diagnosis import CODES, SEVERITIES, Finding, diagnose
from lstm_widgets.history import RunSettings

SUBSET = (
    "nonfinite/sine/sgd10",
    "exploding/sine/sgd3",
    "lr_too_high/adding10/adam.3",
    "lr_too_low/sine/sgd1e-3",
    "unscaled_inputs/multiscale/adam",
    "unscaled_target/weather/adam",
    "clipping_too_tight/sine/sgd",
    "vanishing/adding100/simple_rnn",
    "stalled/multiscale/sgd",
    "not_learning/echo60/adam",
    "behind/sine/sgd",
    "healthy/sine/adam",
    "healthy/multiscale/adam",
    "healthy/sine/adam-tight-clip",
    "healthy/sine/decayed-lr",
    "healthy/weather/adam-celsius",
)
BY_NAME = {c.name: c for c in CASES}
TREND_CODES = {"lr_too_high", "lr_too_low", "stalled_weights", "clipping_too_tight", "not_learning"}


def _train(case, config=None):
    data = make_data(case.dataset)
    t = Trainer(TrainConfig(seed=0, **(config or case.config)), data)
    t.start()
    t.wait(300)
    if case.then and t.state == "finished":
        t.set(**case.then["set"])
        t.set(epochs=case.then["epochs"])
        t.start()
        t.wait(300)
    return t, data


def _units_mse(t, data):
    import math

    import numpy as np

    if t.history.latest.diverged:
        return math.inf
    return float(np.mean((t.predict(data.X_val) - data.y_val) ** 2))


@pytest.fixture(scope="module")
def runs():
    """{name: (history, data, findings, confirmed)}, each case trained once (seed 0)."""
    out = {}
    for name in SUBSET:
        case = BY_NAME[name]
        t, data = _train(case)
        fixed = None
        if case.fix:
            f, _ = _train(case, {**case.config, **case.fix})
            fixed = _units_mse(f, data)
        ok = confirmed(case, t.history, _units_mse(t, data), fixed)
        out[name] = (t.history, data, diagnose(t.history, data), ok)
    return out


@pytest.mark.parametrize("name", SUBSET)
def test_the_outcome_shows_the_label_and_the_diagnosis_finds_it(runs, name):
    case = BY_NAME[name]
    history, _, findings, ok = runs[name]
    assert ok, f"{name}: the run's outcome did not show {case.expected}; the case no longer tests it"
    codes = [f.code for f in findings]
    if case.expected == "healthy":
        assert not [f for f in findings if f.actionable], [(f.code, f.evidence) for f in findings]
        return
    assert case.expected in codes, [(f.code, f.evidence) for f in findings]
    stray = [f.code for f in findings if f.severity == "problem" and f.code != case.expected
             and f.code not in COMPANIONS[case.expected]]
    assert not stray, f"false alarms in {name}: {stray}"
    assert "healthy" not in codes


def test_findings_are_complete_sorted_and_json_friendly(runs):
    for name, (_, _, findings, _) in runs.items():
        ranks = [SEVERITIES.index(f.severity) for f in findings]
        assert ranks == sorted(ranks, reverse=True), name
        for f in findings:
            assert isinstance(f, Finding) and f.code in CODES
            assert f.title and f.explanation and f.evidence, (name, f.code)
            json.dumps(asdict(f), allow_nan=False)  # data holds no NaN/inf, no numpy types
            if f.patch:
                assert f.fix, (name, f.code)


def test_patches_are_valid_relative_changes_within_what_is_shown_diverging(runs):
    from lstm_widgets.diagnosis import thresholds as T

    for name, (history, _, findings, _) in runs.items():
        config = TrainConfig(**BY_NAME[name].config)
        for f in findings:
            new = config.replace(**f.patch)  # raises ValueError if invalid
            assert not f.patch or new.diff(config), (name, f.code, f.patch)
            if f.code == "lr_too_low":
                assert new.learning_rate > config.learning_rate
                assert new.learning_rate <= (0.1 if new.optimizer == "sgd" else 0.01)  # SGD 1.0 explodes
            if f.code in ("lr_too_high", "nonfinite", "exploding_gradients") and "learning_rate" in f.patch:
                assert new.learning_rate <= 1.6 * config.learning_rate / 10, (name, f.code)  # about 10x or more
            if f.code == "lr_too_high" and f.data["largest_step"] and f.data["largest_step"] >= T.STEP_TOO_LARGE:
                # steps scale with the rate: the largest one shown, at the new rate
                assert f.data["largest_step"] * new.learning_rate / config.learning_rate <= T.STEP_SAFE * 1.001
            if f.code == "nonfinite" and new.optimizer == "sgd" and new.clipping == "clipnorm":
                # the largest step clipping allows, against the weights' size at initialisation
                n_vars = len(history.structure.variables)
                longest = new.learning_rate * new.clip_threshold * n_vars**0.5 / (1 - new.momentum)
                assert longest <= T.STEP_SAFE * history.runs[1].initial_weight_norm * 1.001, (name, f.patch)
            if f.code == "unscaled_inputs":
                assert new.scaler == "standard"
            if f.code == "clipping_too_tight":
                assert new.clip_threshold >= 10 * config.clip_threshold
            if f.code in ("vanishing_gradients", "clipping_no_effect", "not_learning", "behind_persistence"):
                assert not f.patch  # no patch that a run showed to make things better


def test_json_round_trip_gives_the_same_findings(runs):
    for name, (history, data, findings, _) in runs.items():
        again = diagnose(History.from_json(history.to_json()), data)
        assert [asdict(f) for f in again] == [asdict(f) for f in findings], name


#: Findings that need the raw data (the target's scale), so only a diagnosis given it makes them.
DATA_ONLY = {"unscaled_target"}


def test_data_is_optional_and_only_adds_the_target_findings(runs):
    for name, (history, _, findings, _) in runs.items():
        without = {f.code for f in diagnose(history)}
        assert not DATA_ONLY & without, name


@pytest.mark.parametrize("n_epochs", [1, 2])
def test_very_short_runs_do_not_judge_trends(runs, n_epochs):
    for name, (history, data, _, _) in runs.items():
        h = History.from_json(history.to_json())
        h.records = h.records[:n_epochs]
        h.markers = [m for m in h.markers if m.position < n_epochs]
        findings = diagnose(h, data)
        assert findings, name
        assert not TREND_CODES & {f.code for f in findings}, (name, [f.code for f in findings])


def test_empty_history_gives_no_finding_and_bad_input_is_named():
    assert diagnose(History()) == []
    h = History()
    h.begin_run(1, RunSettings.from_config(TrainConfig()))
    assert diagnose(h) == []
    with pytest.raises(ValueError, match="history must be an lstm_widgets History"):
        diagnose([1, 2, 3])


def test_diagnosis_imports_no_tensorflow():
    code = (
        "import sys, lstm_widgets.diagnosis, lstm_widgets.render, lstm_widgets.lessons;"
        "sys.exit(1 if any(m.split('.')[0] == 'tensorflow' for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_change_is_judged_on_the_epochs_after_it():
    data = load_dataset("sine", n_samples=256, seq_len=16)
    trainer = Trainer(TrainConfig(optimizer="adam", learning_rate=1e-6, units=8, epochs=5, seed=0), data)
    trainer.start()
    trainer.wait(120)
    assert "lr_too_low" in [f.code for f in diagnose(trainer.history, data)]

    trainer.set(learning_rate=3e-3)
    waiting = diagnose(trainer.history, data)
    assert [f.code for f in waiting] == ["waiting"] and waiting[0].data["new"] == pytest.approx(3e-3)

    trainer.set(epochs=8)
    trainer.start()  # continues the same run with the new learning rate
    trainer.wait(120)
    assert trainer.history.run_markers()
    after = diagnose(trainer.history, data)
    assert "lr_too_low" not in [f.code for f in after], [(f.code, f.evidence) for f in after]
