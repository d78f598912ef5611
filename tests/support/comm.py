"""A recording comm: measure what widgets would send to a front end, without one.

ipywidgets 8 opens every widget's comm through ``comm.create_comm``. Inside
:func:`record_comms` that function returns a :class:`RecordingComm`, which serialises
each message as the kernel would (JSON for the state, raw bytes for binary buffers)
and keeps its size, instead of sending it anywhere. Used by the UI tests and by
``benchmarks/ui_cost.py``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any, Iterator

import comm as _comm_pkg
from comm.base_comm import BaseComm

__all__ = ["RecordingComm", "CommRecorder", "record_comms"]


def _json_default(obj: Any):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return None
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


class CommRecorder:
    """Message counts and sizes of every RecordingComm made while it is active.

    Attributes:
        messages: ``(comm_id, msg_type, n_bytes)`` for every message, in order.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def add(self, comm_id: str, msg_type: str, n_bytes: int) -> None:
        with self._lock:
            self.messages.append((comm_id, msg_type, n_bytes))

    @property
    def n_bytes(self) -> int:
        """Bytes of every message recorded so far (JSON text plus binary buffers)."""
        with self._lock:
            return sum(m[2] for m in self.messages)

    @property
    def n_messages(self) -> int:
        with self._lock:
            return len(self.messages)

    def mark(self) -> tuple[int, int]:
        """``(messages, bytes)`` so far, to subtract later with :meth:`since`."""
        with self._lock:
            return len(self.messages), sum(m[2] for m in self.messages)

    def since(self, mark: tuple[int, int]) -> tuple[int, int]:
        """``(messages, bytes)`` recorded after ``mark``."""
        n, b = self.mark()
        return n - mark[0], b - mark[1]


class RecordingComm(BaseComm):
    """A comm whose messages are serialised and measured, then dropped."""

    recorder: CommRecorder | None = None

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        text = json.dumps(
            {"data": data or {}, "metadata": metadata or {}}, default=_json_default, allow_nan=True
        )
        n = len(text.encode("utf-8")) + sum(memoryview(b).nbytes for b in (buffers or []))
        rec = self.recorder
        if rec is not None:
            rec.add(self.comm_id, msg_type, n)


@contextlib.contextmanager
def record_comms() -> Iterator[CommRecorder]:
    """Within the block, widgets created get a RecordingComm; yields its CommRecorder.

    Widgets made inside the block keep recording after it ends (their comm stays).
    """
    recorder = CommRecorder()

    # A subclass per block, so that even the comm_open message is recorded.
    comm_cls = type("RecordingComm", (RecordingComm,), {"recorder": recorder})

    def create_comm(*args, **kwargs):
        return comm_cls(*args, **kwargs)

    old = _comm_pkg.create_comm
    _comm_pkg.create_comm = create_comm
    try:
        yield recorder
    finally:
        _comm_pkg.create_comm = old
