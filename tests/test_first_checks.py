"""The first checks: the loss at initialisation against its expected value, and whether
one small batch can be fitted, on a fresh copy of the model."""

from __future__ import annotations

import pytest

from lstm_widgets import TrainConfig, first_checks, load_dataset
from lstm_widgets.engine.first_checks import INIT_BAND, OVERFIT_SHARE


@pytest.fixture(scope="module")
def sine20():
    return load_dataset("sine", n_samples=128, seq_len=20)


def test_a_sound_setup_fits_one_batch_and_starts_where_expected(sine20):
    r = first_checks(TrainConfig(), sine20)
    assert r.init_ok and INIT_BAND[0] <= r.initial_loss / r.zero_loss <= INIT_BAND[1]
    assert r.overfits and r.batch_losses[-1] <= OVERFIT_SHARE * r.batch_losses[0]
    assert "able to learn" in r.verdict and "fitted." in repr(r) and "<li>" in r._repr_html_()


def test_weights_that_cannot_move_are_told_apart(sine20):
    r = first_checks(TrainConfig(units=8, optimizer="sgd", learning_rate=1e-5), sine20, steps=100)
    assert not r.overfits and r.update_per_step < 1e-4
    assert "not updating" in r.verdict and "Raise the learning rate" in r.verdict


def test_an_unscaled_target_is_named_when_one_batch_cannot_be_fitted():
    r = first_checks(TrainConfig(units=8), load_dataset("seattle_weather", n_samples=200), steps=100)
    assert not r.overfits and "scale the target" in r.verdict


def test_bad_arguments_are_named(sine20):
    with pytest.raises(ValueError, match="config must be a TrainConfig"):
        first_checks({"units": 8}, sine20)
    with pytest.raises(ValueError, match="steps must be a whole number >= 1; got 0"):
        first_checks(TrainConfig(), sine20, steps=0)


def test_the_lab_runs_them_without_touching_its_run(trained):
    before = len(trained.history)
    r = trained.first_checks(steps=50)
    assert r.steps == 50 and len(trained.history) == before
    assert "First checks" in trained.checks_view.value
