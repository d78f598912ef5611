"""The central claims of each lesson, asserted on the facts the lesson computed from its
own runs (its ``facts`` dict, printed by a cell the notebook test appends).

A lesson words every sentence by what its runs did; these checks say that the runs did
what the lesson is there to teach. A failure means the lesson, as run, no longer shows it.
"""

from __future__ import annotations

import json
import re

FACTS_CELL = (
    "import json as _json\n"
    "print('LW_FACTS', _json.dumps(globals().get('facts', {}), default=float))"
)


def facts_of(text: str) -> dict:
    match = re.search(r"LW_FACTS (\{.*\})", text)
    assert match, "the facts cell printed nothing"
    return json.loads(match.group(1))


def lesson_01(f: dict) -> None:
    # Section 1-2: the LSTM blows up, and not through time: its gradient fades going back,
    # and the one-step control blows up at the same learning rate.
    assert f["lstm_diverged"], f
    assert f["lstm_growth"] < 1 and f["lstm_control_blew_up"], f
    # An explosion through time: the simple RNN's gradient grows going back, it diverges,
    # its one-step control at the same learning rate trains.
    assert f["rnn_growth"] > 10 and f["rnn_gradient_ratio"] > 100, f
    assert f["rnn_diverged"] and not f["rnn_control_diverged"] and f["rnn_control_loss_fell"], f
    # Section 3: global_clipnorm keeps the direction; every step within the stated bound.
    cos = f["mode_cosines"]
    assert cos["global_clipnorm=1.0"] > 0.9999 and min(cos, key=cos.get) != "global_clipnorm=1.0", cos
    assert f["steps_within_bounds"], f
    # Section 4: the threshold matters to SGD (a clipped step is lr x threshold: 10x per
    # decade at the low end, a crawl at 0.001) and barely to Adam.
    assert 9 < f["sgd_step_per_decade_at_low"] < 11, f
    assert f["sgd_low_loss_over_best"] > 2, f
    assert f["sgd_loss_spread"] > 100 * f["adam_loss_spread"] and f["adam_step_spread"] < 3, f
    assert f["adam_all_beat_mean"], f
    assert 0.5 < f["momentum_step_vs_sgd"] < 2, f  # 0.1 x threshold, piled up 10x by momentum 0.9
    assert f["usual_beats_mean"], f




def lesson_02(f: dict) -> None:
    # The stability map: the adaptive optimizers train over the widest range of rates.
    w = f["widths"]
    assert f["widest"] == "the adaptive ones (Adam, RMSprop, Nadam)", f
    assert min(w["Adam"], w["Nadam"]) >= 1 and w["SGD"] < w["Adam"], w
    # Adam moves the recurrent kernel more per step than SGD at the same rate.
    assert f["adam_over_sgd_recurrent_step"] > 1, f
    # Momentum lengthens the steps, by less than the 10x of gradients that all agree.
    gains = list(f["momentum_gain"].values())
    assert 1 < max(gains) < 10, gains
    # Too high oscillates or diverges; too low barely moves the weights.
    assert f["rmsprop_high_ups"] >= 1 and f["sgd_high_status"] == "diverged", f
    assert "lr_too_low" in f["low_codes"] and f["low_step_ratio"] < 1e-4, f
    # The range test's suggestion for Adam falls in the range the map found.
    assert f["range_agrees"]["Adam"], f
    # The schedule acted, the Lab marked it, and it beat the same run without it.
    assert f["schedule_cuts"] >= 1 and f["schedule_markers"] >= 1, f
    assert f["schedule_best"] < f["unscheduled_best"], f



def lesson_03(f: dict) -> None:
    # Unscaled, Adam's LSTM weights freeze: the gradient is below Adam's epsilon.
    assert f["unscaled_lstm_step"] < 1e-8 and "unscaled_inputs" in f["unscaled_codes"], f
    assert f["raw_kernel_grad"] < f["adam_eps"] < f["std_kernel_grad"], f
    # Every scaler the lesson teaches beats the unscaled run by far.
    assert all(v < 0.1 * f["unscaled_val"] for v in f["scaled_val"].values()), f
    # Leakage: a train-only fit leaves the validation period out of range; a leaky fit pulls it in.
    assert f["val_mean_train_only"] > 1 and f["val_mean_leaky"] < f["val_mean_train_only"], f


def lesson_05(f: dict) -> None:
    # The raw target stalls Adam: the output bias moved about as far as one learning rate
    # per step allows, hundreds of times short of the target's mean.
    assert "unscaled_target" in f["first_try_codes"], f
    assert f["bias_after"] <= 1.05 * f["bias_reach"] and f["target_mean"] > 100 * f["bias_reach"], f
    # The solution's model beats both naive forecasts, in kW.
    assert f["rmse_lstm"] < f["rmse_last_hour"] < f["rmse_mean"], f


def lesson_04(f: dict) -> None:
    # The early steps' share of the gradient falls as sequences grow; over 80 steps it no
    # longer reaches all the way back; the LSTM keeps far more of it than a SimpleRNN.
    h = f["head_by_length"]
    assert h["20"] > h["40"] > h["80"], h
    assert f["reach_by_length"]["80"] < 80, f
    assert f["lstm_over_rnn"] > 100, f
    # Keras's forget-gate bias of 1: without it the early steps start with many orders of
    # magnitude less of the gradient (1e9-1e11 at seeds 0-3 on this machine), and still
    # get less after training (43x-1e6x).
    assert f["forget_start_factor"] > 1e3 and f["forget_end_factor"] > 1, f


def lesson_06(f: dict) -> None:
    # The map: the adaptive optimizers train at more rates than SGD.
    t = f["trained_rates"]
    assert "failed" not in f["statuses"], f"a run of the map failed (not diverged): {f['statuses']}"
    assert max(len(t["adam"]), len(t["rmsprop"]), len(t["nadam"])) > len(t["sgd"]), t
    # Clipping rescues SGD at 1.0, which does not train without it.
    assert not f["sgd_free_at_1"] <= 0.5 and f["sgd_rescued_by"], f
    # Adam barely cares about the threshold at the rates where it trains stably.
    spreads = [v for v in f["adam_spread"].values() if v < float("inf")]
    assert spreads and min(spreads) < 1.25, f
    # The best run of the map, trained again in a Lab, starts from the same loss (the seed
    # fixes the weights and the batches). Where it ends is not claimed: a worker's one
    # thread adds sums in another order than the kernel's two, and a run at a high rate
    # can carry that to another end (45% apart once; within 5% in earlier runs).
    assert abs(f["start_near"] - f["start_far"]) <= 1e-4 * f["start_far"], f
    assert f["best_far"] > 0 and f["best_near"] > 0, f


def gallery_diagnose_this_run(f: dict) -> None:
    # Case 1: a healthy recipe's run flagged "learning rate too high"; the finding's own patch
    # does no better in the same epochs, the recipe's other seeds are not flagged, and the
    # range test puts the rate below that of its lowest loss: a false alarm.
    assert "lr_too_high" in f["lr_codes"], f
    assert not f["lr_patch_helped"] and f["lr_patched_best"] > f["lr_original_best"], f
    assert f["lr_seeds_flagged"] == 0 and f["lr_rate_below_lowest"] and f["lr_false_alarm"], f
    # Case 2: "not learning", yet the first checks fit one batch (the weights move, to no use);
    # the same check at a rate where the weights barely move does not fit it; with the target's
    # value a few steps from the end, the same model learns.
    assert "not_learning" in f["nl_codes"] and f["nl_init_ok"] and f["nl_overfits"], f
    assert not f["nl_low_overfits"] and f["nl_low_step"] < 1e-4 < f["nl_fc_step"], f
    assert f["nl_near_learned"] and "not_learning" not in f["nl_near_codes"], f
    # Case 3: vanishing gradients on a forecaster that beats persistence and the mean; the same
    # windows cut to their last few steps do as well, with no warning.
    assert "vanishing_gradients" in f["vg_codes"] and f["vg_vs_persistence"] < 0.95 and f["vg_vs_mean"] < 1, f
    assert not f["vg_far_past_mattered"] and "vanishing_gradients" not in f["vg_recent_codes"], f


CLAIMS = {
    "01_exploding_gradients_and_clipping": lesson_01,
    "02_optimizers_and_learning_rate": lesson_02,
    "03_scaling_inputs": lesson_03,
    "04_vanishing_gradients_through_time": lesson_04,
    "05_your_own_data": lesson_05,
    "06_sweeps": lesson_06,
    "gallery_diagnose_this_run": gallery_diagnose_this_run,
}
