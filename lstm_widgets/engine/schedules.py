"""Learning-rate schedules that act on a running Trainer (or Lab) between epochs.

A schedule reads each epoch as it is recorded and, when its rule says so, changes the
learning rate with ``trainer.set(...)``: the change applies before the next batch and is
recorded as a ChangeMarker, so the Lab's panels show where it acted, like a change made
with a slider.

Example:
    >>> plateau = ReduceOnPlateau(factor=0.5, patience=2).attach(lab)
    >>> lab.train(wait=True)
    >>> plateau.changes        # [(epoch, old lr, new lr), ...]
    >>> plateau.detach()
"""

from __future__ import annotations

import math
from typing import Any

from ..history import EpochRecord

__all__ = ["ReduceOnPlateau"]


def _trainer(obj: Any):
    trainer = getattr(obj, "trainer", obj)
    if not all(hasattr(trainer, a) for a in ("on_epoch", "off_epoch", "set", "wanted")):
        raise ValueError(f"a schedule attaches to a Lab or a Trainer; got {type(obj).__name__}.")
    return trainer


class ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when the monitored loss has not improved
    on its best by at least ``min_delta`` (a share) for ``patience`` epochs in a row: the
    rule of Keras's ``ReduceLROnPlateau``. It monitors the validation loss, or the training
    loss when the run has no validation data.

    Args:
        factor: In (0, 1). Defaults to 0.5.
        patience: Epochs without improvement before a cut, >= 1. Defaults to 2.
        min_delta: The share by which the loss must beat its best to count. Defaults to 0.01.
        min_lr: Never below this. Defaults to 1e-6.
        cooldown: Epochs after a cut before counting again. Defaults to 0.

    Raises:
        ValueError: a value outside the ranges above.
    """

    def __init__(self, factor: float = 0.5, patience: int = 2, min_delta: float = 0.01,
                 min_lr: float = 1e-6, cooldown: int = 0):
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1); got {factor!r}. Try 0.5.")
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"patience must be a whole number >= 1; got {patience!r}. Try 2.")
        if not 0 <= min_delta < 1:
            raise ValueError(f"min_delta must be in [0, 1); got {min_delta!r}. Try 0.01.")
        if not min_lr > 0:
            raise ValueError(f"min_lr must be > 0; got {min_lr!r}. Try 1e-6.")
        if not (isinstance(cooldown, int) and cooldown >= 0):
            raise ValueError(f"cooldown must be a whole number >= 0; got {cooldown!r}.")
        self.factor, self.patience, self.min_delta = float(factor), patience, float(min_delta)
        self.min_lr, self.cooldown = float(min_lr), cooldown
        #: Every cut made: (epoch after which it was made, old learning rate, new one).
        self.changes: list[tuple[int, float, float]] = []
        self._trainer = None
        self._reset()

    def _reset(self) -> None:
        self._best, self._waited, self._cooling, self._run = math.inf, 0, 0, None

    def attach(self, obj: Any) -> "ReduceOnPlateau":
        """Start acting on ``obj`` (a Lab or a Trainer) from its next epoch."""
        self.detach()
        self._trainer = _trainer(obj)
        self._trainer.on_epoch(self._on_epoch)
        return self

    def detach(self) -> None:
        """Stop acting; the learning rate stays where the schedule left it."""
        if self._trainer is not None:
            self._trainer.off_epoch(self._on_epoch)
        self._trainer = None

    def _on_epoch(self, record: EpochRecord) -> None:
        if record.run_id != self._run:  # a new run starts from its own best
            self._reset()
            self._run = record.run_id
        loss = record.val_loss if record.val_loss is not None else record.loss
        if loss is None or not math.isfinite(loss):
            return
        if loss < self._best * (1 - self.min_delta):
            self._best, self._waited = loss, 0
            return
        if self._cooling:
            self._cooling -= 1
            return
        self._waited += 1
        if self._waited < self.patience:
            return
        trainer = self._trainer
        lr = float(trainer.wanted.learning_rate)
        new = max(lr * self.factor, self.min_lr)
        if new < lr:
            trainer.set(learning_rate=new)
            self.changes.append((record.epoch, lr, new))
        self._waited, self._cooling = 0, self.cooldown
