"""Command-line options generated from the table of settings (:data:`.config.SETTINGS`):
those of ``lstm-widgets diagnose`` and the ``%lstm_lab`` magic (one value per setting,
clipping as ``--clipnorm T``), and those of ``lstm-widgets sweep`` (comma-separated
values to sweep). Values are validated by TrainConfig, not by argparse, so the messages
are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from .config import CLIPPING_MODES, SETTINGS, Setting

__all__ = [
    "CLIP_FLAGS",
    "add_setting_arguments",
    "changes_from_arguments",
    "options_help",
    "options_usage",
    "sweep_flag",
    "add_grid_arguments",
    "grid_from_arguments",
]


# -- command-line options (the CLI and the %lstm_lab magic) ------------------------------

#: One flag per clipping mode: ``--clipnorm T`` sets clipping="clipnorm", clip_threshold=T.
CLIP_FLAGS = {mode: "--" + mode.replace("_", "-") for mode in CLIPPING_MODES if mode != "none"}
_ARG_TYPE = {"float": float, "int": int}


def add_setting_arguments(parser) -> None:
    """Add one option per setting that has flags (and the clipping flags) to an
    argparse parser; :func:`changes_from_arguments` turns the parsed result into
    TrainConfig changes. Values are validated by TrainConfig, not by argparse, so the
    messages are the same everywhere."""
    for s in SETTINGS:
        if not s.flags:
            continue
        kw: dict[str, Any] = {"dest": s.name, "default": None, "help": s.help_with_default()}
        if s.kind == "bool":
            kw["action"] = "store_true"
        elif s.kind == "choice":
            kw["choices"] = s.choices
        else:
            kw["type"] = _ARG_TYPE[s.kind]
            kw["metavar"] = s.short.upper() or s.name.upper()
        parser.add_argument(*s.flags, **kw)
    group = parser.add_mutually_exclusive_group()
    for mode, flag in CLIP_FLAGS.items():
        group.add_argument(
            flag, dest=mode, type=float, default=None, metavar="T",
            help=f"Clip gradients with {mode} at threshold T. Default: no clipping.",
        )


def changes_from_arguments(args) -> dict[str, Any]:
    """The TrainConfig changes an argparse result of :func:`add_setting_arguments` asks for."""
    changes = {
        s.name: getattr(args, s.name)
        for s in SETTINGS
        if s.flags and getattr(args, s.name, None) not in (None, False)
    }
    for mode in CLIP_FLAGS:
        if getattr(args, mode, None) is not None:
            changes["clipping"] = mode
            changes["clip_threshold"] = getattr(args, mode)
    return changes


def options_help() -> str:
    """The options of :func:`add_setting_arguments`, one line each, for a help text."""
    rows = []
    for s in SETTINGS:
        if s.flags:
            arg = "" if s.kind == "bool" else " " + (s.short.upper() or s.name.upper())
            rows.append((s.flags[0] + arg, s.help_with_default()))
    for mode, flag in CLIP_FLAGS.items():
        rows.append((f"{flag} T", f"Clip gradients with {mode} at threshold T (one mode at a time)."))
    width = max(len(a) for a, _ in rows) + 2
    return "\n".join(f"    {a.ljust(width)}{h}" for a, h in rows)


def options_usage() -> str:
    """A one-line usage of the options, e.g. "[--optimizer NAME] [--lr LR] ..."."""
    parts = []
    for s in SETTINGS:
        if s.flags:
            arg = "" if s.kind == "bool" else " " + (s.short.upper() or s.name.upper())
            parts.append(f"[{s.flags[0]}{arg}]")
    parts.append("[" + " | ".join(f"{f} T" for f in CLIP_FLAGS.values()) + "]")
    return " ".join(parts)


# -- sweep options (``lstm-widgets sweep``): every setting takes a comma-separated list ----
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def sweep_flag(s: Setting) -> str:
    """The sweep command's flag of a setting: its own first long flag (``--lr`` is
    ``--learning-rate`` there), else ``--name-with-dashes`` (``--clipping``,
    ``--clip-threshold``)."""
    longs = [f for f in s.flags if f.startswith("--")]
    named = "--" + s.name.replace("_", "-")
    return named if named in longs or not longs else longs[0]


def add_grid_arguments(parser) -> None:
    """One option per setting for ``lstm-widgets sweep``: ``--optimizer adam,sgd``
    sweeps the values listed, a single value sets it for every run."""
    for s in SETTINGS:
        flags = [sweep_flag(s)] + [f for f in s.flags if f != sweep_flag(s)]
        what = " or ".join(s.choices) if s.kind == "choice" else ("true,false" if s.kind == "bool" else s.kind)
        parser.add_argument(*flags, dest=s.name, default=None, metavar="V[,V...]",
                            help=f"{s.help} Values ({what}), comma-separated to sweep them. "
                                 f"Default: {s.default!r}.")


def _parse_value(s: Setting, text: str) -> Any:
    t = text.strip()
    if s.kind == "bool":
        if t.lower() in _TRUE:
            return True
        if t.lower() in _FALSE:
            return False
        raise ValueError(f"{sweep_flag(s)}: {t!r} is not true or false.")
    if s.kind in _ARG_TYPE:
        try:
            return _ARG_TYPE[s.kind](t)
        except ValueError:
            raise ValueError(f"{sweep_flag(s)}: {t!r} is not {'a whole number' if s.kind == 'int' else 'a number'}; "
                             f"{s.name} must be {s.bounds_text()}.") from None
    return t


def grid_from_arguments(args) -> tuple[dict[str, list], dict[str, Any]]:
    """``(grid, base changes)`` from :func:`add_grid_arguments`' parsed options: a
    setting given several values goes into the grid, one value into every run's base.

    Raises:
        ValueError: a value that is not of the setting's kind (each value is then
            validated by TrainConfig, with the same messages as everywhere).
    """
    grid: dict[str, list] = {}
    base: dict[str, Any] = {}
    for s in SETTINGS:
        raw = getattr(args, s.name, None)
        if raw is None:
            continue
        values = [_parse_value(s, part) for part in str(raw).split(",") if part.strip()]
        if not values:
            raise ValueError(f"{sweep_flag(s)}: no value given.")
        if len(values) == 1:
            base[s.name] = values[0]
        else:
            grid[s.name] = values
    return grid, base
