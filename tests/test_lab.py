"""The Lab as a user meets it, without a browser: widgets get a recording comm.

Tiny data (sine, 128 sequences of 10 steps) and a 4-unit LSTM keep each run to a
second or two on two cores."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from support.runs import make_lab, wait_until

pytestmark = pytest.mark.usefixtures("recorder")
from lstm_widgets.diagnosis import Finding


def trainer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "lstm_widgets-trainer")


# -- live changes, second click, stop ---------------------------------------------------------
def test_live_lr_change_marks_panels_second_train_is_refused_and_stop_stops(tiny):
    lab = make_lab(tiny, epochs=400)
    try:
        lab.controls.train_button.click()
        wait_until(lambda: len(lab.history) >= 2, what="two epochs")
        assert lab.state == "training"
        # the slider moves: the exact box follows and the trainer gets it
        lab.controls.settings["learning_rate"].value = 1e-2
        assert lab.controls.lr_text.value == pytest.approx(1e-2)
        wait_until(lambda: lab.history.run_markers(), what="a change marker")
        wait_until(lambda: lab.config.learning_rate == pytest.approx(1e-2), what="lr in force")
        marker = lab.history.run_markers()[0]
        assert marker.label.startswith("lr ") and "0.01" in marker.label
        n = len(lab.history)
        wait_until(lambda: len(lab.history) > n + 1, what="an epoch after the change")
        for name in ("loss", "grad", "update"):
            m = lab.panels[name].markers
            assert m.lines.visible
            assert any(np.allclose(row, marker.position, atol=1e-3) for row in np.asarray(m.lines.x))
            assert marker.label in list(m.labels.text)
        # a second Train while training starts no second thread, and says so
        assert trainer_threads() == 1
        lab.controls.train_button.click()
        assert trainer_threads() == 1
        assert "already training" in lab.status_text
        lab.controls.stop_button.click()
        assert lab.wait(timeout=60)
        assert lab.state == "stopped"
        assert lab.status_text.startswith("stopped")
        assert "lw-state-stopped" in lab.controls.status.value
        np.testing.assert_array_equal(lab.panels["loss"].lines.x[:, -1], lab.history.latest.epoch)  # every series
    finally:
        lab.close()


def test_resume_clears_the_paused_line_and_a_stopped_run_shows_no_time_left(tiny):
    lab = make_lab(tiny, epochs=400)
    try:
        lab.controls.train_button.click()
        wait_until(lambda: len(lab.history) >= 2, what="two epochs")
        assert "s left" in lab.controls.progress_text.value
        lab.controls.pause_button.click()
        wait_until(lambda: lab.state == "paused", what="paused")
        assert "Resume to continue" in lab.status_text
        lab.controls.pause_button.click()  # the same button reads Resume now
        wait_until(lambda: lab.state == "training", what="training again")
        assert "Resume to continue" not in lab.status_text and "paused" not in lab.status_text
        lab.controls.settings["learning_rate"].value = 2e-3  # what was applied stays said while training
        wait_until(lambda: "applied lr" in lab.status_text, what="the change said")
        lab.controls.stop_button.click()
        assert lab.wait(timeout=60) and lab.state == "stopped"
        assert "s left" not in lab.controls.progress_text.value and "s/epoch" in lab.controls.progress_text.value
    finally:
        lab.close()


def test_code_view_follows_the_optimizer_dropdown(trained):
    before = trained.code_view.code
    assert "keras.optimizers.Adam(" in before
    momentum = trained.controls.settings["momentum"]
    assert momentum.layout.display == "none"  # shown for sgd only
    trained.controls.settings["optimizer"].value = "sgd"
    try:
        assert trained.config.optimizer == "sgd"
        assert "keras.optimizers.SGD(" in trained.code_view.code
        assert "keras.optimizers.SGD(" in trained.code_view.widget.value
        assert momentum.layout.display is None
        trained.controls.settings["momentum"].value = 0.9
        assert "momentum=0.9" in trained.code_view.code
    finally:
        trained.set(optimizer="adam", momentum=0.0)
    assert "keras.optimizers.Adam(" in trained.code_view.code


def test_bad_settings_raise_and_leave_the_widgets_alone(trained):
    slider = trained.controls.settings["learning_rate"]
    old = (slider.value, trained.controls.lr_text.value, trained.config.learning_rate)
    with pytest.raises(ValueError, match="learning_rate"):
        trained.set(learning_rate=-1)
    assert (slider.value, trained.controls.lr_text.value, trained.config.learning_rate) == old
    with pytest.raises(ValueError, match="learning_rate"):  # names the settings there are
        trained.set(learnin_rate=1e-3)
    # typed into the exact box: refused, put back, and the status line says why
    trained.controls.lr_text.value = -3.0
    assert trained.controls.lr_text.value == old[1]
    assert "learning_rate must be" in trained.status_text
    assert trained.config.learning_rate == old[2]


def test_programmatic_set_moves_the_widgets_too(trained):
    trained.set(learning_rate=0.02, clipping="global_clipnorm", clip_threshold=3.0)
    try:
        c = trained.controls
        assert c.lr_text.value == 0.02 and c.settings["learning_rate"].value == pytest.approx(0.02)
        assert c.settings["clipping"].value == "global_clipnorm"
        assert not c.settings["clip_threshold"].disabled
        assert trained.config.clip_threshold == 3.0
        assert "global_clipnorm=3.0" in trained.code_view.code
    finally:
        trained.set(learning_rate=1e-3, clipping="none", clip_threshold=1.0)


# -- compare ----------------------------------------------------------------------------------
def test_keep_run_overlays_and_clear_removes(trained):
    assert trained.keep_run() is not None
    try:
        for name in ("loss", "grad", "update"):
            ov = trained.panels[name].overlay
            assert ov.visible
            assert np.asarray(ov.y).ndim == 2 and np.isfinite(np.asarray(ov.y, dtype=float)).any()
        assert "kept run 1" in trained.status_text
    finally:
        trained.clear_kept()
    for name in ("loss", "grad", "update"):
        assert not trained.panels[name].overlay.visible


# -- model settings wait for Restart ---------------------------------------------------------------
def test_model_settings_wait_for_restart(tiny):
    lab = make_lab(tiny, epochs=2)
    try:
        lab.set(units=3)  # nothing trained yet: applies at once
        assert lab.config.units == 3
        lab.train(wait=True, timeout=120)
        lab.controls.settings["units"].value = 5
        assert lab.pending_restart == {"units": 5}
        assert lab.config.units == 3
        assert "Restart" in lab.controls.restart_note.value
        assert "units 3 → 5" in lab.code_view.widget.value
        lab.restart()
        assert lab.wait(timeout=120)
        assert lab.config.units == 5 and lab.pending_restart == {}
        assert lab.history.run_ids == [1, 2]
        np.testing.assert_array_equal(lab.panels["loss"].lines.x, [[1, 2], [1, 2]])  # the new run only
    finally:
        lab.close()


# -- diagnosis --------------------------------------------------------------------------------
def test_diagnosis_panel_shows_the_labs_findings_and_survives_a_failing_diagnosis(trained):
    panel = trained.diagnosis_panel
    real = trained._diagnosis

    def broken(history):
        raise RuntimeError("a bug in a rule")

    findings = [
        Finding("lr_low", "info", "Learning rate on the low side", "Slow.", ["ratio 1e-6"], patch={"learning_rate": 2e-3}),
        Finding("exploding_gradients", "problem", "Exploding gradients", "Big.", ["norm 1e4 at epoch 3"],
                patch={"clipping": "clipnorm", "clip_threshold": 1.0}),
        Finding("too_small", "warning", "Model too small", "Tiny.", [], patch={"units": 5}),
    ]
    try:
        trained._diagnosis = broken
        panel.refresh()
        assert "diagnosis failed: RuntimeError: a bug in a rule" in panel.message and panel.findings == []

        trained._diagnosis = lambda history: list(findings)
        panel.refresh()
        assert [f.severity for f in panel.findings] == ["problem", "warning", "info"]
        text, button, _ = panel._rows[0]
        assert "Exploding gradients" in text.value and "norm 1e4 at epoch 3" in text.value
        button.click()  # Apply
        assert trained.config.clipping == "clipnorm"
        assert trained.controls.settings["clipping"].value == "clipnorm"
        panel._rows[1][1].click()  # an architecture patch waits for Restart
        assert trained.pending_restart == {"units": 5}
        assert "Restart" in trained.status_text
    finally:
        trained._diagnosis = real
        trained.set(clipping="none", units=trained.config.units)
        assert trained.pending_restart == {}
        trained._refresh_code()
    # the Lab's findings are the diagnosis of its history, computed once per version
    assert trained.findings == real(trained.history)
    assert trained.findings is not trained.findings and real._key == (id(trained.history), trained.history.version)


# -- construction -----------------------------------------------------------------------------
def test_unknown_dataset_and_options_name_the_choices():
    from lstm_widgets.ui import Lab

    with pytest.raises(ValueError, match="'adding'.*'sine'.*'multiscale'"):
        Lab("mnist")
    with pytest.raises(ValueError, match="seq_len"):
        Lab("adding", dataset_options={"length": 10})
    with pytest.raises(ValueError, match="learning_rate"):
        Lab("adding", dataset_options={"n_samples": 16}, learning_rate=0)


def test_lab_is_lazy_and_engine_import_loads_no_widgets():
    code = (
        "import sys, lstm_widgets\n"
        "assert 'ipywidgets' not in sys.modules and 'bqplot' not in sys.modules\n"
        "assert 'Lab' in lstm_widgets.__all__\n"
        "from lstm_widgets.ui import Lab\n"
        "assert lstm_widgets.Lab is Lab\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- what a Train does, what the panels show after a model change ------------------------------
def test_train_after_stop_finishes_the_budget_and_train_on_a_finished_run_says_it_continues(tiny):
    lab = make_lab(tiny, epochs=400)
    try:
        lab.controls.train_button.click()
        wait_until(lambda: len(lab.history) >= 2, what="two epochs")
        lab.controls.stop_button.click()
        assert lab.wait(timeout=60) and lab.state == "stopped"
        stopped_at = lab.trainer.epoch
        lab.set(epochs=stopped_at + 2)  # the budget now ends two epochs after the stop
        lab.train(wait=True, timeout=120)
        assert lab.status_text.startswith("finished")
        assert lab.trainer.epoch == stopped_at + 2, "a Train after Stop runs the rest of the budget, not a new one"
        assert lab.trainer.run_id == 1
        # a finished run: Train goes on from its weights, and the line says so
        lab.set(epochs=2)
        kind, start, end = lab.trainer.next_train()
        assert (kind, start, end) == ("continue", stopped_at + 2, stopped_at + 4)
        lab.train()
        assert f"continuing run 1 from epoch {stopped_at + 2}: 2 more" in lab.message
        assert lab.wait(timeout=120) and lab.trainer.epoch == stopped_at + 4
        lab.restart(start=False)
        assert lab.trainer.next_train() == ("new", 0, 2)
    finally:
        lab.close()


def test_sliders_report_on_release_not_at_every_step_of_a_drag(trained):
    sliders = [w for w in trained.controls.settings.values() if "Slider" in type(w).__name__]
    assert sliders and all(w.continuous_update is False for w in sliders)


def test_a_simple_rnn_after_an_lstm_leaves_no_gate_bars_and_epochs_start_at_1(tiny):
    lab = make_lab(tiny, epochs=2)
    try:
        lab.train(wait=True, timeout=120)
        lab.update()
        gates = lab.panels["gates"]
        assert gates.grad_bars.visible and len(gates.grad_bars.x) == 4  # i f c o
        assert lab.panels["loss"].x_scale.min == 1.0  # epochs are numbered from 1
        lab.set(cell="simple_rnn")
        lab.restart(start=False)
        lab.train(wait=True, timeout=120)
        lab.update()
        assert not gates.grad_bars.visible and not gates.ratio_bars.visible
        assert "simple_rnn layer has no gates" in gates.figure.title
        # a kept LSTM run is drawn in the gradient-through-time panel beside the SimpleRNN's
        lab.set(cell="lstm")
        lab.restart(start=False)
        lab.train(wait=True, timeout=120)
        assert lab.keep_run() is not None
        lab.set(cell="simple_rnn")
        lab.restart(start=False)
        lab.train(wait=True, timeout=120)
        lab.update()
        time_panel = lab.panels["time"]
        assert time_panel.kept_lines.visible and "lstm" in time_panel.kept_lines.labels[0]
        assert np.isfinite(np.asarray(time_panel.kept_lines.y, dtype=float)).all()
        assert time_panel.line.labels == ["this run"] and time_panel.line.display_legend
        lab.clear_kept()
        assert not time_panel.kept_lines.visible
    finally:
        lab.close()


def test_unscaled_inputs_that_stop_every_gradient_are_said_not_left_blank():
    """multiscale with scaler none: a feature in the thousands saturates the gates and
    every gate's gradient is exactly 0, which a log axis cannot draw: the panels were blank
    and the heat map solid black with no word of why."""
    from lstm_widgets.ui import Lab

    lab = Lab("multiscale", dataset_options=dict(n_samples=128, seq_len=10), epochs=2, units=4, scaler="none")
    try:
        lab.train(wait=True, timeout=120)
        lab.update()
        rec = lab.history.latest
        grads = [x["grad_pre_mean"] for gates in rec.gates.values() for x in gates.values()]
        assert grads and all(g == 0 for g in grads), "the premise: no gradient reaches the gates"
        gates = lab.panels["gates"]
        assert not gates.grad_bars.visible and "exactly 0 in every gate" in gates.figure.title
        zeros = sum(1 for g in rec.grad_through_time if g == 0)
        time_panel = lab.panels["time"]
        assert zeros and f"exactly 0 at {zeros} of {len(rec.grad_through_time)} steps" in time_panel.figure.title
        assert np.isfinite(np.asarray(time_panel.heatmap.color, dtype=float)).all()  # no black NaN cells
    finally:
        lab.close()


def test_a_snapshot_keeps_the_run_it_was_taken_of(tiny):
    """After Run All a lesson's first Lab showed the exercise's final state under text about
    an earlier run; a snapshot is plain HTML of the run at the time it was taken."""
    lab = make_lab(tiny, epochs=2, optimizer="sgd", learning_rate=0.05)
    try:
        with pytest.raises(ValueError, match="train first"):
            lab.snapshot()
        lab.train(wait=True, timeout=120)
        shot = lab.snapshot("the SGD run", panels=("loss", "grad", "update", "gates", "time")).data
        assert "frozen picture of run 1, 2 epoch(s): sgd lr 0.05" in shot and shot.count("<svg") >= 5
        assert "the SGD run" in shot and "finished" in shot
        lab.set(optimizer="adam", learning_rate=1e-3)
        lab.restart(start=False)
        lab.train(wait=True, timeout=120)
        again = lab.snapshot().data
        assert "run 2" in again and "adam lr 0.001" in again and "sgd" not in again.split("</span>")[0]
        with pytest.raises(ValueError, match="panels has unknown name"):
            lab.snapshot(panels=("loss", "nope"))
    finally:
        lab.close()


def test_settings_changed_between_runs_leave_no_marker_or_status_on_the_next_run(tiny):
    """Lesson 2 sets each optimizer, restarts and trains in a loop: the changes belong to
    the run before (marked at its end), not to the run they start, whose panels and status
    line must not show "momentum 0 -> 0.9" on an Adam run."""
    lab = make_lab(tiny, epochs=2, optimizer="sgd", learning_rate=1e-2)
    try:
        for s in (dict(optimizer="sgd", momentum=0.9), dict(optimizer="adam", momentum=0.0)):
            lab.set(**s, learning_rate=1e-2)
            lab.restart(start=False)
            lab.train(wait=True, timeout=120)
        lab.update()
        assert lab.history.run_markers() == []
        assert not lab.panels["loss"].markers.lines.visible
        assert "momentum" not in lab.status_text and lab.status_text.startswith("finished")
        assert [m.run_id for m in lab.history.markers if "momentum" in m.label] == [1]  # at run 1's end
    finally:
        lab.close()
