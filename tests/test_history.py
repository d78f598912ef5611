"""History: JSON round trip (format 2, and format 1 still read), the DataFrame export."""

from __future__ import annotations

import json

import pandas as pd
from lstm_widgets import History, TrainConfig, load_dataset


def test_history_json_round_trip_and_frame(tmp_path):
    from lstm_widgets.engine.trainer import Trainer

    t = Trainer(TrainConfig(units=3, epochs=2), load_dataset("sine", n_samples=64, seq_len=5))
    t.start()
    t.wait(120)
    t.set(learning_rate=0.01)
    t.start()
    t.wait(120)
    h = t.history
    h2 = History.from_json(h.to_json())
    assert h2.to_dict() == json.loads(h.to_json())
    assert [m.label for m in h2.markers] == ["lr 0.001 → 0.01"]
    h.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json").records[-1].loss == h.records[-1].loss
    df = h.to_frame()
    assert len(df) == 4
    for col in ["run_id", "epoch", "loss", "val_loss", "learning_rate", "update_ratio[lstm_1]",
                "grad_pre_mean[global]", "grad_post_max[lstm_1/lstm_cell/kernel]",
                "grad_pre_mean[lstm_1/lstm_cell/kernel:f]", "grad_t[0]", "saturation[i]"]:
        assert col in df.columns
    assert list(df["learning_rate"]) == [0.001, 0.001, 0.01, 0.01]
    h.to_csv(tmp_path / "h.csv")
    assert pd.read_csv(tmp_path / "h.csv").shape == df.shape


def test_a_run_saved_before_a_setting_existed_loads_with_the_value_it_had():
    """Histories saved before unit_forget_bias existed (the gallery's among them) were
    made with Keras's forget bias of 1; a watch() run, whose model settings are not
    known, stays unknown."""
    from lstm_widgets.history import RunSettings

    trainer_run = RunSettings.from_config(TrainConfig()).to_dict()
    del trainer_run["unit_forget_bias"]
    assert RunSettings.from_dict(trainer_run).unit_forget_bias is True
    watched = RunSettings(optimizer="adam", learning_rate=1e-3).to_dict()
    del watched["unit_forget_bias"]
    assert RunSettings.from_dict(watched).unit_forget_bias is None
    off = RunSettings.from_config(TrainConfig(unit_forget_bias=False)).to_dict()
    assert RunSettings.from_dict(off).unit_forget_bias is False
