"""watch() on users' own models, the IPython extension, the CLI and the HTML report."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lstm_widgets
from lstm_widgets.engine._tf import keras

VENV_BIN = Path(sys.executable).parent
TOL = 1 + 1e-5


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 30, 4)).astype("float32")
    y = (X[:, -5:, 0].mean(1, keepdims=True) + 0.5 * X[:, -1, 1:2]).astype("float32")
    return X, y


def user_model(**opt):
    """Exactly the README's user code, with the optimizer's clipping varied."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.LSTM(32), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(**opt), loss="mse")
    return model


def fit_watched(model, data, epochs=2, probe=True, **fit):
    X, y = data
    monitor = lstm_widgets.watch(model, probe=(X[:16], y[:16]) if probe else None, display=False)
    model.fit(X, y, epochs=epochs, callbacks=[monitor], verbose=0, **fit)
    return monitor


def check_record_layout(monitor, epochs, steps=4):
    h = monitor.history
    assert len(h) == epochs and [r.epoch for r in h] == list(range(1, epochs + 1))
    for r in h:
        assert set(r.units) >= {"grad_pre_mean", "grad_pre_max", "grad_post_mean", "grad_post_max",
                                "clip_fraction", "weight_norm", "delta_norm", "update_ratio"}
        units = set(h.structure.variables) | set(h.structure.layers) | {"global"}
        assert set(r.units["grad_pre_mean"]) == units
        for u in units:
            pre, post = r.units["grad_pre_max"][u], r.units["grad_post_max"][u]
            assert pre > 0 and math.isfinite(pre)
            assert post <= pre * TOL
            assert r.units["grad_post_mean"][u] <= r.units["grad_pre_mean"][u] * TOL
            assert r.units["delta_norm"][u] > 0
        assert r.steps == steps and r.complete and r.status == "ok" and math.isfinite(r.loss)
        assert set(r.nonfinite) == set(h.structure.variables) and sum(r.nonfinite.values()) == 0


def test_user_model_clipnorm_recorded(data):
    model = user_model(clipnorm=0.01)
    monitor = fit_watched(model, data, epochs=3, validation_split=0.25)
    check_record_layout(monitor, 3, steps=3)  # 96 training samples, batch 32
    h = monitor.history
    r = h.latest
    assert r.settings.clipping == "clipnorm" and r.settings.clip_threshold == pytest.approx(0.01)
    assert r.settings.optimizer == "adam" and r.settings.learning_rate == pytest.approx(1e-3)
    assert r.val_loss is not None and math.isfinite(r.val_loss)
    for v in h.structure.variables:  # each variable clipped on its own
        assert r.units["grad_post_max"][v] <= 0.01 * TOL
        if r.units["grad_pre_max"][v] > 0.01 * TOL:
            assert r.units["clip_fraction"][v] > 0
    assert r.units["clip_fraction"]["global"] == 1.0
    # per gate, for the LSTM's kernel, recurrent kernel and bias
    lstm = model.layers[0].name  # Keras numbers auto-names per process: "lstm", "lstm_3", ...
    assert set(r.gates) == {f"{lstm}/lstm_cell/{k}" for k in ("kernel", "recurrent_kernel", "bias")}
    for per_gate in r.gates.values():
        assert list(per_gate) == ["i", "f", "c", "o"]
        for g in per_gate.values():
            assert g["grad_post_mean"] <= g["grad_pre_mean"] * TOL and g["delta_norm"] > 0
    assert len(r.grad_through_time) == 30 and all(v > 0 for v in r.grad_through_time)
    assert h.runs[1].status == "finished"
    # the optimizer is restored and the next plain fit retraces without the wrappers
    assert "_clip_gradients" not in model.optimizer.__dict__ and model.train_function is None
    model.fit(*data, epochs=1, verbose=0)
    assert len(h) == 3


def test_global_clipnorm_and_clipvalue(data):
    m = fit_watched(user_model(global_clipnorm=0.01), data)
    check_record_layout(m, 2)
    r = m.history.latest
    assert r.settings.clipping == "global_clipnorm"
    assert r.units["grad_post_max"]["global"] <= 0.01 * TOL
    assert r.units["clip_fraction"]["global"] == 1.0

    m = fit_watched(user_model(clipvalue=1e-3), data, probe=False)
    check_record_layout(m, 2)
    r = m.history.latest
    assert r.settings.clipping == "clipvalue" and r.grad_through_time == []
    for v in m.history.structure.variables:
        assert r.units["clip_fraction"][v] > 0


def test_no_clipping_pre_equals_post_and_second_fit_continues(data):
    model = user_model()
    m = fit_watched(model, data)
    r = m.history.latest
    assert r.settings.clipping == "none" and r.settings.clip_threshold is None
    assert r.units["grad_post_mean"]["global"] == pytest.approx(r.units["grad_pre_mean"]["global"], rel=1e-5)
    assert r.units["clip_fraction"]["global"] == 0.0
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2, clipnorm=1.0), loss="mse")
    model.fit(*data, epochs=1, callbacks=[m], verbose=0)
    assert [r.epoch for r in m.history] == [1, 2, 3] and m.history.run_ids == [1]
    assert {mk.setting for mk in m.history.markers} == {"learning_rate", "clipping", "clip_threshold"}
    assert all(mk.position == 2.0 for mk in m.history.markers)


def _fit_model(model, data, loss="mse", epochs=2):
    model.compile(optimizer=keras.optimizers.RMSprop(clipnorm=0.05), loss=loss)
    return fit_watched(model, data, epochs=epochs)


def test_functional_bidirectional_stacked(data):
    keras.utils.set_random_seed(1)
    inp = keras.Input((30, 4))
    h = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True))(inp)
    h = keras.layers.LSTM(8)(h)
    out = keras.layers.Dense(1)(h)
    m = _fit_model(keras.Model(inp, out), data, loss="huber")
    check_record_layout(m, 2)
    s = m.history.structure
    bidi = next(name for name in s.layers if name.startswith("bidirectional"))  # "bidirectional", "bidirectional_1", ...
    assert s.layer_cell[bidi] == "lstm"
    gated = [v for v in s.gated if v.startswith(bidi + "/")]
    assert len(gated) == 6  # forward and backward kernel, recurrent kernel, bias
    r = m.history.latest
    assert r.settings.optimizer == "rmsprop"
    for v in s.variables:
        assert r.units["grad_post_max"][v] <= 0.05 * TOL
    assert len(r.grad_through_time) == 30 and set(r.gate_saturation) == {"i", "f", "c", "o"}


@pytest.mark.parametrize("layer,gates", [("GRU", ["z", "r", "h"]), ("SimpleRNN", None)])
def test_gru_and_simple_rnn(data, layer, gates):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((30, 4)), getattr(keras.layers, layer)(8), keras.layers.Dense(1)])
    m = _fit_model(model, data, loss="mae")
    check_record_layout(m, 2)
    r = m.history.latest
    if gates:
        assert r.gates and all(list(g) == gates for g in r.gates.values())
    else:
        assert r.gates == {}
    from lstm_widgets.watch import NO_RECURRENT_NOTE

    assert NO_RECURRENT_NOTE not in m.notes  # it is recurrent
    assert callable(lstm_widgets.watch)  # still the function after importing the module


def test_dense_only_model_gets_layers_and_a_note(data):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    m = _fit_model(model, data)
    check_record_layout(m, 2)
    from lstm_widgets.watch import NO_RECURRENT_NOTE

    assert NO_RECURRENT_NOTE in m.notes and NO_RECURRENT_NOTE in m.history.structure.notes
    r = m.history.latest
    layers = m.history.structure.layers
    assert r.gates == {} and len(layers) == 2  # Flatten has no weights
    assert all(r.units["update_ratio"][lay] > 0 for lay in layers)


def test_divergence_recorded_and_optional_stop(data):
    X, y = data
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    monitor = lstm_widgets.watch(model, display=False, stop_on_nan=True)
    model.fit(X * 100, y, epochs=5, callbacks=[monitor], verbose=0)
    assert monitor.history.latest.status == "diverged"
    assert len(monitor.history) < 5 and monitor.history.runs[1].status == "diverged"


def test_watch_validates_inputs(data):
    X, y = data
    with pytest.raises(ValueError, match="model must be a Keras 3 model"):
        lstm_widgets.watch("model", display=False)
    with pytest.raises(ValueError, match="probe X must be 3-D"):
        lstm_widgets.watch(user_model(), probe=(X[:, 0], y), display=False)
    with pytest.raises(ValueError, match="probe must be a pair"):
        lstm_widgets.watch(user_model(), probe=X, display=False)


def test_monitor_view_updates_panels(data):
    from lstm_widgets.ui.monitor import MonitorView

    model = user_model(clipnorm=1.0)
    X, y = data
    monitor = lstm_widgets.watch(model, probe=(X[:16], y[:16]), display=False)
    view = MonitorView(monitor)
    model.fit(X, y, epochs=2, callbacks=[monitor], verbose=0)
    assert len(view.update_times) == 2 and not monitor.subscriber_errors
    assert "epoch 2" in view.status.value and "clipnorm=1" in view.status.value
    assert view.panels["grad"]._version is not None


# -- the report -------------------------------------------------------------------------------
def test_report_has_every_part(data, tmp_path):
    from lstm_widgets.diagnosis import Finding
    from lstm_widgets.render.report import SECTIONS, write_report

    model = user_model(clipnorm=0.5)
    m = fit_watched(model, data, epochs=2)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3, clipnorm=0.5), loss="mse")
    model.fit(*data, epochs=1, callbacks=[m], verbose=0)
    path = m.report(tmp_path / "monitor.html")
    text = Path(path).read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in text
    # loss, gradient norm, update ratio, 2 gate bar charts, time line, time heat map
    assert text.count("<svg") >= 7
    assert "lr 0.001 → 0.003" in text  # the change marker
    assert "clipnorm=0.5" in text  # Keras code
    assert "http" not in text and "<script" not in text and "@import" not in text

    f = Finding("exploding_gradients", "problem", "Exploding gradients", "Because <b>it</b> explodes.",
                ["max norm 1e3 at epoch 2"], {}, {"clipping": "clipnorm", "clip_threshold": 1.0}, "Clip at 1.")
    t2 = Path(write_report(tmp_path / "f.html", m.history, findings=[f], title="T")).read_text()
    assert "Exploding gradients" in t2 and "max norm 1e3 at epoch 2" in t2 and "&lt;b&gt;it" in t2


def test_report_from_a_trainer(tmp_path):
    from lstm_widgets.render.report import write_report

    cfg = lstm_widgets.TrainConfig(epochs=2, units=4, clipping="clipnorm")
    t = lstm_widgets.Trainer(cfg, lstm_widgets.load_dataset("sine", n_samples=64, seq_len=10))
    t.start()
    t.wait()
    text = Path(write_report(tmp_path / "t.html", t.history, config=t.config)).read_text()
    assert "keras.layers.LSTM(4)" in text and text.count("<svg") >= 7 and "http" not in text


# -- the IPython extension in a real kernel --------------------------------------------------------
def _run_cells(cells):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env_cwd = str(Path(__file__).resolve().parents[1])
    NotebookClient(nb, timeout=240, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": env_cwd}}).execute()
    return nb.cells


def _text(outputs, kinds=("stream", "error")):
    out = []
    for o in outputs:
        if o.output_type == "error":
            out.append(f"ERROR {o.ename}: {o.evalue}")
        elif o.output_type == "stream":
            out.append(o.text)
    return "\n".join(out)


def _tf_noise(text: str) -> str:
    return "\n".join(l for l in text.splitlines() if not re.match(r"^(WARNING: All log messages|I0000|W0000)", l))


def test_extension_in_a_real_kernel():
    cells = _run_cells([
        "%load_ext lstm_widgets",
        "%lstm_lab sine --epochs 1 --lr 0.01",
        "%lstm_lab sine --lr banana",
        "%lstm_lab sine --clipnorm 1 --clipvalue 1",
        "print(get_ipython().find_line_magic('lstm_lab').__doc__)",
        "import numpy as np, keras\n"
        "X = np.random.default_rng(0).normal(size=(64, 30, 4)).astype('float32'); y = X[:, -1, :1]\n"
        "model = keras.Sequential([keras.Input((30, 4)), keras.layers.LSTM(8), keras.layers.Dense(1)])\n"
        "model.compile(optimizer=keras.optimizers.Adam(clipnorm=1.0), loss='mse')",
        "cb = %lstm_watch model --probe (X[:8],y[:8])",
        "model.fit(X, y, epochs=2, callbacks=[cb], verbose=0); print('records', len(cb.history))",
    ])
    load, good, bad_value, bad_combo, doc, _, watch_cell, fit_cell = cells
    for c in (load, good, watch_cell, fit_cell):
        assert not [o for o in c.outputs if o.output_type == "error"], c.outputs
        text = _tf_noise(_text(c.outputs))
        assert "Error" not in text and "Traceback" not in text, text
    assert any(o.output_type == "display_data" and "application/vnd.jupyter.widget-view+json" in o.data
               for o in good.outputs)
    msg = _text(bad_value.outputs)
    assert "UsageError: %lstm_lab: argument --lr" in msg and "banana" in msg and "Traceback" not in msg
    assert len(msg.strip().splitlines()) == 1
    assert "not allowed with argument" in _text(bad_combo.outputs)
    assert "--clipnorm" in _text(doc.outputs) and "--scaler" in _text(doc.outputs)
    assert any(o.output_type == "display_data" for o in watch_cell.outputs)
    assert "records 2" in _text(fit_cell.outputs)


# -- the CLI -----------------------------------------------------------------------------------------
def _cli(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(VENV_BIN / "lstm-widgets"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    t = np.arange(400)
    rng = np.random.default_rng(0)
    import pandas as pd

    pd.DataFrame({"x": np.sin(0.2 * t) + 0.05 * rng.normal(size=400), "y": np.cos(0.2 * t)}).to_csv(
        d / "small.csv", index=False)
    pd.DataFrame({"x": ["a"] * 50, "y": range(50)}).to_csv(d / "text.csv", index=False)
    return d


def test_cli_diagnose_healthy_exit_0(csv_dir):
    r = _cli("diagnose", "small.csv", "--target", "y", "--lookback", "10", "--epochs", "3", cwd=csv_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Healthy" in r.stdout and "Traceback" not in r.stderr


def test_cli_diagnose_problem_exit_1(csv_dir):
    r = _cli("diagnose", "small.csv", "--target", "y", "--lookback", "10", "--epochs", "3", "--lr", "1e-7",
             "--report", "r.html", cwd=csv_dir)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Learning rate too low" in r.stdout and "keras.optimizers.Adam(learning_rate=1e-05)" in r.stdout
    assert (csv_dir / "r.html").exists()


@pytest.mark.parametrize("args,needle", [
    (["missing.csv", "--target", "y", "--lookback", "10"], "no such file"),
    (["small.csv", "--target", "nope", "--lookback", "10"], "--target"),
    (["text.csv", "--target", "y", "--lookback", "5"], "not numeric"),
    (["small.csv", "--target", "y", "--lookback", "5000"], "--lookback"),
    (["small.csv", "--target", "y"], "--lookback"),
    (["small.csv", "--target", "y", "--lookback", "10", "--lr", "-1"], "learning_rate"),
])
def test_cli_diagnose_bad_input_exit_2(csv_dir, args, needle):
    r = _cli("diagnose", *args, cwd=csv_dir)
    assert r.returncode == 2, r.stdout + r.stderr
    err = _tf_noise(r.stderr).strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1, err


def test_cli_lessons_copies_and_keeps_edits(tmp_path):
    from lstm_widgets.cli import lesson_source

    names = sorted(p.name for p in lesson_source().glob("*.ipynb"))
    assert names, "no lesson notebooks found"
    r = _cli("lessons", "L", "--no-lab", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "L").glob("*.ipynb")) == names
    edited = tmp_path / "L" / names[0]
    edited.write_text("my edits")
    r = _cli("lessons", "L", "--no-lab", cwd=tmp_path)
    assert r.returncode == 0 and edited.read_text() == "my edits"
    assert "not overwritten" in r.stdout and names[0] in r.stdout


def test_lab_report(tmp_path):
    from lstm_widgets.ui import Lab

    lab = Lab("sine", dataset_options={"n_samples": 64, "seq_len": 10}, epochs=1, units=4)
    lab.train(wait=True)
    text = Path(lab.report(tmp_path / "lab.html")).read_text()
    assert "<h2>Findings</h2>" in text and text.count("<svg") >= 7 and "http" not in text
    lab.close()
