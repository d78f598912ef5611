"""The optimizer hook behind ``watch()``: what a Keras 3 optimizer is doing, from inside.

Keras 3 optimizers clip inside ``optimizer.apply``; the TensorFlow trainer calls it from
the compiled train function with the pre-clip gradients, and
``_backend_apply_gradients(grads, variables)`` calls ``_clip_gradients(grads)`` (after
dropping variables without a gradient). :func:`install` wraps those two private methods
on the optimizer *instance*: the first remembers which variables the gradients belong
to, the second calls Keras's own clipping and hands the pre- and post-clip gradients to
a callback that adds them to in-graph accumulators. The train function is rebuilt when
the hook goes in and when it comes out; in between it stays (a flag in the graph pauses
the measuring between fits), so a Monitor's fit after fit is traced once.

Everything that depends on Keras's private methods is in this module, so a Keras
release that changes them breaks one place, with one clear error
(:class:`UnsupportedKeras`); the Trainer does not use the hook.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
from typing import Any, Callable

import numpy as np

from ..config import OPTIMIZER_CLASSES
from ..history import RunSettings
from ._tf import MIN_KERAS, keras, tf

__all__ = ["HOOKED_METHODS", "HOOKED_SIGNATURES", "Hook", "UnsupportedKeras", "check_optimizer", "install", "clip_mode", "settings_of", "inner"]

log = logging.getLogger("lstm_widgets")

#: The private Keras optimizer methods the hook wraps, with the parameters it calls them with
#: (Keras 3.12 to 3.15, the lowest declared and the newest tested: tests/test_keras_versions.py).
HOOKED_SIGNATURES = {
    "_clip_gradients": ("grads",),
    "_backend_apply_gradients": ("grads", "trainable_variables"),
}
HOOKED_METHODS = tuple(HOOKED_SIGNATURES)
_HOOK_ATTR = "_lstm_widgets_hook"
_OUR_NAME = {cls: name for name, cls in OPTIMIZER_CLASSES.items()}


class UnsupportedKeras(RuntimeError):
    """This Keras version's optimizer does not have the methods the hook wraps."""


def _unsupported(problem: str) -> UnsupportedKeras:
    version = keras.__version__
    # An older Keras than this one: the minor release before it, or (for a break within the
    # lowest declared minor release) the patch release before it.
    major_minor = ".".join(version.split(".")[:2])
    below = major_minor if _release(major_minor) > _release(MIN_KERAS) else version
    hooked = ", ".join(f"{name}({', '.join(params)})" for name, params in HOOKED_SIGNATURES.items())
    return UnsupportedKeras(
        f"lstm_widgets.watch() cannot instrument keras {version}: {problem}. watch() wraps the "
        f"private optimizer methods {hooked}, which this Keras changed. The Trainer and the Lab "
        f"do not use them and keep working. For watch(), install a Keras lstm_widgets was "
        f"tested with: pip install 'keras>={MIN_KERAS},<{below}'."
    )


def _release(version: str) -> tuple[int, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).release
    except InvalidVersion:
        return ()


def check_optimizer(optimizer) -> None:
    """Raise :class:`UnsupportedKeras`, naming the installed Keras, when ``optimizer``
    lacks a hooked method or one takes another number of parameters than the wrapper
    passes on (the names may change; Keras passes them by position)."""
    opt = inner(optimizer)
    for name, params in HOOKED_SIGNATURES.items():
        method = getattr(opt, name, None)
        if not callable(method):
            raise _unsupported(f"its optimizer ({type(opt).__name__}) has no {name}()")
        try:
            got = tuple(inspect.signature(method).parameters)
        except (TypeError, ValueError):  # a builtin or C method: nothing to compare
            continue
        if len(got) != len(params):
            raise _unsupported(f"its optimizer's {name} takes ({', '.join(got)}), not ({', '.join(params)})")


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


class Hook:
    """The wrappers on one model's optimizer. They stay installed from fit to fit, so a
    Monitor that records fit after fit costs one trace, not one per ``fit``: ``active`` (a
    variable the compiled step reads) turns the measuring on and off without retracing.
    :meth:`restore` takes the wrappers off and has the next ``fit`` trace the plain step."""

    def __init__(self, model, opt, clip: tuple[str, float | None], active, restore: Callable[[], None],
                 reached: list):
        self.model = model
        self._reached = reached
        self.optimizer = opt
        self.clip = clip
        self.active = active
        self._restore = restore
        self.installed = True

    @property
    def traces(self) -> int:
        """How many times the wrapped clipping was traced (or run eagerly)."""
        return len(self._reached)

    def holds(self, model) -> bool:
        """Still measuring this model's steps as Keras would take them now: the same
        optimizer, its wrappers in place, the clipping it was traced with."""
        opt = inner(getattr(model, "optimizer", None))
        return (
            self.installed and model is self.model and opt is self.optimizer
            and all(n in opt.__dict__ for n in HOOKED_METHODS) and clip_mode(opt) == self.clip
        )

    def pause(self) -> None:
        self.active.assign(False)

    def resume(self) -> None:
        self.active.assign(True)

    def restore(self) -> None:
        if self.installed:
            self.installed = False
            self._restore()


def install(model, on_step: Callable[[Any, list, list, list | None, tuple | None], None],
            on_error: Callable[[Exception], None]) -> Hook:
    """Wrap the model's optimizer so that every traced step calls
    ``on_step(optimizer, grads, clipped, variables, applied)`` in-graph, after the
    optimizer applied the step and only while the returned :class:`Hook` is active: the
    gradients before and after Keras's clipping, the variables they belong to and
    ``applied = (before, after)``, the variables' values before and after the step.
    Returns the Hook (active).

    ``variables`` and ``applied`` are None when the hook could not see which variables
    the gradients belong to (clipping called outside the optimizer's apply). An
    exception in ``on_step`` goes to ``on_error`` and never breaks ``fit``.

    Raises:
        UnsupportedKeras: the optimizer lacks a hooked method; the message names the
            installed Keras version. Raised from ``fit``'s first step instead when that
            step went through the optimizer without calling the wrapped ``_clip_gradients``
            (a Keras whose apply no longer calls it): every statistic would read zero, so
            watch() stops rather than report gradients that were never measured.
    """
    opt = inner(model.optimizer)
    check_optimizer(opt)
    previous = opt.__dict__.get(_HOOK_ATTR)
    if previous is not None:  # another Monitor's wrappers: one set measures at a time
        previous.restore()
    own = {n: opt.__dict__[n] for n in HOOKED_METHODS if n in opt.__dict__}
    orig_clip = opt._clip_gradients
    orig_apply = opt._backend_apply_gradients
    ctx = threading.local()
    reached: list[bool] = []
    active = tf.Variable(True, trainable=False, name="lstm_widgets_watching")

    def _measure(fn, *args) -> None:
        # In the compiled step: the callback's ops run only while the hook is active.
        def on():
            try:
                fn(*args)
            except Exception as exc:  # never break the user's fit over a statistic
                log.exception("lstm_widgets: could not instrument the training step")
                on_error(exc)
            return tf.constant(True)

        tf.cond(active, on, lambda: tf.constant(False))

    # A step's numbers are worked out in one tf.cond after the apply, not one per wrapper:
    # every node of a branch costs the executor its scheduling even when the branch is
    # not taken (dead tensors flow through it), so fewer, larger branches cost less,
    # paused or not. The weights before the step are read outside the cond: a read of a
    # small model's variables costs less than the cond that would skip it.
    def _backend_apply_gradients(grads, trainable_variables):
        variables = list(trainable_variables)
        ctx.variables, ctx.clip = variables, None
        before = [tf.identity(v) for v in variables]
        try:
            result = orig_apply(grads, trainable_variables)
            seen = ctx.clip  # (grads, clipped), set by _clip_gradients inside the apply
        finally:
            ctx.variables = ctx.clip = None

        if seen is not None:
            _measure(lambda: on_step(opt, seen[0], seen[1], variables, (before, [tf.identity(v) for v in variables])))
        return result

    def _clip_gradients(grads):
        reached.append(True)  # Python side effect: runs when the step is traced (or eagerly)
        clipped = orig_clip(grads)
        if getattr(ctx, "variables", None) is not None:
            ctx.clip = (list(grads), list(clipped))  # measured after the apply, in one cond
        else:  # called outside _backend_apply_gradients: which variable is which is unknown
            _measure(lambda: on_step(opt, list(grads), list(clipped), None, None))
        return clipped

    object.__setattr__(opt, "_clip_gradients", _clip_gradients)
    object.__setattr__(opt, "_backend_apply_gradients", _backend_apply_gradients)

    def restore():
        for n in HOOKED_METHODS:
            if n in own:
                object.__setattr__(opt, n, own[n])
            else:
                opt.__dict__.pop(n, None)
        if opt.__dict__.get(_HOOK_ATTR) is hook:
            opt.__dict__.pop(_HOOK_ATTR)
        # The compiled train function has the wrappers traced in: rebuild it, so the
        # next fit (with or without the Monitor) traces the plain step again.
        model.train_function = None

    # Keras built (and may have traced) the train function before on_train_begin; a
    # fresh one traces the wrappers in on its first call.
    model.make_train_function(force=True)
    traced = model.train_function

    def first_step(*args, **kwargs):
        # Keras's fit reads model.train_function at every step: after the first one, hand
        # it back its own function (no cost from here on) once the wrapper was reached.
        logs = traced(*args, **kwargs)
        if model.train_function is first_step:
            model.train_function = traced
        if not reached:
            hook.restore()
            raise _unsupported(
                "its optimizer's apply went through a training step without calling "
                "_clip_gradients()"
            )
        return logs

    model.train_function = first_step
    hook = Hook(model, opt, clip_mode(opt), active, restore, reached)
    object.__setattr__(opt, _HOOK_ATTR, hook)  # past Keras's attribute tracking
    return hook
