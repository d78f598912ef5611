"""The optimizer hook behind ``watch()``: what a Keras 3 optimizer is doing, from inside.

Keras 3 optimizers clip inside ``optimizer.apply``; the TensorFlow trainer calls it from
the compiled train function with the pre-clip gradients, and
``_backend_apply_gradients(grads, variables)`` calls ``_clip_gradients(grads)`` (after
dropping variables without a gradient). :func:`install` wraps those two private methods
on the optimizer *instance*: the first remembers which variables the gradients belong
to, the second calls Keras's own clipping and hands the pre- and post-clip gradients to
a callback that adds them to in-graph accumulators. The train function is rebuilt when
the hook goes in and when it comes out, so the wrappers are traced in and out again.

Everything that depends on Keras's private methods is in this module, so a Keras
release that changes them breaks one place, with one clear error
(:class:`UnsupportedKeras`); the Trainer does not use the hook.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Callable

import numpy as np

from ..config import OPTIMIZER_CLASSES
from ..history import RunSettings
from ._tf import keras, tf

__all__ = ["HOOKED_METHODS", "UnsupportedKeras", "install", "clip_mode", "settings_of", "inner"]

log = logging.getLogger("lstm_widgets")

#: The private Keras optimizer methods the hook wraps.
HOOKED_METHODS = ("_clip_gradients", "_backend_apply_gradients")
_OUR_NAME = {cls: name for name, cls in OPTIMIZER_CLASSES.items()}


class UnsupportedKeras(RuntimeError):
    """This Keras version's optimizer does not have the methods the hook wraps."""


def inner(optimizer):
    """The optimizer doing the work (a LossScaleOptimizer unwrapped)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def clip_mode(optimizer) -> tuple[str, float | None]:
    """Which clipping Keras's ``_clip_gradients`` applies, in its own order of precedence."""
    for mode in ("clipnorm", "global_clipnorm", "clipvalue"):
        t = getattr(optimizer, mode, None)
        if t and t > 0:
            return mode, float(t)
    return "none", None


def settings_of(optimizer) -> RunSettings:
    """The settings in force, read from a Keras optimizer. What a user's ``fit`` does
    not show the optimizer (scaler, batch size, the model's settings) stays None."""
    opt = inner(optimizer)
    cls = type(opt).__name__
    try:
        lr = float(f"{float(np.asarray(opt.learning_rate)):.6g}")  # float32 noise off
    except Exception:  # an exotic schedule: record what we cannot read as NaN
        lr = math.nan
    mode, threshold = clip_mode(opt)
    return RunSettings(
        optimizer=_OUR_NAME.get(cls, cls.lower()),
        optimizer_class=cls,
        learning_rate=lr,
        lr_schedule=isinstance(getattr(opt, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule),
        momentum=float(getattr(opt, "momentum", 0.0) or 0.0),
        nesterov=bool(getattr(opt, "nesterov", False)),
        clipping=mode,
        clip_threshold=None if threshold is None else float(f"{threshold:.6g}"),
    )


def install(model, on_step: Callable[[Any, list, list, list | None], None],
            on_error: Callable[[Exception], None],
            on_apply: Callable[[list, list, list], None] | None = None) -> Callable[[], None]:
    """Wrap the model's optimizer so that every traced step calls
    ``on_step(optimizer, grads, clipped, variables)`` with the gradients before and after
    Keras's clipping, and ``on_apply(variables, before, after)`` with the variables'
    values before and after the optimizer applied the step (both in-graph); returns
    ``restore()``.

    ``variables`` is None when the hook could not see which variables the gradients
    belong to. An exception in a callback goes to ``on_error`` and never breaks ``fit``.

    Raises:
        UnsupportedKeras: the optimizer lacks a hooked method; the message names the
            installed Keras version.
    """
    opt = inner(model.optimizer)
    for name in HOOKED_METHODS:
        if not callable(getattr(opt, name, None)):
            raise UnsupportedKeras(
                f"lstm_widgets.watch() cannot instrument this Keras: its optimizer has no {name}() "
                f"(installed: keras {keras.__version__}; watch() hooks {', '.join(HOOKED_METHODS)}). "
                f"The Trainer and the Lab do not need the hook and keep working; for watch(), "
                f"install a Keras version lstm_widgets declares (see its pyproject.toml)."
            )
    own = {n: opt.__dict__[n] for n in HOOKED_METHODS if n in opt.__dict__}
    orig_clip = opt._clip_gradients
    orig_apply = opt._backend_apply_gradients
    ctx = threading.local()

    def _backend_apply_gradients(grads, trainable_variables):
        variables = list(trainable_variables)
        ctx.variables = variables
        before = [tf.identity(v) for v in variables] if on_apply is not None else None
        try:
            result = orig_apply(grads, trainable_variables)
        finally:
            ctx.variables = None
        if on_apply is not None:
            try:
                on_apply(variables, before, [tf.identity(v) for v in variables])
            except Exception as exc:  # never break the user's fit over a statistic
                log.exception("lstm_widgets: could not measure the applied update")
                on_error(exc)
        return result

    def _clip_gradients(grads):
        clipped = orig_clip(grads)
        try:
            on_step(opt, list(grads), list(clipped), getattr(ctx, "variables", None))
        except Exception as exc:  # never break the user's fit over a statistic
            log.exception("lstm_widgets: could not instrument the gradients")
            on_error(exc)
        return clipped

    object.__setattr__(opt, "_clip_gradients", _clip_gradients)
    object.__setattr__(opt, "_backend_apply_gradients", _backend_apply_gradients)

    def restore():
        for n in HOOKED_METHODS:
            if n in own:
                object.__setattr__(opt, n, own[n])
            else:
                opt.__dict__.pop(n, None)
        # The compiled train function has the wrappers traced in: rebuild it, so the
        # next fit (with or without the Monitor) traces the plain step again.
        model.train_function = None

    # Keras built (and may have traced) the train function before on_train_begin; a
    # fresh one traces the wrappers in on its first call.
    model.make_train_function(force=True)
    return restore
