"""The panels, fed from real Histories: one point per epoch, no redraw without change,
bounded bytes, every series drawable."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from support.runs import make_lab

pytestmark = pytest.mark.usefixtures("recorder")
from lstm_widgets import History
from lstm_widgets.history import RunSettings, merge_markers

ROOT = Path(__file__).resolve().parents[1]


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
    # the healthy band's label starts where the epoch axis does (at epoch 0 it was cut off)
    assert p["update"].band_label.x[0] == p["update"].x_range[0] == p["update"].band.x[0] > 0
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


def test_a_kept_run_that_diverged_does_not_flatten_the_run_in_front():
    from lstm_widgets.history import ModelStructure
    from lstm_widgets.ui.panels import KeptRun, LossPanel
    from lstm_widgets.ui.panels.base import KEPT_REACH
    from support.records import history, record

    front = history([record(e, loss=l, val_loss=l) for e, l in enumerate([1.0, 0.5, 0.2, 0.1], 1)])
    boom = [record(e, loss=l, val_loss=l) for e, l in enumerate([1.0, 1e6, 1e18, 1e27], 1)]
    panel = LossPanel()
    panel.set_kept([KeptRun("run 1", boom, ModelStructure())])
    panel.update(front)
    lo, hi = panel.y_scale.min, panel.y_scale.max
    assert lo <= 0.1 and hi <= 1.0 * KEPT_REACH  # the front run's decades, widened at most 1000x
    kept = np.asarray(panel.overlay.y)
    assert np.nanmax(kept) <= hi and np.nanmin(kept) >= lo  # the kept run leaves through the top
    # a kept run within reach keeps its own values
    calm = [record(e, loss=l, val_loss=l) for e, l in enumerate([2.0, 1.5, 1.0, 0.8], 1)]
    panel.set_kept([KeptRun("run 2", calm, ModelStructure())])
    panel.update(front)
    np.testing.assert_allclose(np.asarray(panel.overlay.y)[0][:4], [2.0, 1.5, 1.0, 0.8], rtol=1e-6)


def test_log_axis_labels_never_come_closer_than_their_height():
    """A 1-2-5 column over three decades on a 140 px gate figure overlapped (lessons 0, 4)."""
    import math

    from lstm_widgets.ui.panels.plot import MIN_TICK_GAP_PX, log_ticks

    for px in (46, 80, 110, 136, 200, 260):
        for lo, hi in ((1e-4, 1.0), (1e-2, 1.0), (0.1, 10.0), (0.2, 0.9), (1e-30, 1e30), (3e-6, 4e-3)):
            ticks = log_ticks(lo, hi, px)
            assert ticks and all(lo <= t <= hi * (1 + 1e-9) for t in ticks), (lo, hi, px, ticks)
            per_decade = px / math.log10(hi / lo)
            gaps = [math.log10(b / a) * per_decade for a, b in zip(ticks, ticks[1:])]
            assert all(g >= MIN_TICK_GAP_PX - 1e-6 for g in gaps), (lo, hi, px, ticks)
    assert log_ticks(0.1, 1.0, 200) == pytest.approx([0.1, 0.2, 0.5, 1.0])  # room for 1, 2, 5
    assert log_ticks(1e-4, 1.0, 60) == pytest.approx([1e-4, 1e-2, 1.0])  # a short figure: every 2nd decade


def test_the_threshold_label_stays_inside_the_plot_when_the_line_runs_along_its_top(trained):
    """Above the line, the label of a threshold at the top of the range would be drawn
    into the title's margin and cut off: there it goes below the line."""
    from lstm_widgets.ui.panels import GradientPanel

    def panel_with(threshold):
        h = History()
        h.structure = trained.history.structure
        h.begin_run(1, RunSettings())
        for r in trained.history.run():
            h.append(replace(r, settings=r.settings.replace(clipping="clipnorm", clip_threshold=threshold)))
        panel = GradientPanel()
        panel.update(h)
        return panel

    grads = [v for r in trained.history.run() for v in r.units["grad_pre_mean"].values() if v > 0]
    top = 10.0 ** math.ceil(math.log10(max(grads)))  # a whole decade: the top of the y range
    panel = panel_with(top)
    assert panel.y_scale.max == pytest.approx(top)
    assert panel.threshold_label.visible and panel.threshold_label.y_offset > 0  # below the line
    low = panel_with(2 * panel.y_scale.min)
    assert low.threshold_label.visible and low.threshold_label.y_offset < 0  # above it


def test_the_legend_goes_to_the_corner_its_lines_leave_empty(trained):
    """A loss that falls fast and then flattens near the bottom crosses both bottom
    corners (where the legend used to sit, over the first epochs' lines): the legend
    moves to the empty top right. With a change marker (its label takes the top) it
    stays in a bottom corner."""
    from lstm_widgets.history import ChangeMarker
    from lstm_widgets.ui.panels import LossPanel

    losses = [0.5, 0.35, 0.2, 0.16, 0.15, 0.14, 0.14, 0.13, 0.13, 0.13]
    base = trained.history.run()[0]
    h = History()
    h.structure = trained.history.structure
    h.begin_run(1, RunSettings())
    for i, loss in enumerate(losses):
        h.append(replace(base, epoch=i + 1, loss=loss, val_loss=loss * 0.95))
    panel = LossPanel()
    panel.update(h)
    assert panel.figure.legend_location == "top-right"
    h.add_marker(ChangeMarker(1, 5.0, "learning_rate", 0.01, 0.001, "lr 0.01 → 0.001"))
    panel.update(h)
    assert panel.figure.legend_location in ("bottom-left", "bottom-right")


def test_markers_are_merged_again_only_when_they_change(recorder, monkeypatch):
    """Merging the same change markers on every panel every epoch was a third of a
    1000-epoch update (benchmarks/ui_cost.py): they are merged when they change, and
    redrawn when they or the y range change."""
    from bqplot import LinearScale, LogScale
    from lstm_widgets.history import ChangeMarker
    from lstm_widgets.ui.panels import plot

    merges = []
    monkeypatch.setattr(plot, "merge_markers", lambda ms: merges.append(len(ms)) or merge_markers(ms))
    m = plot.Markers(LinearScale(), LogScale())
    first = [ChangeMarker(1, 2.0, "learning_rate", 0.01, 0.02, ""), ChangeMarker(1, 2.5, "learning_rate", 0.02, 0.03, "")]
    m.draw(first, 1e-3, 1.0)
    assert list(m.labels.text) == ["lr 0.01 → 0.03"]  # a slider's steps merged into one marker
    mark = recorder.mark()
    m.draw(list(first), 1e-3, 1.0)  # the same markers, a new list (as run_markers() gives)
    assert recorder.since(mark) == (0, 0) and merges == [2]
    m.draw(first, 1e-4, 1.0)  # the y range changed: the lines span the new one
    assert recorder.since(mark)[0] > 0 and float(np.ravel(m.lines.y)[0]) == pytest.approx(1e-4)
    assert merges == [2]
    later = first + [ChangeMarker(1, 6.0, "clip_threshold", 1.0, 0.5, "")]
    m.draw(later, 1e-4, 1.0)
    assert merges == [2, 3]
    assert list(m.labels.text) == ["lr 0.01 → 0.03", "clip 1 → 0.5"]
    np.testing.assert_array_equal(m.labels.x, [2.0, 6.0])
    m.draw([], 1e-4, 1.0)
    assert not m.lines.visible and not m.labels.visible


def test_a_marker_label_fits_the_height_of_its_plot(recorder):
    """A merged label hanging from the top of the 130 px gradient plot ran past its
    bottom in JupyterLab: labels are shortened to the plot's height, new values first."""
    from lstm_widgets.history import ChangeMarker
    from lstm_widgets.ui.panels import GradientPanel, LossPanel
    from lstm_widgets.ui.panels.plot import _shorten

    both = [ChangeMarker(1, 12.0, "learning_rate", 0.001, 0.003, ""), ChangeMarker(1, 12.0, "epochs", 12, 8, "")]
    grad, loss = GradientPanel(), LossPanel()
    for panel in (grad, loss):
        panel.markers.draw(both, 1e-3, 1.0)
    assert list(loss.markers.labels.text) == ["lr 0.001 → 0.003; epochs 12 → 8"]  # 200 px: room for all
    assert list(grad.markers.labels.text) == ["lr → 0.003; epochs → 8"]  # 130 px: the new values
    assert _shorten("lr 0.001 → 0.003; epochs 12 → 8", 14) == "lr → 0.003 …"
    assert _shorten("optimizer adam → sgd", 9) == "optimize…"
    assert _shorten("lr 0.001 → 0.003", 16) == "lr 0.001 → 0.003"
