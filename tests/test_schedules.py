"""ReduceOnPlateau acts on a running Trainer between epochs, and the range test raises the
learning rate epoch by epoch until the loss blows up."""

from __future__ import annotations

import math

import pytest
from lstm_widgets import ReduceOnPlateau, TrainConfig, load_dataset, lr_range_test
from lstm_widgets.engine.trainer import Trainer

from support.records import record


class FakeTrainer:
    """What a schedule needs of a Trainer: subscriptions, set() and the wanted config."""

    def __init__(self, lr=0.1):
        self.wanted = TrainConfig(learning_rate=lr)
        self.subs = []

    def on_epoch(self, fn):
        self.subs.append(fn)
        return fn

    def off_epoch(self, fn):
        self.subs.remove(fn)

    def set(self, **changes):
        self.wanted = self.wanted.replace(**changes)

    def feed(self, losses, run_id=1):
        for e, v in enumerate(losses, 1):
            for fn in list(self.subs):
                fn(record(e, loss=v, val_loss=v, run_id=run_id))


def test_reduce_on_plateau_cuts_after_patience_epochs_without_improvement():
    t = FakeTrainer(0.1)
    p = ReduceOnPlateau(factor=0.5, patience=2, min_delta=0.01).attach(t)
    t.feed([1.0, 0.9, 0.895, 0.9, 0.7, 0.71, 0.705])  # 0.895 is not 1% better than 0.9
    assert p.changes == [(4, 0.1, 0.05), (7, 0.05, 0.025)]
    assert t.wanted.learning_rate == 0.025
    t.feed([1.0, 1.0], run_id=2)  # a new run starts from its own best: one flat epoch only
    assert len(p.changes) == 2
    p.detach()
    assert t.subs == []
    t.feed([1.0, 1.0, 1.0, 1.0], run_id=3)
    assert len(p.changes) == 2  # detached: no more cuts


def test_reduce_on_plateau_respects_min_lr_cooldown_and_skips_nonfinite():
    t = FakeTrainer(2e-6)
    p = ReduceOnPlateau(factor=0.1, patience=1, min_lr=1e-6, cooldown=1).attach(t)
    t.feed([1.0, 1.0, math.nan, 1.0, 1.0, 1.0])
    assert [c[2] for c in p.changes] == [1e-6]  # floored at min_lr, then nothing lower to go
    for bad in (dict(factor=1.0), dict(patience=0), dict(min_delta=1.0), dict(min_lr=0), dict(cooldown=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ReduceOnPlateau(**bad)
    with pytest.raises(ValueError, match="attaches to a Lab or a Trainer"):
        ReduceOnPlateau().attach(42)


def test_a_schedule_on_a_real_trainer_changes_the_rate_live_with_markers():
    data = load_dataset("adding", n_samples=128, seq_len=10)
    trainer = Trainer(TrainConfig(units=4, epochs=6, learning_rate=1e-2), data)
    plateau = ReduceOnPlateau(factor=0.5, patience=1, min_delta=0.99).attach(trainer)  # every epoch is a plateau
    trainer.start()
    trainer.wait()
    plateau.detach()
    recs = trainer.history.run()
    rates = [r.settings.learning_rate for r in recs]
    assert rates[0] == 1e-2 and all(b < a for a, b in zip(rates[1:], rates[2:]))  # halved after each epoch
    markers = [m for m in trainer.history.run_markers() if m.setting == "learning_rate"]
    assert len(markers) >= len(recs) - 1 and markers[0].new == 5e-3
    assert trainer.config.learning_rate == plateau.changes[-1][2]


def test_the_range_test_raises_the_rate_each_epoch_and_stops_when_the_loss_blows_up():
    data = load_dataset("adding", n_samples=256, seq_len=10)
    test = lr_range_test(TrainConfig(optimizer="sgd", units=4), data, lowest=1e-4, highest=10.0, epochs=10)
    assert test.rates == pytest.approx([1e-4 * 10 ** (5 * i / 9) for i in range(len(test.rates))])
    recorded = [r.settings.learning_rate for r in test.history.run()]
    assert recorded == pytest.approx(test.rates)
    assert test.blew_up_at is not None and len(test.rates) < 10  # SGD at 10 blows up before the end
    assert test.suggestion == pytest.approx(test.lowest_loss_rate / 10)
    finite = [x for x in test.losses if math.isfinite(x)]
    assert test.losses[test.rates.index(test.lowest_loss_rate)] == min(finite)
    assert test.step_ratios[-2] > test.step_ratios[0]  # larger rates, larger steps
    assert list(test.table().columns) == ["training loss", "update ratio per step"]
    for bad, words in [(dict(lowest=1.0, highest=0.1), "lowest and highest"), (dict(epochs=2), "epochs"),
                       (dict(blow_up=1.0), "blow_up")]:
        with pytest.raises(ValueError, match=words):
            lr_range_test(TrainConfig(), data, **bad)


def test_the_range_test_figure_draws_loss_ratio_band_and_suggestion():
    from lstm_widgets.engine.lr_range import RangeTest
    from lstm_widgets.ui.range_view import range_test_figure

    t = RangeTest([1e-4, 1e-3, 1e-2, 1e-1], [1.0, 0.5, 0.2, math.nan], [1e-5, 1e-4, 1e-3, 1e-2], 1e-2, 1e-3, 1e-1)
    fig = range_test_figure(t)
    loss, ratio, band, suggested = fig.marks
    assert list(loss.x.ravel()[:3]) == pytest.approx([1e-4, 1e-3, 1e-2]) and ratio.labels == ["update ratio per step"]
    assert band.y.tolist() == pytest.approx([1e-3, 1e-3]) and suggested.x.tolist() == pytest.approx([1e-3, 1e-3])
    assert [a.label for a in fig.axes] == ["learning rate", "training loss", "update ratio per step"]
    with pytest.raises(ValueError, match="no epoch"):
        range_test_figure(RangeTest([], [], [], math.nan, math.nan, None))
