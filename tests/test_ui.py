"""The Lab as a user meets it, without a browser: widgets get a recording comm.

Tiny data (sine, 128 sequences of 10 steps) and a 4-unit LSTM keep each run to a
second or two on two cores.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lstm_widgets import History, load_dataset
from lstm_widgets.diagnosis import Finding
from lstm_widgets.history import RunSettings
from support.comm import record_comms

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def recorder():
    with record_comms() as rec:
        yield rec


@pytest.fixture(scope="module")
def tiny():
    return load_dataset("sine", n_samples=128, seq_len=10)


def make_lab(tiny, **config):
    from lstm_widgets.ui import Lab

    config = {"epochs": 3, "units": 4, "batch_size": 32, **config}
    return Lab(data=tiny, **config)


@pytest.fixture(scope="module")
def trained(tiny):
    lab = make_lab(tiny)
    lab.train(wait=True, timeout=120)
    yield lab
    lab.close()


def wait_until(cond, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def trainer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "lstm_widgets-trainer")


# -- panels follow the History ----------------------------------------------------------------
def test_panels_show_one_point_per_finished_epoch(trained):
    assert trained.state == "finished"
    assert "finished 3 epoch" in trained.status_text
    p = trained.panels
    np.testing.assert_array_equal(p["loss"].lines.x, [[1, 2, 3], [1, 2, 3]])  # one x row per series
    assert p["loss"].lines.y.shape == (2, 3)  # loss and val loss
    layers = trained.history.structure.layers
    assert p["grad"].pre.y.shape == (len(layers), 3)
    assert p["grad"].post.y.shape == (len(layers), 3)
    assert p["update"].lines.y.shape == (len(layers), 3)
    np.testing.assert_array_equal(p["grad"].fraction.x, [1, 2, 3])
    assert list(p["gates"].grad_bars.x) == ["i", "f", "c", "o"]
    assert p["gates"].grad_bars.y.shape == (2, 4)  # kernel W, recurrent U
    assert p["time"].heatmap.visible and p["time"].heatmap.color.shape == (3, 10)
    assert p["time"].line.x.shape[-1] == 10
    assert trained.controls.progress.value == 3
    assert "epoch 3/3" in trained.controls.progress_text.value
    # log scales never receive a value <= 0
    y = p["loss"].lines.y
    assert np.all(np.isnan(y) | (y > 0))
    assert p["loss"].y_scale.min <= np.nanmin(y) <= np.nanmax(y) <= p["loss"].y_scale.max


def test_no_redraw_and_no_bytes_when_the_history_has_not_changed(trained, recorder):
    trained.update()
    mark = recorder.mark()
    for panel in trained.panels.values():
        assert panel.update(trained.history) is False
    assert recorder.since(mark) == (0, 0)


def test_clipping_threshold_line_appears_when_clipping_is_on(trained, tiny):
    grad = trained.panels["grad"]
    assert not grad.threshold.visible  # clipping "none"
    lab = make_lab(tiny, epochs=2, clipping="clipnorm", clip_threshold=0.5)
    try:
        lab.train(wait=True, timeout=120)
        g = lab.panels["grad"]
        assert g.threshold.visible
        np.testing.assert_allclose(g.threshold.y, [0.5, 0.5])
        assert g.threshold_label.visible and "clipnorm 0.5" in g.threshold_label.text[0]
    finally:
        lab.close()
    # clipvalue is labelled as element-wise (panel fed a real History with other settings)
    from lstm_widgets.ui.panels import GradientPanel

    h = History()
    h.structure = trained.history.structure
    h.begin_run(1, RunSettings())
    for r in trained.history.run():
        h.append(replace(r, settings=r.settings.replace(clipping="clipvalue", clip_threshold=0.1)))
    panel = GradientPanel()
    panel.update(h)
    assert panel.threshold.visible and "element-wise" in panel.threshold_label.text[0]


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


# -- cost -------------------------------------------------------------------------------------
def _bench():
    spec = importlib.util.spec_from_file_location("ui_cost", ROOT / "benchmarks" / "ui_cost.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bytes_per_epoch_stay_bounded(trained):
    bench = _bench()
    r100 = bench.measure(trained.history, 100, repeats=5)
    r1000 = bench.measure(trained.history, 1000, repeats=5)
    assert r1000["kB"] <= 1.5 * r100["kB"], (r100, r1000)
    assert r1000["ms"] < 50  # the 5 ms target is the benchmark's; this only catches blow-ups


# -- the quickstart notebook --------------------------------------------------------------------
@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_notebook_runs_headless():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and all(not c.get("outputs") for c in code)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\n"
            "lab.set(epochs=2)\n"
            "lab.train(wait=True)\n"
            "assert len(lab.history) == 2 and lab.state == 'finished', lab.status_text\n"
            "print(sys.executable, lab.status_text)"
        )
    )
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    lab_out = code[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in lab_out), lab_out
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(Path(sys.prefix)) in printed or ".venv" in printed, printed
    assert "finished" in printed


def test_every_drawn_series_ends_on_a_finite_point():
    """bqplot puts each series' hidden label at its last point; NaN there is a browser
    console error on every redraw (seen in the real-browser test of lesson 1)."""
    from lstm_widgets.ui.panels import drawable

    nan = np.nan
    x, y = drawable([1, 2, 3, 4], [[0.5, 0.4, nan, nan], [nan, nan, nan, nan], [1.0, nan, 0.3, 0.2]], floor=1e-3)
    assert np.isfinite(x[:, -1]).all() and np.isfinite(y[:, -1]).all()
    np.testing.assert_allclose(y[0], [0.5, 0.4, 0.4, 0.4], rtol=1e-6)  # piled on the last finite point: nothing new drawn
    np.testing.assert_array_equal(x[0], [1, 2, 2, 2])
    assert np.isnan(y[2, 1])  # gaps inside a series stay gaps
    np.testing.assert_allclose(y[1], [1e-3] * 4, rtol=1e-6)


def test_a_log_slider_snapping_an_exact_value_is_not_taken_as_a_move():
    """The browser snaps a FloatLogSlider to its step (0.003 -> 0.00316) and sends that
    back; the learner's exact value must survive the echo (seen in the real browser)."""
    from lstm_widgets import TrainConfig
    from lstm_widgets.ui.controls import ControlPanel

    panel = ControlPanel(TrainConfig())
    seen = []
    panel.on_change(lambda name, value: seen.append((name, value)))
    panel.lr_text.value = 0.003  # typed
    assert seen == [("learning_rate", 0.003)]
    slider = panel.settings["learning_rate"]
    slider.value = 10 ** -2.5  # the browser's snapped echo
    assert seen == [("learning_rate", 0.003)] and panel.lr_text.value == 0.003
    slider.value = 10 ** -2.0  # a real move by the learner
    assert seen[-1] == ("learning_rate", 0.01) and panel.lr_text.value == 0.01
