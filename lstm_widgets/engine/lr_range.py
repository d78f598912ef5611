"""The learning-rate range test ("LR finder", Smith 2017, *Cyclical Learning Rates for
Training Neural Networks*): one run whose learning rate rises geometrically, one epoch
per rate, from far too low to far too high; the loss against the rate shows where
training starts to work and where it breaks, and the measured per-step update ratio
beside it shows how far each step moved the weights.

Example:
    >>> test = lr_range_test(TrainConfig(optimizer="adam"), load_dataset("adding"))
    >>> test.suggestion, test.table()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..config import TrainConfig
from ..data import SequenceData
from ..history import History

__all__ = ["lr_range_test", "RangeTest", "BLOW_UP"]

#: The test stops once the training loss exceeds this many times its best so far: past
#: that the rate is too high and the rest of the range says nothing new.
BLOW_UP = 4.0


@dataclass
class RangeTest:
    """What a range test measured, one entry per epoch (one learning rate each).

    Attributes:
        rates: The learning rate of each epoch, rising.
        losses: The training loss of each epoch (at that rate; NaN once non-finite).
        step_ratios: The mean per-step update ratio ||ΔW_step||/||W|| of each epoch.
        lowest_loss_rate: The rate of the lowest loss.
        suggestion: A tenth of ``lowest_loss_rate``: a rate that trains fast and is
            still an order of magnitude below where the loss stops falling.
        blew_up_at: The first rate at which the loss exceeded BLOW_UP x its best (None
            if it never did within the range).
        history: The test run's History.
    """

    rates: list[float]
    losses: list[float]
    step_ratios: list[float]
    lowest_loss_rate: float
    suggestion: float
    blew_up_at: float | None
    history: History = field(repr=False, default_factory=History)

    def table(self):
        """The numbers as a pandas DataFrame indexed by learning rate."""
        import pandas as pd

        return pd.DataFrame({"training loss": self.losses, "update ratio per step": self.step_ratios},
                            index=pd.Index(self.rates, name="learning rate"))

    def step_ratio_at(self, rate: float) -> float:
        """The measured per-step update ratio at the tested rate nearest ``rate`` (log scale)."""
        i = int(np.argmin(np.abs(np.log(np.asarray(self.rates)) - math.log(rate))))
        return float(self.step_ratios[i])


def lr_range_test(config: TrainConfig, data: SequenceData, lowest: float = 1e-5, highest: float = 1.0,
                  epochs: int = 16, blow_up: float = BLOW_UP) -> RangeTest:
    """Train one run from ``config`` with the learning rate rising from ``lowest`` to
    ``highest`` over ``epochs`` epochs (geometrically, one rate per epoch), stopping early
    once the loss blows up. Blocks until done.

    Raises:
        ValueError: ``lowest`` not below ``highest``, a bound outside the learning rate's
            range, fewer than 4 epochs, or ``blow_up`` not above 1.
    """
    from .trainer import Trainer

    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}.")
    if not (0 < lowest < highest <= 10):
        raise ValueError(f"lowest and highest must satisfy 0 < lowest < highest <= 10; got {lowest!r}, "
                         f"{highest!r}. Try lowest=1e-5, highest=1.0.")
    if not (isinstance(epochs, int) and epochs >= 4):
        raise ValueError(f"epochs must be a whole number >= 4; got {epochs!r}. Try 16.")
    if not blow_up > 1:
        raise ValueError(f"blow_up must be above 1; got {blow_up!r}. Try {BLOW_UP}.")
    rates = [float(r) for r in np.geomspace(lowest, highest, epochs)]
    trainer = Trainer(config.replace(learning_rate=rates[0], epochs=epochs), data)
    best = [math.inf]
    blew = [None]

    def next_rate(record) -> None:
        i = record.epoch  # the epoch just ended ran at rates[i - 1]
        loss = record.loss
        if loss is not None and math.isfinite(loss):
            best[0] = min(best[0], loss)
        if not (loss is not None and math.isfinite(loss)) or loss > blow_up * best[0]:
            blew[0] = rates[i - 1]
            trainer.stop(wait=False)
        elif i < len(rates):
            trainer.set(learning_rate=rates[i])

    trainer.on_epoch(next_rate)
    try:
        trainer.start()
        trainer.wait()
    finally:
        trainer.off_epoch(next_rate)
        history = trainer.history
        trainer.close()
    recs = history.run()
    losses = [float(r.loss) if r.loss is not None and math.isfinite(r.loss) else math.nan for r in recs]
    steps = [float(r.value("step_ratio_mean")) for r in recs]
    used = rates[: len(recs)]
    finite = [i for i, x in enumerate(losses) if math.isfinite(x)]
    lowest_rate = used[min(finite, key=lambda i: losses[i])] if finite else math.nan
    return RangeTest(used, losses, steps, lowest_rate, lowest_rate / 10, blew[0], history)
