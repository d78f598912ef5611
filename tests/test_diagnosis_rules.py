"""Every diagnosis rule alone, at its thresholds' edges, on synthetic EpochRecords (no
training). The real-run tests are in test_diagnosis_runs.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.records import SETTINGS, history, record, run

from lstm_widgets import SequenceData
from lstm_widgets.diagnosis import CODES, diagnose
from lstm_widgets.diagnosis import thresholds as T
from lstm_widgets.diagnosis.context import Context
from lstm_widgets.diagnosis.rules import RULES

FLAT = [1.0] * 6
OSCILLATING = [1.0, 0.8, 0.9, 0.7, 0.8, 0.6]  # judged on epochs 2-6: two steps up of > 2%
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


@pytest.mark.parametrize("growth, found", [(T.EXPLODE_GROWTH, True), (0.99 * T.EXPLODE_GROWTH, False)])
def test_exploding_gradients_growth_edge(growth, found):
    h = run(grad=lambda e: growth if e == 6 else 1.0)
    assert fires("exploding_gradients", h) is found


@pytest.mark.parametrize("spike, found", [(T.EXPLODE_SPIKE, True), (0.99 * T.EXPLODE_SPIKE, False)])
def test_exploding_gradients_spike_edge(spike, found):
    h = run(grad_max=lambda e: spike if e in (3, 4) else 2.0)
    assert fires("exploding_gradients", h) is found


@pytest.mark.parametrize("ratio, losses, found", [
    (T.UPDATE_RATIO_HIGH, OSCILLATING, True),
    (0.99 * T.UPDATE_RATIO_HIGH, OSCILLATING, False),
    (T.UPDATE_RATIO_HIGH, [0.9**e for e in range(6)], False),  # large steps, but the loss falls
    (T.UPDATE_RATIO_HIGH, [1.0, 1.0, 1.05, 1.1, 1.15, 1.2], True),  # rising by >= 10%
])
def test_lr_too_high_edges(ratio, losses, found):
    assert fires("lr_too_high", run(losses=losses, step_ratio=ratio)) is found


@pytest.mark.parametrize("ratio, losses, found", [
    (0.99 * T.UPDATE_RATIO_LOW, FLAT, True),
    (T.UPDATE_RATIO_LOW, FLAT, False),
    (0.99 * T.UPDATE_RATIO_LOW, [1.0, 1.0, 1.0, 0.99, 0.985, 0.98], False),  # 2% progress is not flat
])
def test_lr_too_low_edges(ratio, losses, found):
    h = run(losses=losses, step_ratio=ratio)
    assert fires("lr_too_low", h) is found
    if found:
        f = next(f for f in diagnose(h) if f.code == "lr_too_low")
        assert SETTINGS.learning_rate < f.patch["learning_rate"] <= T.LR_MAX_SUGGESTED


def test_lr_too_low_stays_silent_when_clipping_brakes_every_step():
    clipped = SETTINGS.replace(clipping="clipnorm", clip_threshold=0.01)
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


@pytest.mark.parametrize("factor, found", [(T.WORSE_THAN_MEAN, True), (0.99 * T.WORSE_THAN_MEAN, False)])
def test_worse_than_mean_edge(factor, found):
    rng = np.random.default_rng(1)
    data = _data(rng.normal(size=64), rng.normal(size=16))
    from lstm_widgets.diagnosis.stats import mean_baseline

    base = mean_baseline(data, "val")
    h = run(val_loss=lambda e: factor * base * (1.2 if e % 2 else 1.0))
    assert fires("worse_than_mean", h, data) is found


@pytest.mark.parametrize("fraction, kept, losses, found", [
    (T.CLIP_MOST, T.CLIP_SHRINK, SLOW, True),
    (0.99 * T.CLIP_MOST, T.CLIP_SHRINK, SLOW, False),
    (T.CLIP_MOST, 1.01 * T.CLIP_SHRINK, SLOW, False),
    (T.CLIP_MOST, T.CLIP_SHRINK, [0.9**e for e in range(6)], False),  # clipped, but learning well
])
def test_clipping_too_tight_edges(fraction, kept, losses, found):
    clipped = SETTINGS.replace(clipping="global_clipnorm", clip_threshold=0.1)
    h = run(losses=losses, settings=clipped, clip_fraction=fraction, post=kept)
    assert fires("clipping_too_tight", h) is found


@pytest.mark.parametrize("largest, found", [(0.99 * 100 / T.CLIP_FAR_ABOVE, True), (100 / T.CLIP_FAR_ABOVE, False)])
def test_clipping_no_effect_edge(largest, found):
    loose = SETTINGS.replace(clipping="clipnorm", clip_threshold=100.0)
    h = run(settings=loose, var_grad_max=largest, grad=0.1 * largest)
    assert fires("clipping_no_effect", h) is found


@pytest.mark.parametrize("head, found", [(0.99 * T.VANISH_RATIO, True), (T.VANISH_RATIO, False)])
def test_vanishing_ratio_edge(head, found):
    g = [head] * 2 + [1.0] * 18  # the first 10% of 20 steps against the last
    assert fires("vanishing_gradients", run(grad_through_time=g)) is found


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
