"""Long histories keep their spikes: one downsampler for the live panels and the report."""

from __future__ import annotations

import numpy as np
import pytest
from support.records import history, record

from lstm_widgets.downsample import MAX_POINTS, keep_indices

pytestmark = pytest.mark.usefixtures("recorder")

SPIKE_EPOCH = 537


@pytest.fixture(scope="module")
def long_run():
    """1,000 epochs of a slowly falling loss with one epoch 50x above the rest."""
    recs = []
    for e in range(1, 1001):
        loss = 1.0 / (1 + 0.01 * e) * (1 + 0.01 * np.sin(e))
        recs.append(record(e, loss=loss * (50.0 if e == SPIKE_EPOCH else 1.0), val_loss=loss))
    return history(recs)


def test_keep_indices_keeps_first_last_and_every_series_spike():
    y = np.ones(1000)
    y[SPIKE_EPOCH - 1] = 50.0
    dip = np.ones(1000)
    dip[10] = 1e-3
    idx = keep_indices([y, dip])
    assert {0, 999, SPIKE_EPOCH - 1, 10} <= set(idx.tolist())
    assert len(idx) <= 2 * MAX_POINTS and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(keep_indices(np.arange(50.0)), np.arange(50))


def test_a_one_epoch_spike_reaches_the_live_panel(long_run):
    from lstm_widgets.ui.panels import LossPanel

    panel = LossPanel()
    panel.update(long_run)
    x = np.asarray(panel.lines.x, dtype=float)
    y = np.asarray(panel.lines.y, dtype=float)
    x = x[0] if x.ndim == 2 else x
    assert SPIKE_EPOCH in x.tolist() and x[0] == 1 and x[-1] == 1000
    assert len(x) <= 2 * MAX_POINTS  # bounded
    assert np.nanmax(y[0]) == pytest.approx(long_run.records[SPIKE_EPOCH - 1].loss, rel=1e-5)


def test_a_one_epoch_spike_reaches_the_report(long_run, tmp_path):
    from lstm_widgets.render import figures
    from lstm_widgets.render.report import write_report

    fig = figures.loss_figure(long_run)
    line = fig.axes[0].lines[0]
    x, y = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
    assert SPIKE_EPOCH in x.tolist() and np.nanmax(y) == pytest.approx(long_run.records[SPIKE_EPOCH - 1].loss)
    assert len(x) <= 2 * MAX_POINTS
    text = (tmp_path / "r.html").read_text() if write_report(tmp_path / "r.html", long_run) else ""
    assert text.count("<svg") >= 7 and "http" not in text
