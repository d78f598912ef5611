"""The first checks practitioners make before trusting a training run (Karpathy, "A Recipe
for Training Neural Networks", 2019): is the loss at initialisation what it should be,
and can the model drive the loss of ONE small batch near zero?

They separate "the weights are not updating" (even one batch cannot be fitted, and the
steps are tiny) from "the weights update but the model learns nothing that carries over"
(one batch is fitted easily, the full run stays at the baseline). They train a fresh copy
of the model with the same settings; the run being diagnosed is not touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..config import TrainConfig
from ..data import SequenceData
from ..diagnosis import thresholds as T
from ..scaling import SequenceScaler
from ._tf import compiled, tf
from .instrument import CLIP_MODE_IDS, clip_gradients
from .model import build_model, make_loss, make_optimizer

__all__ = ["FirstChecks", "first_checks", "INIT_BAND", "OVERFIT_SHARE"]

#: The initial loss is "as expected" within this factor of the loss of predicting 0:
#: a freshly initialised network's outputs lie near 0 (small output layer, LSTM states in
#: -1..1), so its loss is close to that of a constant 0.
INIT_BAND = (0.5, 2.0)
#: One batch counts as fitted when its loss falls to this share of where it started.
OVERFIT_SHARE = 0.1


@dataclass
class FirstChecks:
    """What the first checks found.

    Attributes:
        initial_loss: The untrained model's loss on the training data (up to 2048 samples).
        zero_loss: The loss of predicting 0 everywhere on the same samples: the expected
            initial loss.
        init_ok: ``initial_loss`` lies within INIT_BAND of ``zero_loss``.
        batch_size: Samples in the one batch trained on.
        steps: Steps taken on it.
        batch_losses: The batch's loss before each step (and after the last).
        update_per_step: The median update a step applied, ||ΔW|| / ||W|| (all weights).
        overfits: The batch's loss fell to OVERFIT_SHARE of its start or below.
        verdict: Plain language: what the two checks say together.
    """

    initial_loss: float
    zero_loss: float
    init_ok: bool
    batch_size: int
    steps: int
    batch_losses: list[float] = field(default_factory=list)
    update_per_step: float = math.nan
    overfits: bool = False
    verdict: str = ""

    @property
    def batch_ratio(self) -> float:
        """The batch's final loss over its first."""
        a, b = self.batch_losses[0], self.batch_losses[-1]
        return b / a if a > 0 and math.isfinite(b) else math.nan

    def lines(self) -> list[str]:
        ratio = self.initial_loss / self.zero_loss if self.zero_loss > 0 else math.nan
        return [
            f"Loss at initialisation: {self.initial_loss:.4g}, expected about {self.zero_loss:.4g} (the loss of "
            f"predicting 0; {ratio:.3g}x): " + ("as expected." if self.init_ok else "NOT as expected."),
            f"One batch of {self.batch_size}, {self.steps} steps: loss {self.batch_losses[0]:.4g} → "
            f"{self.batch_losses[-1]:.4g} ({self.batch_ratio:.3g}x), {self.update_per_step:.2g} of the weights' "
            f"size per step: " + ("fitted." if self.overfits else "NOT fitted."),
            self.verdict,
        ]

    def __repr__(self) -> str:
        return "First checks\n" + "\n".join(f"  {line}" for line in self.lines())

    def _repr_html_(self) -> str:
        import html

        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        return f"<div class='lw-first-checks'><b>First checks</b><ul>{items}</ul></div>"


def _verdict(init_ok: bool, overfits: bool, step: float, far_target: str = "") -> str:
    if not init_ok:
        head = ("The untrained model's loss is far from that of predicting 0: its first outputs are already "
                "large (look at the scale of the inputs and the target). ")
    else:
        head = ""
    if overfits:
        return head + ("The weights update and the model can fit one batch: it is able to learn. If the full "
                       "run stays at the baseline, what it learns does not carry over: look at the data (does the "
                       "target depend on what the model sees?), the lookback, and the other findings.")
    if step < T.UPDATE_RATIO_LOW:
        return head + (f"Even one batch is not fitted, and each step moves the weights by only {step:.2g} of their "
                       "size: the weights are not updating. Raise the learning rate, or loosen the clipping.")
    return head + far_target + ("The weights move, but even one batch is not fitted: the steps are not taking "
                                "the loss down (a learning rate too high for this problem, saturated gates from "
                                "unscaled data, or too small a model).")


def first_checks(config: TrainConfig, data: SequenceData, *, batch_size: int = 16, steps: int = 200) -> FirstChecks:
    """Run the first checks for ``config`` on ``data`` with a fresh model.

    Args:
        config: The settings to check (model, optimizer, learning rate, clipping, scaling).
        data: The raw SequenceData (scaled here as the Trainer would).
        batch_size: Samples in the batch to fit. Defaults to 16.
        steps: Steps to train on it. Defaults to 200.

    Raises:
        ValueError: ``config`` or ``data`` is not what it should be, or a bad count.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}.")
    if not isinstance(data, SequenceData):
        raise ValueError(f"data must be a SequenceData; got {type(data).__name__}.")
    for name, v, lo in (("batch_size", batch_size, 1), ("steps", steps, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be a whole number >= {lo}; got {v!r}. Try {16 if name == 'batch_size' else 200}.")
    scaler = SequenceScaler(config.scaler, config.scale_target).fit(data)
    X = scaler.transform_X(data.X_train)
    y = scaler.transform_y(data.y_train)
    model = build_model(config, data.n_timesteps, data.n_features, data.n_outputs)
    loss_fn = make_loss(config)
    n = min(len(X), 2048)
    initial = float(loss_fn(y[:n], model(X[:n], training=False)))
    zero = float(loss_fn(y[:n], np.zeros_like(y[:n])))
    init_ok = zero > 0 and INIT_BAND[0] <= initial / zero <= INIT_BAND[1]

    xb, yb = tf.constant(X[:batch_size]), tf.constant(y[:batch_size])
    opt = make_optimizer(config)
    tvars = model.trainable_variables
    opt.build(tvars)
    mode = tf.constant(CLIP_MODE_IDS[config.clipping], tf.int32)
    thr = tf.constant(config.clip_threshold, tf.float32)

    @compiled
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(tape.gradient(loss, tvars), tvars)]
        sq = tf.stack([tf.reduce_sum(tf.square(g)) for g in grads])
        clipped, _ = clip_gradients(grads, sq, mode, thr)
        before = [tf.identity(v) for v in tvars]
        opt.apply(clipped, tvars)
        d = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(v - b)) for v, b in zip(tvars, before)]))
        w = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(v)) for v in tvars]))
        return loss, d / tf.maximum(w, 1e-12)

    losses, ratios = [], []
    for _ in range(int(steps)):
        loss, ratio = step()
        losses.append(float(loss))
        ratios.append(float(ratio))
        if not math.isfinite(losses[-1]):
            break
    losses.append(float(loss_fn(yb, model(xb, training=False))))
    med = float(np.median(ratios)) if ratios else math.nan
    start, end = losses[0], losses[-1]
    overfits = start > 0 and math.isfinite(end) and end <= OVERFIT_SHARE * start
    far_target = ""
    offset = float(np.abs(yb.numpy().mean()))
    if config.optimizer != "sgd" and offset > len(ratios) * config.learning_rate:
        far_target = (f"The batch's targets average {offset:.3g} in the model's units, while "
                      f"{config.optimizer} moves the output bias by about the learning rate per step: "
                      f"{len(ratios)} x {config.learning_rate:g} = {len(ratios) * config.learning_rate:.3g} at most "
                      f"here, so scale the target (scale_target=True). ")
    return FirstChecks(initial, zero, init_ok, int(min(batch_size, len(X))), len(ratios), losses, med, overfits,
                       _verdict(init_ok, overfits, med, far_target))
