"""TrainConfig and the table of settings: validation, replace/diff, and Keras code that runs."""

from __future__ import annotations

import pytest
from lstm_widgets import TrainConfig, load_dataset

# (what is tried, the call, words the message must contain: setting, what came in, what to do)
BAD_SETTINGS = [
    ("zero lr", lambda: TrainConfig(learning_rate=0), ["learning_rate", "got 0", "Try 0.001"]),
    ("negative lr", lambda: TrainConfig(learning_rate=-0.1, optimizer="sgd"), ["learning_rate", "-0.1", "Try 0.01 for SGD"]),
    ("NaN lr", lambda: TrainConfig(learning_rate=float("nan")), ["learning_rate", "nan"]),
    ("lr text", lambda: TrainConfig(learning_rate="fast"), ["learning_rate", "'fast'"]),
    ("unknown optimizer", lambda: TrainConfig(optimizer="adagrad"), ["optimizer", "'adagrad'", "'adam'", "'sgd'"]),
    ("unknown scaler", lambda: TrainConfig(scaler="log"), ["scaler", "'log'", "'standard'"]),
    ("unknown clipping", lambda: TrainConfig(clipping="clipnorms"), ["clipping", "'clipnorms'", "'global_clipnorm'"]),
    ("zero clip threshold", lambda: TrainConfig(clip_threshold=0), ["clip_threshold", "got 0", "between 1 and 5"]),
    ("batch size 0", lambda: TrainConfig(batch_size=0), ["batch_size", "got 0", "Try 32"]),
    ("epochs 0", lambda: TrainConfig(epochs=0), ["epochs", "got 0", "Try 20"]),
    ("epochs float", lambda: TrainConfig(epochs=2.5), ["epochs", "2.5", "whole number"]),
    ("momentum 1", lambda: TrainConfig(momentum=1.0), ["momentum", "1.0", "0.9"]),
    ("unknown setting", lambda: TrainConfig().replace(lr=0.1), ["'lr'", "learning_rate"]),
]


@pytest.mark.parametrize("case,call,words", BAD_SETTINGS, ids=[b[0] for b in BAD_SETTINGS])
def test_a_bad_setting_gets_a_clear_error(case, call, words):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{case}: {w!r} missing from {msg!r}"


def test_every_setting_is_declared_once_and_drives_the_config_and_the_recorded_settings():
    from dataclasses import fields

    from lstm_widgets.config import (
        ARCHITECTURE_FIELDS,
        BATCH_FIELDS,
        EPOCH_FIELDS,
        SETTINGS,
    )
    from lstm_widgets.history import RunSettings

    names = [s.name for s in SETTINGS]
    assert sorted(names) == sorted(f.name for f in fields(TrainConfig)) and len(set(names)) == len(names)
    assert set(names) <= {f.name for f in fields(RunSettings)}  # the recorded settings know every one
    assert BATCH_FIELDS | EPOCH_FIELDS | ARCHITECTURE_FIELDS == set(names)
    for s in SETTINGS:
        assert s.help and TrainConfig().replace(**{s.name: s.default}) == TrainConfig()
        assert s.name in (TrainConfig.__doc__ or "")


def test_the_cli_and_the_magic_take_their_options_from_the_table():
    import argparse

    from lstm_widgets.options import (
        add_setting_arguments,
        changes_from_arguments,
        options_help,
    )

    p = argparse.ArgumentParser()
    add_setting_arguments(p)
    args = p.parse_args(["--lr", "0.05", "--optimizer", "sgd", "--global-clipnorm", "2", "--scale-target"])
    assert changes_from_arguments(args) == {
        "learning_rate": 0.05, "optimizer": "sgd", "scale_target": True, "clipping": "global_clipnorm",
        "clip_threshold": 2.0,
    }
    text = options_help()
    assert "--batch-size" in text and "Default: 32" in text and "--clipvalue T" in text


def test_config_replace_validates_and_diff_lists_changes():
    c = TrainConfig()
    d = c.replace(learning_rate=0.01, optimizer="SGD")
    assert d.optimizer == "sgd" and c.learning_rate == 1e-3
    assert c.diff(d) == {"optimizer": ("adam", "sgd"), "learning_rate": (1e-3, 0.01)}
    with pytest.raises(ValueError, match="batch_size"):
        c.replace(batch_size=-1)


@pytest.mark.parametrize(
    "cfg, expect",
    [
        (TrainConfig(optimizer="adam", clipping="clipnorm", clip_threshold=1.0),
         "keras.optimizers.Adam(learning_rate=0.001, clipnorm=1.0)"),
        (TrainConfig(optimizer="sgd", momentum=0.9, nesterov=True, clipping="global_clipnorm", clip_threshold=5.0),
         "keras.optimizers.SGD(learning_rate=0.001, momentum=0.9, nesterov=True, global_clipnorm=5.0)"),
        (TrainConfig(optimizer="rmsprop", clipping="clipvalue", clip_threshold=0.5, scaler="minmax_sym"),
         "keras.optimizers.RMSprop(learning_rate=0.001, clipvalue=0.5)"),
        (TrainConfig(optimizer="nadam", scaler="robust", scale_target=True, layers=2, cell="gru"),
         "keras.optimizers.Nadam(learning_rate=0.001)"),
        (TrainConfig(optimizer="sgd", cell="simple_rnn", recurrent_gain=2.0),
         "recurrent_initializer=keras.initializers.Orthogonal(gain=2.0)"),
        (TrainConfig(unit_forget_bias=False), "keras.layers.LSTM(3, unit_forget_bias=False)"),
    ],
)
def test_to_keras_code_runs_and_reproduces_the_settings(cfg, expect):
    code = cfg.replace(epochs=1, units=3).to_keras_code()
    assert expect in code
    data = load_dataset("multiscale", n_samples=40, seq_len=6)
    ns = {"X_train": data.X_train, "y_train": data.y_train[:, 0], "X_val": data.X_val, "y_val": data.y_val}
    exec(compile(code, "<to_keras_code>", "exec"), ns)
    model, opt = ns["model"], ns["model"].optimizer
    assert len(ns["history"].history["loss"]) == 1 and "val_loss" in ns["history"].history
    assert type(opt).__name__.lower() == cfg.optimizer
    assert float(opt.learning_rate) == pytest.approx(cfg.learning_rate)
    for mode in ("clipnorm", "global_clipnorm", "clipvalue"):
        assert getattr(opt, mode) == (cfg.clip_threshold if cfg.clipping == mode else None)
    assert len([l for l in model.layers if "Dense" not in type(l).__name__]) == cfg.layers
    if cfg.cell == "lstm":
        assert model.layers[0].cell.unit_forget_bias == cfg.unit_forget_bias
    if cfg.scaler != "none":
        assert "fit(X_train.reshape" in code and "fit(X_val" not in code
