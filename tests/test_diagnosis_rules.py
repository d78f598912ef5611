"""Every diagnosis rule alone, at its thresholds' edges, on synthetic EpochRecords (no
training). The real-run tests are in test_diagnosis_runs.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.records import SETTINGS, SGD, history, record, run

from lstm_widgets import SequenceData
from lstm_widgets.diagnosis import CODES, diagnose
from lstm_widgets.diagnosis import thresholds as T
from lstm_widgets.diagnosis.context import Context
from lstm_widgets.diagnosis.rules import RULES

FLAT = [1.0] * 6
# judged on epochs 2-6: two rises of 60% and no new best in the later epochs
BOUNCING = [1.0, 0.5, 0.8, 0.5, 0.8, 0.55]
SLOW = [1.0, 0.99, 0.98, 0.97, 0.96, 0.95]  # 4% over epochs 2-6


def codes(h, data=None) -> list[str]:
    return [f.code for f in diagnose(h, data)]


def fires(code, h, data=None) -> bool:
    return code in codes(h, data)


def test_every_rule_has_a_code_and_a_check_and_the_plain_run_is_healthy():
    assert [r.CODE for r in RULES] == list(CODES[: len(RULES)]) and len(set(CODES)) == len(CODES)
    assert all(callable(r.check) for r in RULES)
    assert codes(run()) == ["healthy"]


def test_nonfinite():
    assert fires("nonfinite", run(losses=[1, 0.9, 0.8, 0.7, 0.6, math.nan],
                                  status=lambda e: "diverged" if e == 6 else "ok", run_status="diverged"))
    assert fires("nonfinite", run(nonfinite=lambda e: 3 if e == 6 else 0))
    assert not fires("nonfinite", run())


def _diverged_at_once(settings, input_rms=(1.0, 1.0), initial_weight_norm=6.0):
    """A run whose first epoch already blew up: no finite weight norm was recorded."""
    h = run(1, losses=[math.nan], status="diverged", grad=math.inf, run_status="diverged", settings=settings,
            input_rms=input_rms, initial_weight_norm=initial_weight_norm)
    for r in h:
        r.units["weight_norm"] = {u: math.nan for u in r.units["weight_norm"]}
    return h


def test_the_restart_after_a_blow_up_bounds_the_sgd_step_by_the_weights_size():
    sgd10 = SGD.replace(learning_rate=10.0)
    f = next(f for f in diagnose(_diverged_at_once(sgd10)) if f.code == "nonfinite")
    # clipnorm 1 on 5 variables: a step moves the weights by at most lr * sqrt(5); at most
    # STEP_SAFE of the initial size 6 allows lr 0.05 * 6 / sqrt(5) = 0.134: rounded down, 0.1
    assert f.patch == {"clipping": "clipnorm", "clip_threshold": 1.0, "learning_rate": 0.1}
    with_momentum = sgd10.replace(momentum=0.9)
    f = next(f for f in diagnose(_diverged_at_once(with_momentum)) if f.code == "nonfinite")
    assert f.patch["learning_rate"] == 0.01  # momentum 0.9 lengthens the steps up to 10x
    # unknown size (an older History): 10x lower, as before
    f = next(f for f in diagnose(_diverged_at_once(sgd10, initial_weight_norm=None)) if f.code == "nonfinite")
    assert f.patch["learning_rate"] == 1.0
    adam = SETTINGS.replace(learning_rate=1.0)  # Adam: 10x lower, clipping only if there was none
    f = next(f for f in diagnose(_diverged_at_once(adam)) if f.code == "nonfinite")
    assert f.patch == {"clipping": "clipnorm", "clip_threshold": 1.0, "learning_rate": 0.1}


def test_a_blow_up_with_unscaled_data_is_restarted_with_the_data_scaled():
    h = _diverged_at_once(SGD.replace(learning_rate=1.0, scaler="none"), input_rms=(1.0, 500.0))
    found = {f.code: f for f in diagnose(h)}
    assert {"nonfinite", "unscaled_inputs"} <= set(found)  # the input scales are known without a finite epoch
    assert found["nonfinite"].patch["scaler"] == "standard"
    assert found["unscaled_inputs"].patch == {} and "blow-up first" in found["unscaled_inputs"].fix


def test_exploding_gradients_alone_hold_back_the_other_fixes():
    h = run(grad=lambda e: 200.0 if e == 6 else 1.0, settings=SGD.replace(learning_rate=0.5, scaler="none"),
            input_rms=(1.0, 500.0))
    found = {f.code: f for f in diagnose(h)}
    assert found["exploding_gradients"].patch["scaler"] == "standard"
    assert found["unscaled_inputs"].patch == {} and "'Exploding gradients'" in found["unscaled_inputs"].fix


def test_exploding_gradients_explain_the_cause_the_probe_supports():
    """Backpropagation through time is the explanation only when the probe saw the
    gradient grow going back in time; an LSTM that blows up at a huge learning rate has a
    gradient through time that fades (lesson 1), and the growth came over the epochs."""
    def explanation(profile, initial=None):
        h = run(grad=lambda e: 200.0 if e == 6 else 1.0, settings=SGD.replace(learning_rate=0.5))
        for r in h.records:
            r.grad_through_time = list(profile)
        h.runs[1].initial_grad_through_time = list(initial or [])
        return next(f for f in diagnose(h) if f.code == "exploding_gradients")

    fades = explanation([1e-4, 1e-2, 1.0])
    assert "fades here" in fades.explanation and "learning rate is the likelier cause" in fades.explanation
    assert "at most 0.0001x" in " ".join(fades.evidence)
    grows = explanation([1e-4, 1e-2, 1.0], initial=[70.0, 5.0, 1.0])  # grew before the first step
    assert "Backpropagation through time multiplies" in grows.explanation and "fades" not in grows.explanation
    unknown = explanation([])
    assert "Two causes look alike" in unknown.explanation


@pytest.mark.parametrize("growth, found", [(T.EXPLODE_GROWTH, True), (0.99 * T.EXPLODE_GROWTH, False)])
def test_exploding_gradients_growth_edge(growth, found):
    """The largest step's norm against where the gradient started (the first epoch)."""
    h = run(grad_max=lambda e: growth if e == 6 else 1.0, grad=1.0)
    assert fires("exploding_gradients", h) is found


def test_a_gradient_that_overflows_is_an_explosion():
    h = run(grad_max=lambda e: math.inf if e == 6 else 2.0, status=lambda e: "diverged" if e == 6 else "ok",
            losses=[1, 0.9, 0.8, 0.7, 0.6, math.nan], run_status="diverged")
    assert {"exploding_gradients", "nonfinite"} <= set(codes(h))


@pytest.mark.parametrize("spike, found", [(T.EXPLODE_SPIKE, True), (0.99 * T.EXPLODE_SPIKE, False)])
def test_exploding_gradients_spike_edge(spike, found):
    h = run(grad_max=lambda e: spike if e in (3, 4) else 2.0, grad=lambda e: 1.0 if e > 1 else 2 * T.EXPLODE_GROWTH)
    assert fires("exploding_gradients", h) is found


def _bounce(rise: float) -> list[float]:
    """Epochs 2-6 zigzag with rises of ``rise`` and no new best later on."""
    low = 0.5
    return [1.0, low, low * (1 + rise), low, low * (1 + rise), low * 1.01]


@pytest.mark.parametrize("losses, found", [
    (_bounce(1.001 * T.LOSS_BOUNCE), True),
    (_bounce(0.95 * T.LOSS_BOUNCE), False),  # a jitter, not a bounce
    ([1.0, 0.5, 0.8, 0.45, 0.7, 0.4], False),  # zigzag, but each low is a new best: still learning
    ([0.9**e for e in range(6)], False),
    ([1.0, 1.0, 1.05, 1.1, 1.15, 1.2], True),  # rising by >= 10% over the window
])
def test_lr_too_high_edges(losses, found):
    h = run(losses=losses, val_loss=lambda e: losses[e - 1])
    assert fires("lr_too_high", h) is found
    if found:
        f = next(f for f in diagnose(h) if f.code == "lr_too_high")
        assert f.patch == {"learning_rate": pytest.approx(SETTINGS.learning_rate / 10)}


def test_a_zigzag_of_the_validation_loss_alone_is_not_a_learning_rate_too_high():
    val = _bounce(2 * T.LOSS_BOUNCE)
    assert fires("lr_too_high", run(losses=val, val_loss=lambda e: val[e - 1]))
    falling = [0.9**e for e in range(6)]  # the training loss keeps making new bests
    assert not fires("lr_too_high", run(losses=falling, val_loss=lambda e: val[e - 1]))


def test_steps_far_too_large_get_a_rate_that_brings_them_under_step_safe():
    h = run(step_ratio=lambda e: 0.6 if e == 4 else 1e-3)  # the largest step 1.5 * 0.6 = 90% of the weights
    f = next(f for f in diagnose(h) if f.code == "lr_too_high")
    # steps scale with the rate: 1e-3 * 0.05 / 0.9 = 5.6e-5, rounded down to 5e-5
    assert f.patch == {"learning_rate": pytest.approx(5e-5)}
    h = run(step_ratio=lambda e: 0.6 if e == 4 else 1e-3, input_rms=(1.0, 500.0), settings=SETTINGS.replace(scaler="none"))
    f = next(f for f in diagnose(h) if f.code == "lr_too_high")
    assert f.patch == {} and "Scale the inputs first" in f.fix


@pytest.mark.parametrize("ratio, losses, found", [
    (0.99 * T.UPDATE_RATIO_LOW, FLAT, True),
    (T.UPDATE_RATIO_LOW, FLAT, False),
    (0.99 * T.UPDATE_RATIO_LOW, [1.0, 1.0, 0.8, 0.6, 0.45, 0.3], False),  # small steps, yet the loss halves
])
def test_lr_too_low_edges(ratio, losses, found):
    h = run(losses=losses, step_ratio=ratio)
    assert fires("lr_too_low", h) is found
    if found:
        f = next(f for f in diagnose(h) if f.code == "lr_too_low")
        assert SETTINGS.learning_rate < f.patch["learning_rate"] <= 10 * 1e-3  # never beyond 10x Adam's usual start


def test_steps_below_the_rule_of_thumb_are_too_low_only_far_from_converged():
    slow = 0.99 * T.UPDATE_RATIO_SLOW
    assert fires("lr_too_low", run(losses=SLOW, step_ratio=slow, val_loss=0.8, baseline=1.0))
    assert not fires("lr_too_low", run(losses=SLOW, step_ratio=slow))  # no baseline: cannot tell
    assert not fires("lr_too_low", run(losses=SLOW, step_ratio=slow, val_loss=0.4, baseline=1.0))
    assert not fires("lr_too_low", run(losses=SLOW, step_ratio=T.UPDATE_RATIO_SLOW, val_loss=0.8, baseline=1.0))


def test_lr_too_low_patches_stay_below_what_diverges_for_sgd():
    slow_sgd = SGD.replace(learning_rate=0.05)
    f = next(f for f in diagnose(run(losses=FLAT, step_ratio=1e-6, settings=slow_sgd)) if f.code == "lr_too_low")
    assert f.patch["learning_rate"] <= 0.1  # ten times SGD's usual 1e-2; lesson 1 shows 1.0 exploding


def test_lr_too_low_is_not_said_of_a_converged_run_or_after_a_decay():
    assert fires("lr_too_low", run(losses=FLAT, step_ratio=1e-6, val_loss=0.6, baseline=1.0))
    converged = run(losses=FLAT, step_ratio=1e-6, val_loss=T.CONVERGED_SHARE * 1.0, baseline=1.0)
    assert not fires("lr_too_low", converged)
    decayed = run(losses=FLAT, step_ratio=1e-6, settings=lambda e: SETTINGS.replace(
        learning_rate=1e-3 if e < 3 else T.LR_DECAYED_SHARE * 1e-3))
    assert not fires("lr_too_low", decayed)


def test_lr_too_low_stays_silent_when_clipping_brakes_every_step():
    clipped = SGD.replace(clipping="clipnorm", clip_threshold=0.01)
    h = run(losses=FLAT, step_ratio=0.5 * T.UPDATE_RATIO_LOW, settings=clipped, clip_fraction=1.0, post=0.05)
    assert fires("clipping_too_tight", h) and not fires("lr_too_low", h)


@pytest.mark.parametrize("rms, found", [
    ((0.05, 0.05 * T.UNSCALED_SPREAD), True),
    ((0.0505, 0.05 * T.UNSCALED_SPREAD), False),
    ((T.UNSCALED_MAGNITUDE, T.UNSCALED_MAGNITUDE), True),
    ((0.999 * T.UNSCALED_MAGNITUDE, 0.999 * T.UNSCALED_MAGNITUDE), False),
])
def test_unscaled_inputs_edges(rms, found):
    assert fires("unscaled_inputs", run(input_rms=rms)) is found


def test_exploding_advice_is_right_for_the_optimizer():
    h_sgd = run(grad=lambda e: 100.0 if e == 6 else 1.0, settings=SGD)
    f = next(f for f in diagnose(h_sgd) if f.code == "exploding_gradients")
    assert f.patch["clipping"] == "clipnorm"
    clipped_adam = SETTINGS.replace(clipping="clipnorm", clip_threshold=5.0)
    f = next(f for f in diagnose(run(grad=lambda e: 100.0 if e == 6 else 1.0, settings=clipped_adam))
             if f.code == "exploding_gradients")
    assert "clip_threshold" not in f.patch and f.patch["learning_rate"] < 1e-3  # a lower threshold would not help Adam


def test_spikes_are_found_with_few_steps_per_epoch():
    """max / mean within one epoch cannot exceed its steps; spikes are judged across epochs."""
    h = run(steps=4, grad_max=lambda e: T.EXPLODE_SPIKE if e in (4, 5) else 2.0)
    assert fires("exploding_gradients", h)


def _data(y_train, y_val=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(len(y_train), 20, 2)).astype("float32")
    Xv = None if y_val is None else rng.normal(size=(len(y_val), 20, 2)).astype("float32")
    return SequenceData(X, np.asarray(y_train, "float32"), Xv, None if y_val is None else np.asarray(y_val, "float32"))


@pytest.mark.parametrize("level, scale_target, found", [
    (T.UNSCALED_TARGET, False, True),
    (0.99 * T.UNSCALED_TARGET, False, False),
    (T.UNSCALED_TARGET, True, False),
    (T.UNSCALED_TARGET, None, False),  # watch(): the target's scaling is not known
])
def test_unscaled_target_edges(level, scale_target, found):
    data = _data(np.full(40, level))
    h = run(settings=SETTINGS.replace(scale_target=scale_target), run_settings=SETTINGS.replace(scale_target=scale_target))
    assert fires("unscaled_target", h, data) is found
    assert not fires("unscaled_target", h)  # without the data nothing can be said


@pytest.mark.parametrize("vs_persistence, converged", [(0.99 * T.BEHIND_PERSISTENCE_SHARE, True),
                                                       (1.01 * T.BEHIND_PERSISTENCE_SHARE, False), (3.0, False)])
def test_a_forecaster_behind_persistence_has_not_converged(vs_persistence, converged):
    # below half the mean baseline; the corpus's miss was at 0.49 of the mean and 3.1x persistence
    best = 0.49
    data = _data(np.full(40, T.UNSCALED_TARGET))
    settings = SETTINGS.replace(scale_target=False)
    h = run(val_loss=best, baseline=1.0, persistence=best / vs_persistence, settings=settings, run_settings=settings)
    assert Context.build(h, data).converged is converged
    assert fires("unscaled_target", h, data) is not converged


@pytest.mark.parametrize("share, epochs, found", [
    (T.NOT_LEARNING_SHARE, T.NOT_LEARNING_EPOCHS, True),
    (0.99 * T.NOT_LEARNING_SHARE, T.NOT_LEARNING_EPOCHS, False),
    (T.NOT_LEARNING_SHARE, T.NOT_LEARNING_EPOCHS - 1, False),  # a hard task may sit at the mean a while
])
def test_not_learning_edges(share, epochs, found):
    h = run(n=epochs, val_loss=lambda e: share * (1.2 if e % 2 else 1.0), baseline=1.0)
    assert fires("not_learning", h) is found
    if found:
        assert "healthy" not in codes(h)
        f = next(f for f in diagnose(h) if f.code == "not_learning")
        assert any("first checks" in line for line in f.evidence)
        assert f.title.startswith("Not learning")


def test_healthy_says_what_it_was_judged_against():
    f = next(f for f in diagnose(run(val_loss=0.1, baseline=1.0, persistence=0.2)) if f.code == "healthy")
    assert "Best validation loss 0.1: 0.1x that of always predicting the mean, 0.5x that of repeating the last value." \
        in f.evidence
    # watch() judges the probe batch's loss against the probe batch's mean: it says so,
    # even when the run has validation losses too (they are not what was compared)
    h = run(val_loss=0.3, baseline=1.0)
    for r in h.records:
        r.baseline_split, r.probe_loss = "probe", 0.2
    f = next(f for f in diagnose(h) if f.code == "healthy")
    assert "Best probe-batch loss 0.2: 0.2x that of always predicting the mean." in f.evidence
    f = next(f for f in diagnose(run()) if f.code == "healthy")  # no baseline recorded: nothing claimed
    assert not any("predicting the mean" in line for line in f.evidence)


def test_worse_than_the_mean_is_said_so():
    f = next(f for f in diagnose(run(val_loss=T.WORSE_THAN_MEAN, baseline=1.0)) if f.code == "not_learning")
    assert f.title == "Worse than always predicting the mean"


@pytest.mark.parametrize("share, found", [(T.BEHIND_PERSISTENCE_SHARE, True), (0.99 * T.BEHIND_PERSISTENCE_SHARE, False)])
def test_behind_persistence_edge(share, found):
    h = run(val_loss=share * 0.2, baseline=1.0, persistence=0.2)
    assert fires("behind_persistence", h) is found
    assert not fires("not_learning", h)


@pytest.mark.parametrize("fraction, kept, losses, found", [
    (T.CLIP_MOST, T.CLIP_SHRINK, SLOW, True),
    (0.99 * T.CLIP_MOST, T.CLIP_SHRINK, SLOW, False),
    (T.CLIP_MOST, 1.01 * T.CLIP_SHRINK, SLOW, False),
    (T.CLIP_MOST, T.CLIP_SHRINK, [0.9**e for e in range(6)], False),  # clipped, but learning well
])
def test_clipping_too_tight_edges(fraction, kept, losses, found):
    clipped = SGD.replace(clipping="global_clipnorm", clip_threshold=0.1)
    h = run(losses=losses, settings=clipped, clip_fraction=fraction, post=kept)
    assert fires("clipping_too_tight", h) is found


def test_a_tight_clip_does_not_brake_an_adaptive_optimizer():
    """Adam's step m/sqrt(v) does not shrink with the gradient: clipping every step is no brake."""
    clipped = SETTINGS.replace(clipping="global_clipnorm", clip_threshold=0.1)
    h = run(losses=SLOW, settings=clipped, clip_fraction=1.0, post=0.01)
    assert not fires("clipping_too_tight", h)


@pytest.mark.parametrize("largest, found", [(0.99 * 100 / T.CLIP_FAR_ABOVE, True), (100 / T.CLIP_FAR_ABOVE, False)])
def test_clipping_no_effect_edge(largest, found):
    loose = SETTINGS.replace(clipping="clipnorm", clip_threshold=100.0)
    h = run(settings=loose, var_grad_max=largest, grad=0.1 * largest)
    assert fires("clipping_no_effect", h) is found
    if found:
        f = next(f for f in diagnose(h) if f.code == "clipping_no_effect")
        assert f.severity == "info" and not f.patch and "would not protect" not in f.explanation


@pytest.mark.parametrize("head, found", [(0.99 * T.VANISH_RATIO, True), (T.VANISH_RATIO, False)])
def test_vanishing_ratio_edge(head, found):
    g = [head] * 2 + [1.0] * 18  # the first 10% of 20 steps against the last
    assert fires("vanishing_gradients", run(grad_through_time=g)) is found


def test_a_short_reach_is_no_problem_for_a_model_that_learned_and_adam_is_never_the_fix():
    g = [1e-9] * 2 + [1.0] * 18
    assert not fires("vanishing_gradients", run(grad_through_time=g, val_loss=0.3, baseline=1.0))
    sgd = run(grad_through_time=g, settings=SGD)
    f = next(f for f in diagnose(sgd) if f.code == "vanishing_gradients")
    assert "optimizer" not in f.patch and "Adam" not in f.fix.split("rescales")[0]


@pytest.mark.parametrize("reach, found", [(T.VANISH_FEW_STEPS, True), (T.VANISH_FEW_STEPS + 1, False)])
def test_vanishing_reach_edge(reach, found):
    g = [1e-4] * (20 - reach) + [1.0] * reach
    assert fires("vanishing_gradients", run(grad_through_time=g)) is found


@pytest.mark.parametrize("slow, found", [(T.STALL_RELATIVE * 1e-3, True), (1.01 * T.STALL_RELATIVE * 1e-3, False)])
def test_stalled_layer_edge(slow, found):
    h = run(layer_step_ratio={"lstm_1": slow, "output": 1e-3})
    assert fires("stalled_weights", h) is found


def test_trend_rules_wait_for_enough_epochs():
    short = run(n=T.MIN_TREND_EPOCHS - 1, losses=FLAT, step_ratio=1e-6)
    assert not fires("lr_too_low", short) and not fires("stalled_weights", short)
    enough = run(n=T.MIN_TREND_EPOCHS, losses=FLAT, step_ratio=1e-6)
    assert fires("lr_too_low", enough)


def test_a_change_after_the_last_epoch_is_waited_for_and_the_window_starts_after_it():
    h = run(losses=FLAT, step_ratio=1e-6)
    h.add_marker(__import__("lstm_widgets").ChangeMarker(1, 6.0, "learning_rate", 1e-3, 1e-2, "lr"))
    assert codes(h) == ["waiting"]
    ctx = Context.build(run())
    assert [r.epoch for r in ctx.window] == [2, 3, 4, 5, 6]
    h2 = history([record(e, loss=1.0, step_ratio=1e-6) for e in range(1, 9)], markers=[(4.5, "learning_rate", 1e-3, 1e-2, "lr")])
    assert [r.epoch for r in Context.build(h2).window] == [6, 7, 8]


@pytest.mark.parametrize("scaler, words", [
    ("none", "training inputs, unscaled (scaler 'none')"),
    ("minmax", "training inputs after the minmax scaler"),
    (None, "inputs the model sees (the probe batch)"),  # watch(): the user's own inputs
])
def test_unscaled_inputs_names_what_it_measured(scaler, words):
    settings = SETTINGS.replace(scaler=scaler)
    h = run(input_rms=(1.0, 1.0 * T.UNSCALED_SPREAD), settings=settings, run_settings=settings)
    f = next(f for f in diagnose(h) if f.code == "unscaled_inputs")
    assert words in f.evidence[0] and "scaled training inputs" not in f.evidence[0]
