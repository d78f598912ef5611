"""compare_runs: several runs on one set of axes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.runs import train


def test_compare_runs_one_line_per_run(adding20):
    from bqplot import LogScale
    from lstm_widgets.ui.compare import compare_runs, run_series

    a = train(adding20, units=8, learning_rate=3e-3, epochs=3)
    b = train(adding20, units=8, learning_rate=1e-2, epochs=4)
    fig = compare_runs({"slow": a.history, "fast": b, "records": b.history.run()}, field="loss")
    line = fig.marks[0]
    assert list(line.labels) == ["slow", "fast", "records"] and line.display_legend
    assert np.asarray(line.y).shape == (3, 4)  # padded to the longest run
    x0 = np.asarray(line.x)[0]
    assert np.isnan(x0[3]) or x0[3] == 3  # nothing drawn past the shorter run's last epoch
    assert isinstance(line.scales["y"], LogScale)
    y = np.asarray(line.y)
    assert line.scales["y"].min <= np.nanmin(y) and line.scales["y"].max >= np.nanmax(y)
    x, g = run_series(a, "grad_through_time")
    assert x[-1] == 0 and len(x) == adding20.n_timesteps and np.all(g > 0)
    lin = compare_runs({"a": (a.history, 1)}, field="clip_fraction", log_y=False)
    assert not isinstance(lin.marks[0].scales["y"], LogScale)
    with pytest.raises(ValueError, match="field must be one of"):
        compare_runs({"a": a}, field="nope")
    with pytest.raises(ValueError, match="legend_location must be one of"):
        compare_runs({"a": a}, legend_location="nowhere")
    assert list(fig.axes[0].tick_values) == [1.0, 2.0, 3.0, 4.0]  # whole epochs only
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_runs({})
    with pytest.raises(ValueError, match=r"runs\['x'\]"):
        compare_runs({"x": 3})
    with pytest.raises(ValueError, match="not in that History"):
        compare_runs({"a": (a.history, 7)})
    # the profile before a run's first step, from its RunInfo (lesson 4 sets it beside the last epoch's)
    start = compare_runs({"a": a, "b": (b.history, 1)}, field="initial_grad_through_time")
    np.testing.assert_allclose(np.asarray(start.marks[0].y)[0], a.history.runs[1].initial_grad_through_time, rtol=1e-6)
    assert start.axes[0].label == "time step (0 = last)" and "before the first step" in start.title
    with pytest.raises(ValueError, match=r"runs\['r'\].*no profile from before its first step"):
        compare_runs({"r": a.history.run()}, field="initial_grad_through_time")


def test_compare_runs_maps_non_positive_values_to_nan_on_a_log_scale():
    from lstm_widgets.history import EpochRecord
    from lstm_widgets.ui.compare import compare_runs

    recs = [EpochRecord(1, e, loss, None, 0.1, 1) for e, loss in enumerate([1.0, 0.0, -1.0, math.inf], 1)]
    line = compare_runs({"r": recs}).marks[0]
    x, y = np.atleast_1d(line.x).ravel(), np.atleast_1d(line.y).ravel()  # bqplot squeezes one row
    drawn = {(float(a), float(b)) for a, b in zip(x, y) if np.isfinite(a) and np.isfinite(b)}
    assert drawn == {(1.0, 1.0)}  # 0, -1 and inf are not drawn
    falling = [EpochRecord(1, e, loss, None, 0.1, 1) for e, loss in enumerate([1.0, 0.3, 0.1, 0.03], 1)]
    flat = [EpochRecord(2, e, 1.0, None, 0.1, 1) for e in range(1, 5)]
    assert compare_runs({"f": falling, "flat": flat}).legend_location == "bottom-left"  # the empty corner
    assert compare_runs({"f": falling}).legend_location == "top-right"  # two empty corners: top-right


def test_an_exploding_run_leaves_through_the_top_instead_of_flattening_the_others():
    from lstm_widgets.history import EpochRecord
    from lstm_widgets.ui.compare import OFF_SCALE, compare_runs

    def recs(losses):
        return [EpochRecord(1, e, loss, None, 0.1, 1) for e, loss in enumerate(losses, 1)]

    calm = recs([1.0, 0.5, 0.2, 0.1])
    boom = recs([1.2, 40.0, 1e9, 1e27])
    line = compare_runs({"calm": calm, "boom": boom}).marks[0]
    top = OFF_SCALE * 1.1  # the median of the first values, 1.0 and 1.2
    assert line.scales["y"].max <= 1.5 * top  # not 1e27: the calm run keeps its decades
    assert line.scales["y"].min <= 0.1
    y = np.asarray(line.y)
    np.testing.assert_allclose(y[0], [1.0, 0.5, 0.2, 0.1], rtol=1e-6)  # the calm run as it was
    assert np.nanmax(y[1]) <= top * (1 + 1e-6) and y[1][1] == np.float32(40.0)
    assert list(line.labels) == ["calm", "boom (off the top)"]
    # a run that exploded in its first epoch does not set the scale
    first = compare_runs({"calm": calm, "also": recs([1.1, 0.4, 0.3, 0.2]), "early": recs([1e10, 1e20, 1e25, 1e30])})
    assert first.marks[0].scales["y"].max <= 1.5 * OFF_SCALE * 1.1
    # nothing beyond the scale: nothing relabelled, the scale covers every value
    both = compare_runs({"calm": calm, "also": recs([2.0, 1.0, 0.5, 0.4])}).marks[0]
    assert list(both.labels) == ["calm", "also"] and both.scales["y"].max >= 2.0
