"""The IPython extension: ``%load_ext lstm_widgets`` registers ``%lstm_lab`` and ``%lstm_watch``.

Bad options never end in a traceback: they raise IPython's UsageError, which the
notebook shows as one red paragraph ("UsageError: ...").
"""

from __future__ import annotations

import argparse
import shlex

__all__ = ["load_ipython_extension", "lstm_lab", "lstm_watch", "LAB_HELP", "WATCH_HELP"]


class _OptionError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting the kernel."""

    def error(self, message):
        raise _OptionError(message)

    def exit(self, status=0, message=None):
        raise _OptionError(message or "")


def _lab_parser() -> _Parser:
    from .options import add_setting_arguments
    from .data import DATASETS, SERIES

    p = _Parser(prog="%lstm_lab", add_help=False, exit_on_error=False)
    p.add_argument("dataset", nargs="?", default="adding", choices=sorted(DATASETS) + sorted(SERIES))
    add_setting_arguments(p)
    p.add_argument("--train", action="store_true")
    return p


def _lab_help() -> str:
    from .options import options_help, options_usage

    return f"""Show a Lab: train an LSTM live and watch why its weights (do not) update.

Usage::

    %lstm_lab [DATASET] {options_usage()} [--train]

Options:
    DATASET            adding (default), echo, sine, multiscale, or a shipped real series:
                       seattle_weather, seattle_temps, sf_temps, treering, us_employment.
{options_help()}
    --train            Start training at once (otherwise click Train).

Example::

    %load_ext lstm_widgets
    %lstm_lab adding --lr 0.05 --clipnorm 1 --epochs 30 --train

Everything can be changed afterwards from the Lab's controls. To drive a Lab from
code, build it yourself: ``lab = lstm_widgets.ui.Lab("adding", learning_rate=0.05)``.
"""


LAB_HELP = _lab_help()

WATCH_HELP = """Watch a Keras model of the user namespace: returns a Monitor callback.

Usage::

    cb = %lstm_watch MODEL [--probe EXPR] [--no-display] [--stop-on-nan]
    model.fit(X_train, y_train, epochs=10, callbacks=[cb])

Options:
    MODEL          A compiled Keras 3 model (a name or expression in the namespace).
    --probe EXPR   A small batch (X, y) for the gradient through time, e.g.
                   "(X_train[:64], y_train[:64])". Defaults to none.
    --no-display   Record only; do not show live panels.
    --stop-on-nan  Stop fit after the first epoch whose loss or gradients are NaN/inf.

Live panels and the diagnosis appear below the cell and update at the end of every
epoch while ``fit`` runs. Same as ``cb = lstm_widgets.watch(MODEL)``.
"""


def _usage() -> dict[str, str]:
    from .options import options_usage

    return {
        "%lstm_lab": f"%lstm_lab [DATASET] {options_usage()} [--train]",
        "%lstm_watch": "cb = %lstm_watch MODEL [--probe EXPR] [--no-display] [--stop-on-nan]",
    }


_USAGE = _usage()


def _usage_error(magic: str, message: str, help_text: str = ""):
    from IPython.core.error import UsageError

    return UsageError(f"{magic}: {message}. Usage: {_USAGE[magic]}. Type {magic}? for every option.")


def _split(line: str, magic: str, help_text: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise _usage_error(magic, f"could not read the options ({exc})", help_text) from None


def lstm_lab(line: str = "", ipython=None):
    args_list = _split(line, "%lstm_lab", LAB_HELP)
    try:
        args = _lab_parser().parse_args(args_list)
    except (_OptionError, argparse.ArgumentError) as exc:
        raise _usage_error("%lstm_lab", str(exc).strip(), LAB_HELP) from None
    from .options import changes_from_arguments

    config = changes_from_arguments(args)
    try:
        from .config import TrainConfig

        TrainConfig().replace(**config)  # validate before loading the widgets and TensorFlow
    except ValueError as exc:
        raise _usage_error("%lstm_lab", str(exc).rstrip("."), LAB_HELP) from None
    from IPython.display import display

    from .ui import Lab

    lab = Lab(args.dataset, **config)
    display(lab)
    if args.train:
        lab.train()


lstm_lab.__doc__ = LAB_HELP


def lstm_watch(line: str = "", ipython=None):
    p = _Parser(prog="%lstm_watch", add_help=False, exit_on_error=False)
    p.add_argument("model")
    p.add_argument("--probe")
    p.add_argument("--no-display", dest="display", action="store_false")
    p.add_argument("--stop-on-nan", dest="stop_on_nan", action="store_true")
    try:
        args = p.parse_args(_split(line, "%lstm_watch", WATCH_HELP))
    except (_OptionError, argparse.ArgumentError) as exc:
        raise _usage_error("%lstm_watch", str(exc).strip(), WATCH_HELP) from None
    if ipython is None:
        from IPython import get_ipython

        ipython = get_ipython()

    def lookup(expr: str, what: str):
        try:
            return ipython.ev(expr)
        except Exception as exc:
            raise _usage_error(
                "%lstm_watch", f"{what} {expr!r} could not be evaluated ({type(exc).__name__}: {exc})", WATCH_HELP
            ) from None

    model = lookup(args.model, "MODEL")
    probe = lookup(args.probe, "--probe") if args.probe else None
    from .watch import watch

    try:
        return watch(model, probe=probe, display=args.display, stop_on_nan=args.stop_on_nan)
    except ValueError as exc:
        raise _usage_error("%lstm_watch", str(exc).rstrip("."), WATCH_HELP) from None


lstm_watch.__doc__ = WATCH_HELP


def load_ipython_extension(ipython) -> None:
    """Register ``%lstm_lab`` and ``%lstm_watch`` (``%load_ext lstm_widgets``)."""

    def _lab(line=""):
        return lstm_lab(line, ipython)

    def _watch(line=""):
        return lstm_watch(line, ipython)

    _lab.__doc__ = LAB_HELP
    _watch.__doc__ = WATCH_HELP
    ipython.register_magic_function(_lab, "line", "lstm_lab")
    ipython.register_magic_function(_watch, "line", "lstm_watch")
