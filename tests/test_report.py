"""The self-contained HTML report, from a Monitor, a Trainer and a Lab."""

from __future__ import annotations

from pathlib import Path

import lstm_widgets
from lstm_widgets.engine._tf import keras

from support.runs import fit_watched, user_model


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


def test_lab_report(tmp_path):
    from lstm_widgets.ui import Lab

    lab = Lab("sine", dataset_options={"n_samples": 64, "seq_len": 10}, epochs=1, units=4)
    lab.train(wait=True)
    text = Path(lab.report(tmp_path / "lab.html")).read_text()
    assert "<h2>Findings</h2>" in text and text.count("<svg") >= 7 and "http" not in text
    lab.close()
