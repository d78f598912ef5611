"""The exercise checks pass and fail on tiny real runs and say why."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lstm_widgets import SequenceData, load_dataset
from lstm_widgets.lessons import (
    CheckResult,
    Criterion,
    check_clipping,
    check_gradient_reach,
    check_learning_rate,
    check_own_data,
    check_scaler_fit,
    check_scaling,
    gradient_reach,
    sample_csv_path,
)

from support.runs import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def multiscale():
    return load_dataset("multiscale", n_samples=256, seq_len=20)


@pytest.fixture(scope="module")
def energy():
    df = pd.read_csv(sample_csv_path(), parse_dates=["timestamp"], index_col="timestamp")
    return SequenceData.from_series(df.iloc[:400], lookback=12, target="load_kw", name="energy")


def _failed(result: CheckResult) -> list[str]:
    return [c.text for c in result.criteria if not c.passed]


def test_check_clipping_passes_when_clipping_tames_the_explosion(adding20):
    trainer = train(adding20, units=8, optimizer="sgd", learning_rate=1.0, clipping="global_clipnorm",
                     clip_threshold=0.1, epochs=8)
    result = check_clipping(trainer)
    assert result.passed, repr(result)
    assert "PASSED" in repr(result) and result.hint == ""


def test_check_clipping_fails_without_clipping_and_says_why(adding20):
    trainer = train(adding20, units=8, optimizer="sgd", learning_rate=1.0, clipping="none", epochs=8)
    result = check_clipping(trainer)
    assert not result.passed
    assert "Gradient clipping is on" in _failed(result)
    assert "The final training loss beats always predicting the mean target" in _failed(result)
    assert "NOT YET" in repr(result) and "Hint:" in repr(result) and "clipping=" in result.hint


def test_check_clipping_fails_with_a_threshold_far_too_loose(adding20):
    trainer = train(adding20, units=8, optimizer="sgd", learning_rate=1.0, clipping="global_clipnorm",
                     clip_threshold=100.0, epochs=8)
    result = check_clipping(trainer)
    assert not result.passed, repr(result)
    assert "learning_rate × threshold" in result.hint or "threshold" in result.hint


def test_check_clipping_refuses_a_run_other_than_the_one_asked_for(adding20):
    # Stable runs that dodge the exercise: another clipping mode, a lower learning rate, Adam.
    for settings, words in [
        (dict(optimizer="sgd", learning_rate=1.0, clipping="clipnorm", clip_threshold=0.1), "clipping 'clipnorm'"),
        (dict(optimizer="sgd", learning_rate=0.05, clipping="global_clipnorm", clip_threshold=0.1),
         "learning rate 0.05, not 1"),
        (dict(optimizer="adam", learning_rate=1.0, clipping="global_clipnorm", clip_threshold=0.1),
         "optimizer 'adam'"),
    ]:
        result = check_clipping(train(adding20, units=8, epochs=3, **settings))
        failed = [c for c in result.criteria if not c.passed]
        assert failed and failed[0].text.startswith("It is the run the exercise asks for"), repr(result)
        assert words in failed[0].detail and "change only the threshold" in result.hint


def test_check_learning_rate_pass_and_fail():
    data = load_dataset("adding", n_samples=256, seq_len=10)
    good = check_learning_rate(train(data, units=8, learning_rate=1e-2, epochs=20))
    assert good.passed, repr(good)
    # falling, but not yet well below the mean guess (the stability map's "trains"): not yet
    slow = check_learning_rate(train(data, units=8, learning_rate=1e-2, epochs=8))
    assert _failed(slow) == ["The final training loss is at most 0.5 of always predicting the mean target"], repr(slow)
    low = check_learning_rate(train(data, units=8, learning_rate=1e-6, epochs=8))
    assert not low.passed
    assert "The weights move (no 'learning rate too low')" in _failed(low)
    assert "raise the learning rate" in low.hint


def test_check_learning_rate_needs_enough_epochs():
    data = load_dataset("adding", n_samples=128, seq_len=10)
    result = check_learning_rate(train(data, units=8, learning_rate=1e-2, epochs=2))
    assert not result.passed
    assert _failed(result)[0].startswith("The latest run trained at least")
    assert "epochs=" in result.hint


def test_check_scaling_pass_fail_and_baseline(multiscale):
    unscaled = train(multiscale, units=8, scaler="none", learning_rate=3e-3, epochs=8)
    scaled = train(multiscale, units=8, scaler="standard", learning_rate=3e-3, epochs=8)
    result = check_scaling(scaled, baseline=unscaled)
    assert result.passed, repr(result)
    assert any("baseline" in c.text for c in result.criteria)
    bad = check_scaling(unscaled)
    assert not bad.passed
    failed = " ".join(_failed(bad))
    assert "A scaler is on" in failed and "comparable scales" in failed and "saturated" in failed
    # a baseline can be a number, or (history, run_id) of an earlier run
    assert not check_scaling(scaled, baseline=1e-9).passed
    assert check_scaling(scaled, baseline=(unscaled.history, unscaled.history.current_run)).passed
    with pytest.raises(ValueError, match="not in that History"):
        check_scaling(scaled, baseline=(unscaled.history, 99))


def test_check_scaler_fit(multiscale):
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    flat = lambda X: X.reshape(-1, X.shape[-1])  # noqa: E731
    assert check_scaler_fit(StandardScaler().fit(flat(multiscale.X_train)), multiscale).passed
    assert check_scaler_fit(MinMaxScaler().fit(flat(multiscale.X_train)), multiscale).passed
    leaky = StandardScaler().fit(flat(np.concatenate([multiscale.X_train, multiscale.X_val])))
    result = check_scaler_fit(leaky, multiscale)
    assert not result.passed and "seen the validation data" in result.hint
    unfitted = check_scaler_fit(StandardScaler(), multiscale)
    assert not unfitted.passed and "fit" in unfitted.hint
    lumped = check_scaler_fit(StandardScaler().fit(multiscale.X_train.reshape(-1, 1)), multiscale)
    assert not lumped.passed and "one statistic per feature" in _failed(lumped)[0]
    with pytest.raises(ValueError, match="must be a scikit-learn scaler"):
        check_scaler_fit(object(), multiscale)
    with pytest.raises(ValueError, match="no validation split"):
        check_scaler_fit(leaky, SequenceData(multiscale.X_train, multiscale.y_train))


def test_check_scaler_fit_checks_every_statistic_of_any_scaler():
    """A leaky MinMaxScaler on a rising series has the training split's minimum (only its
    maximum moved): comparing one statistic passed it. A RobustScaler, which lesson 3
    teaches, used to be refused."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    t = np.arange(1200, dtype=float)
    rising = SequenceData.from_series(pd.DataFrame({"level": 100 + 0.2 * t + 5 * np.sin(t / 8)}), lookback=20,
                                      val_fraction=0.25, name="rising")
    flat = lambda X: X.reshape(-1, X.shape[-1])  # noqa: E731
    both = flat(np.concatenate([rising.X_train, rising.X_val]))
    for make in (StandardScaler, MinMaxScaler, RobustScaler, MaxAbsScaler,
                 lambda: MinMaxScaler(feature_range=(-1, 1)), lambda: RobustScaler(quantile_range=(10, 90))):
        assert check_scaler_fit(make().fit(flat(rising.X_train)), rising).passed, make
        leaky = check_scaler_fit(make().fit(both), rising)
        assert not leaky.passed and "seen the validation data" in leaky.hint, make
    leaky_mm = MinMaxScaler().fit(both)
    assert np.allclose(leaky_mm.data_min_, flat(rising.X_train).min(0))  # the minimum alone says nothing
    detail = check_scaler_fit(leaky_mm, rising).criteria[-1].detail
    assert "data_max" in detail.split("differs:")[1] and detail.startswith("fitted data_min")


def test_gradient_reach_counts_back_from_the_end():
    assert gradient_reach([1e-9, 1e-5, 0.01, 0.5, 1.0]) == 3
    assert gradient_reach([1.0, 1.0, 1.0]) == 3
    assert gradient_reach([1.0, 1e-4, 1.0]) == 1  # stops at the first step below, walking back
    assert gradient_reach([0.2, 1.0], fraction=0.5) == 1
    for bad in ([], [1.0, math.nan], [1.0, 0.0]):
        with pytest.raises(ValueError, match="grad_through_time"):
            gradient_reach(bad)


def test_check_gradient_reach(adding20):
    trainer = train(adding20, units=8, cell="simple_rnn", learning_rate=3e-3, epochs=3)
    truth = gradient_reach(trainer.history.latest.grad_through_time)
    assert check_gradient_reach(truth, trainer.history).passed
    assert check_gradient_reach(truth + 1, trainer).passed  # within one step
    wrong = check_gradient_reach(truth + 5, trainer.history)
    assert not wrong.passed and "too many" in repr(wrong)
    for answer in (None, float(truth), "3"):
        assert not check_gradient_reach(answer, trainer.history).passed


def test_check_own_data_pass_and_the_hints_that_lead_there(energy):
    good = check_own_data(train(energy, units=8, scaler="standard", scale_target=True, learning_rate=1e-2, epochs=8))
    assert good.passed, repr(good)
    # beating the mean is not enough for a series: this run does (9.4e4 vs 2.2e5) but stays
    # 3x behind repeating the last value
    behind = check_own_data(train(energy, units=8, scaler="standard", scale_target=True, learning_rate=3e-3, epochs=8))
    assert _failed(behind) == ["It also beats repeating the last value (persistence)"], repr(behind)
    assert "behind_persistence" in behind.hint
    target_unscaled = check_own_data(train(energy, units=8, scaler="standard", learning_rate=3e-3, epochs=8))
    assert not target_unscaled.passed and "scale_target=True" in target_unscaled.hint
    unscaled = check_own_data(train(energy, units=8, scaler="none", learning_rate=3e-3, epochs=6))
    assert not unscaled.passed and "scaler='standard'" in unscaled.hint


def test_check_own_data_rejects_builtin_data_and_histories(adding20):
    trainer = train(adding20, units=8, learning_rate=3e-3, epochs=5)
    result = check_own_data(trainer)
    assert "The data is your own (not a built-in dataset)" in _failed(result)
    with pytest.raises(ValueError, match="Lab or a Trainer"):
        check_own_data(trainer.history)


def test_checks_reject_what_is_not_a_run():
    for check in (check_clipping, check_learning_rate, check_scaling, check_own_data):
        with pytest.raises(ValueError, match="must be a Lab, a Trainer or a History"):
            check(42)
    with pytest.raises(ValueError, match="must be a Lab, a Trainer or a History"):
        check_gradient_reach(3, "history")


def test_checks_before_any_training_say_train_first():
    from lstm_widgets import History

    for check in (check_clipping, check_learning_rate, check_scaling):
        result = check(History())
        assert not result.passed and "nothing recorded yet" in repr(result)


def test_check_result_displays_itself():
    result = CheckResult("check_demo", [Criterion("A holds", True, "1 < 2"), Criterion("B holds", False, hint="do B")])
    assert not result and not result.passed and result.hint == "do B"
    text = repr(result)
    assert text.splitlines()[0] == "check_demo: NOT YET"
    assert "✓ A holds (1 < 2)" in text and "✗ B holds" in text and "Hint: do B" in text
    html = result._repr_html_()
    assert "NOT YET" in html and "✗" in html and "do B" in html and "<script" not in html
    ok = CheckResult("check_demo", [Criterion("A <b>holds</b>", True)])
    assert ok and repr(ok).startswith("check_demo: PASSED") and "&lt;b&gt;" in ok._repr_html_()
    assert not CheckResult("check_empty")  # no criterion, no pass


def test_sample_csv_is_shipped_and_regenerates_identically(tmp_path):
    path = Path(sample_csv_path())
    df = pd.read_csv(path)
    assert list(df.columns) == ["timestamp", "temperature_c", "occupancy", "load_kw"]
    assert len(df) == 720 and not df.isna().any().any()
    script = ROOT / "lstm_widgets" / "datasets" / "make_energy_csv.py"
    copy = tmp_path / "make_energy_csv.py"
    shutil.copy(script, copy)
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    assert (tmp_path / "energy.csv").read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match="energy.csv"):
        sample_csv_path("nope.csv")


# -- lesson 6: check_stability on a sweep whose outcomes are set -------------------------------------
def _recorded_sweep(data, rates, shares, base=None, statuses=None):
    """A Sweep over ``rates`` whose runs "ended" with best validation loss ``share`` x the
    mean baseline (1.0) each: what check_stability reads, without training."""
    import time

    from lstm_widgets import TrainConfig
    from lstm_widgets.sweep import Sweep
    from support.records import history, record

    sweep = Sweep(data, grid={"learning_rate": rates}, base=base or TrainConfig(optimizer="sgd", momentum=0.9))
    for r, share, status in zip(sweep.runs, shares, statuses or ["finished"] * len(rates)):
        r.status, r.attempts = status, 1
        r.history = history([record(1, loss=share, val_loss=share, baseline=1.0)],
                            status="diverged" if status == "diverged" else "finished")
    sweep._ended = time.time()
    return sweep


RATES = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def test_check_stability_passes_on_the_range_the_runs_show(multiscale):
    from lstm_widgets.lessons import check_stability

    sweep = _recorded_sweep(multiscale, RATES, [0.9, 0.45, 0.2, 0.3, 5.0],
                            statuses=["finished"] * 4 + ["diverged"])
    assert check_stability(sweep, (1e-3, 1e-1)).passed
    assert check_stability(sweep, [0.001, 0.1]).passed


@pytest.mark.parametrize("answer, words", [
    (None, ["(lowest, highest)"]),
    ((1e-4, 1e-1), ["lowest 0.0001 is not the lowest"]),
    ((1e-3, 1.0), ["highest 1 is not the highest"]),  # the diverged rate does not count
    ("1e-3 to 1e-1", ["(lowest, highest)"]),
])
def test_check_stability_refuses_a_wrong_answer(multiscale, answer, words):
    from lstm_widgets.lessons import check_stability

    sweep = _recorded_sweep(multiscale, RATES, [0.9, 0.45, 0.2, 0.3, 5.0], statuses=["finished"] * 4 + ["diverged"])
    got = check_stability(sweep, answer)
    assert not got.passed and "NOT YET" in repr(got)
    text = "\n".join(c.line() for c in got.criteria)
    for w in words:
        assert w in text


def test_check_stability_refuses_the_wrong_sweep(multiscale):
    from lstm_widgets import TrainConfig
    from lstm_widgets.lessons import check_stability

    plain = _recorded_sweep(multiscale, RATES, [0.9, 0.45, 0.2, 0.3, 0.4], base=TrainConfig(optimizer="sgd"))
    got = check_stability(plain, (1e-3, 1.0))
    assert not got.passed and "momentum 0" in got.criteria[2].detail
    narrow = _recorded_sweep(multiscale, [1e-3, 3e-3, 1e-2], [0.4, 0.3, 0.2])
    assert "3 value(s), 1.0 decades" in check_stability(narrow, (1e-3, 1e-2)).criteria[3].detail
    nothing = _recorded_sweep(multiscale, RATES, [0.9] * 5)
    assert check_stability(nothing, None).passed and not check_stability(nothing, (1e-4, 1.0)).passed
    assert not check_stability("sweep", (1e-3, 1e-1)).passed


# -- predict, then run; lesson 1's control for backpropagation through time ---------------------------
def test_a_prediction_records_an_answer_and_compares_it_with_the_outcome():
    from lstm_widgets.lessons import predict

    guess = predict("What will the run do?", ["diverge", "train"])
    assert guess.answer is None and "no answer yet" in repr(guess)
    none = guess.compare("train", "its loss fell from 0.47 to 0.10")
    assert none.right is None and "You made no prediction" in none.text() and "**train**" in none.text()
    guess.widget().value = "diverge"  # a click on a button
    assert guess.answer == "diverge"
    wrong = guess.compare("train", "its loss fell")
    assert wrong.right is False and "You predicted **diverge**" in wrong._repr_markdown_()
    assert "Not what you predicted" in wrong.text()
    guess.answer = "train"
    assert guess.widget().value == "train" and guess.compare("train").right is True
    with pytest.raises(ValueError, match="answer must be one of"):
        guess.answer = "explode"
    with pytest.raises(ValueError, match="outcome must be one of"):
        guess.compare("explode")
    with pytest.raises(ValueError, match="two or more distinct"):
        predict("?", ["only one"])


def test_one_step_lays_the_time_steps_side_by_side(adding20):
    from lstm_widgets.lessons import growth_through_time, one_step

    flat = one_step(adding20)
    assert flat.X_train.shape == (len(adding20.X_train), 1, adding20.n_timesteps * adding20.n_features)
    assert np.array_equal(flat.X_train[3, 0], adding20.X_train[3].reshape(-1))
    assert np.array_equal(flat.y_val, adding20.y_val) and list(flat.feature_names[:3]) == ["value@t0", "marker@t0", "value@t1"]
    trainer = train(flat, units=4, epochs=1)
    assert math.isnan(growth_through_time(trainer))  # one step: nothing to compare
    with pytest.raises(ValueError, match="must be a SequenceData"):
        one_step(adding20.X_train)


def test_check_gradient_reach_refuses_the_lstm_reach_the_lesson_prints_before_the_exercise():
    """Lesson 4 prints the LSTM's reach (its table of lengths) before asking for the
    SimpleRNN's: copying that number must not pass."""
    data = load_dataset("adding", n_samples=128, seq_len=60)
    lstm = train(data, units=8, learning_rate=3e-3, epochs=2)
    rnn = train(data, units=8, cell="simple_rnn", learning_rate=3e-3, epochs=2)
    lstm_reach = gradient_reach(lstm.history.latest.grad_through_time)
    rnn_reach = gradient_reach(rnn.history.latest.grad_through_time)
    assert abs(lstm_reach - rnn_reach) > 1, (lstm_reach, rnn_reach)
    assert not check_gradient_reach(lstm_reach, rnn.history).passed
    assert check_gradient_reach(rnn_reach, rnn.history).passed


def test_check_learning_rate_refuses_a_rate_far_too_high():
    data = load_dataset("adding", n_samples=256, seq_len=10)
    high = check_learning_rate(train(data, units=8, optimizer="adam", learning_rate=1.0, epochs=8))
    assert not high.passed, repr(high)
