"""``watch(model)``: instrument a user's own ``model.fit`` with a Keras callback.

The recording is done by :class:`lstm_widgets.engine.monitor.Monitor`; this module only
makes one and, in a notebook, shows the live view beside it. It imports no widget
unless ``display`` asks for the view.
"""

from __future__ import annotations

import logging
import sys
import types

from .engine._tf import keras
from .engine.monitor import NO_RECURRENT_NOTE, Monitor, check_probe_fits

__all__ = ["watch", "Monitor", "NO_RECURRENT_NOTE"]

log = logging.getLogger("lstm_widgets")


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def watch(model, probe=None, display: bool = True, stop_on_nan: bool = False) -> Monitor:
    """Watch a Keras model's own ``fit``: returns a Monitor to pass as a callback.

    Example:
        >>> monitor = lstm_widgets.watch(model, probe=(X_train[:64], y_train[:64]))
        >>> model.fit(X_train, y_train, epochs=10, callbacks=[monitor])
        >>> monitor.history.latest.value("grad_pre_max", "global")

    Args:
        model: A compiled Keras 3 model (TensorFlow backend): Sequential, functional or
            subclassed, with or without recurrent layers.
        probe: A small batch ``(X_sample, y_sample)`` for the gradient through time.
            Defaults to None (not measured).
        display: In a notebook, show live panels and the diagnosis below the cell; they
            update at the end of every epoch while ``fit`` runs. Ignored outside a
            Jupyter kernel. Defaults to True.
        stop_on_nan: Stop ``fit`` after the first epoch that diverges. Defaults to False.

    Raises:
        ValueError: ``model`` is not a Keras model, or ``probe`` is malformed or does not
            fit the model (time steps or features differ from its input shape).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"model must be a Keras 3 model (keras.Model, e.g. keras.Sequential); got "
            f"{type(model).__name__}. tf.keras (Keras 2) models are not supported."
        )
    monitor = Monitor(probe=probe, stop_on_nan=stop_on_nan)
    check_probe_fits(monitor._probe_xy, model)
    monitor.set_model(model)
    if display and _in_notebook():
        try:
            from .ui.monitor import show_monitor
        except ImportError as exc:  # the UI is optional for recording
            log.warning("lstm_widgets: live panels unavailable (%s); recording only.", exc)
        else:
            show_monitor(monitor)
    return monitor


class _CallableModule(types.ModuleType):
    """``lstm_widgets.watch`` names both this module and the function: importing the
    module (``from lstm_widgets.watch import watch``) makes Python set the package's
    ``watch`` attribute to the module, which would hide the function. Calling the module
    calls the function, so ``lstm_widgets.watch(model)`` works either way."""

    def __call__(self, *args, **kwargs):
        return watch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
