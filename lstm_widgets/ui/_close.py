"""Closing a whole widget tree.

``Widget.close()`` closes one widget: a Box's children, a bqplot Figure's marks, axes and
scales stay registered with ipywidgets (which keeps every open widget for the kernel's
life), so closing a Lab's top box freed none of its ~150 widgets (about 1 MB per Lab,
measured by benchmarks/soak.py). ipywidgets has no recursive close; this walks the
synced traits (``widget.keys``) that hold widgets, in lists, tuples and dicts too.
"""

from __future__ import annotations

from ipywidgets import Widget

__all__ = ["close_tree"]


def _widgets_in(value):
    if isinstance(value, Widget):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _widgets_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _widgets_in(v)


def close_tree(*roots: Widget) -> int:
    """Close each root and every widget reachable from it through its synced traits.
    Returns how many were closed."""
    seen: set[int] = set()
    stack, closed = list(roots), 0
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        for name in list(getattr(w, "keys", ())):
            try:
                stack.extend(_widgets_in(getattr(w, name)))
            except Exception:  # a trait that cannot be read on a closed widget
                continue
        if w.comm is not None:
            w.close()
            closed += 1
    return closed
