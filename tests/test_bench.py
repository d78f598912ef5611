"""The bench pool (engine/bench.py): a Trainer's compiled steps are reused by the next
Trainer of the same shape (closed, collected, or idle and lent), and nothing a user can
see changes: the same initial weights per seed, a parked run carrying on exactly, a model
the user holds never handed to another Trainer, every widget of a closed Lab closed."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from lstm_widgets import TrainConfig
from lstm_widgets.engine import bench
from lstm_widgets.engine.trainer import Trainer

from support.runs import TINY


def make(data, **settings):
    return Trainer(TrainConfig(**{**TINY, **settings}), data)


def trained(data, **settings):
    t = make(data, **settings)
    t.start()
    assert t.wait(120)
    return t


def weights(t):
    return [v.numpy().copy() for v in t.model_.weights]


@pytest.fixture(autouse=True)
def empty_pool():
    # Trainers that earlier test modules left for the collector still hold benches; one
    # collected mid-test would put its bench in the pool (or lend it) and change the counts.
    gc.collect()
    bench.clear_pool()
    yield
    bench.clear_pool()


def test_a_closed_trainers_bench_serves_the_next_one_without_tracing_again(sine):
    a = trained(sine, seed=1)
    b_a, step = a._bench, a._step
    traces = step.experimental_get_tracing_count()
    a.close()
    assert bench.pool_size() == 1 and a.model_ is None
    built = bench.built_count()
    b = trained(sine, seed=1)
    assert b._bench is b_a and bench.built_count() == built
    assert step.experimental_get_tracing_count() == traces
    # another architecture gets a bench of its own
    c = trained(sine, seed=1, units=5)
    assert c._bench is not b_a and bench.built_count() == built + 1
    b.close(), c.close()


def test_a_reused_bench_starts_from_the_weights_a_fresh_model_has_for_that_seed(sine):
    first = trained(sine, seed=3)
    fresh3 = [w.copy() for w in first._initial_weights]
    first.close()
    again = trained(sine, seed=4, epochs=1)  # the pooled bench, another seed
    bench.clear_pool()
    again.close()
    bench.clear_pool()  # nothing pooled: the next Trainer builds its own model
    alone = make(sine, seed=4, epochs=1)
    alone.start(), alone.wait(120)
    assert all(np.array_equal(x, y) for x, y in zip(again._initial_weights, alone._initial_weights))
    assert not all(np.array_equal(x, y) for x, y in zip(fresh3, alone._initial_weights))
    assert [r.loss for r in again.history.records] == pytest.approx([r.loss for r in alone.history.records], rel=1e-5)
    alone.close()


def test_an_idle_trainer_lends_its_bench_and_carries_on_exactly_where_it_was(sine):
    a = trained(sine, seed=2, optimizer="adam", learning_rate=3e-3, epochs=2)
    b = trained(sine, seed=5, epochs=1)  # a is idle: b takes its bench, a parks
    assert a._parked is not None and a._bench is None and b._bench is not None
    assert bench.built_count() >= 1
    a.start(), a.wait(120)  # two more epochs of a's run (b idle now: a takes it back)
    assert a._parked is None and b._parked is not None
    ref = trained(sine, seed=2, optimizer="adam", learning_rate=3e-3, epochs=4)
    assert [r.epoch for r in a.history.records] == [1, 2, 3, 4]
    assert [r.loss for r in a.history.records] == pytest.approx([r.loss for r in ref.history.records], rel=1e-5)
    # a setting changed while parked reaches the run: SGD, a fresh optimizer
    b.set(optimizer="sgd", learning_rate=0.05)
    b.start(), b.wait(120)
    assert b.history.records[-1].settings.optimizer == "sgd" and b.error is None
    for t in (a, b, ref):
        t.close()


def test_a_model_the_user_holds_is_neither_pooled_nor_lent(sine):
    a = trained(sine, seed=1)
    model = a.model_
    b = trained(sine, seed=1)
    assert a._parked is None and b._bench is not a._bench  # a's model is held: b built its own
    a.close()
    assert bench.pool_size() == 0  # still held: stays with whoever holds it
    assert model.weights  # and it is intact
    del model
    b.close()
    assert bench.pool_size() == 1


def test_a_collected_trainers_bench_goes_back_to_the_pool(sine):
    t = trained(sine, seed=1)
    del t
    gc.collect()
    assert bench.pool_size() == 1


def test_a_closed_lab_closes_every_widget_it_made(tiny, recorder):
    from ipywidgets.widgets.widget import _instances
    from support.runs import make_lab

    before = set(_instances)
    lab = make_lab(tiny, epochs=2)
    lab.train(wait=True, timeout=120)
    lab.keep_run()
    lab.restart(start=False)
    lab.train(wait=True, timeout=120)
    assert len(set(_instances) - before) > 100
    lab.close()
    assert set(_instances) - before == set()


@pytest.mark.notebook
def test_many_labs_in_one_kernel_reuse_their_benches_and_print_no_warning(tmp_path):
    """A class's notebook: ten Labs one after another in one kernel, as a learner builds
    them (``lab = Lab(...)``, the previous one left open, each displayed). TensorFlow
    logged "triggered tf.function retracing" into the cells from about the fifth, and each
    Lab traced its own graphs for good (8.9 MB a Lab). Now two shapes build two benches."""
    import nbformat
    from nbclient import NotebookClient

    cells = ["from lstm_widgets import Lab\nfrom lstm_widgets.engine import bench\n"
             "small = dict(n_samples=128, seq_len=10)"]
    optimizers = ["adam", "sgd", "rmsprop", "nadam"]
    for i in range(10):
        cells.append(f"lab = Lab('sine', dataset_options=small, epochs=2, units={4 if i % 2 else 6}, "
                     f"optimizer={optimizers[i % 4]!r}, seed={i})\nlab.train(wait=True)\nlab")
    cells.append("print('LW_BENCHES', bench.built_count(), bench.lent_count())")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    from support.notebooks import cell_text, notebook_errors

    assert notebook_errors(nb) == []
    for i, cell in enumerate(nb.cells):
        for out in cell.outputs:
            assert out.output_type != "stream" or out.name != "stderr", f"cell {i} wrote to stderr: {out.text[:500]}"
        text = cell_text(cell)
        assert "WARNING" not in text and "retracing" not in text, f"cell {i}: {text[:500]}"
    built, lent = map(int, cell_text(nb.cells[-1]).split()[1:3])
    assert (built, lent) == (2, 2)


def test_a_parked_trainer_restarts_into_a_new_model_and_predicts(sine):
    a = trained(sine, seed=2)
    b = trained(sine, seed=3)  # a parks
    assert a._parked is not None
    assert a.predict(sine.X_val[:4]).shape == (4, 1)  # takes a bench back (b parks)
    c = trained(sine, seed=4)  # a or b parks again
    parked = a if a._parked is not None else b
    parked.set(units=5)  # a model change waiting for Restart: the bench it takes back is still 4 units
    parked.set(learning_rate=3e-3)  # a live change while parked reaches the run
    parked.restart(start=False)
    parked.start()
    assert parked.wait(120) and parked.model_.layers[0].units == 5
    assert parked.history.records[-1].settings.learning_rate == 3e-3
    for t in (a, b, c):
        t.close()
