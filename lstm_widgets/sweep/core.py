"""Sweep: many training runs at once on Dask, each the same headless Trainer, their
records streamed back while they go on, one History per run."""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..config import TrainConfig
from ..data import SequenceData
from ..history import EpochRecord, History, RunSettings
from .grid import expand_grid

__all__ = ["Sweep", "SweepRun", "RUN_STATES"]

log = logging.getLogger("lstm_widgets")

#: A run's states: waiting for a worker, training, and how it ended ("failed": it raised,
#: or the workers running it died; the reason is in ``SweepRun.error``).
RUN_STATES = ("queued", "running", "finished", "diverged", "stopped", "failed")
_ENDED = frozenset({"finished", "diverged", "stopped", "failed"})
_POLL_S = 0.2


@dataclass
class SweepRun:
    """One run of a sweep.

    Attributes:
        index: Its position in the grid (0-based).
        config: Its settings.
        status: One of RUN_STATES.
        history: Its History: streamed while it trains, the worker's full record once it ends.
        findings: The diagnosis of the run (computed on the worker when it ended).
        error: Why it failed, or "".
        attempts: How many times it started (2 when its first worker died).
        streamed: Epoch records received from the worker while the run went on (its
            last attempt).
        worker: The address of the worker that ran it last.
        started, ended: ``time.time()`` when it began training and when it ended.
    """

    index: int
    config: TrainConfig
    status: str = "queued"
    history: History = field(default_factory=History)
    findings: list = field(default_factory=list)
    error: str = ""
    attempts: int = 0
    streamed: int = 0
    worker: str = ""
    started: float | None = None
    ended: float | None = None
    _token: str = ""

    @property
    def top_finding(self):
        """The most severe finding, or None before the run ends."""
        return self.findings[0] if self.findings else None

    @property
    def val_losses(self) -> list[float]:
        key = "val_loss" if any(r.val_loss is not None for r in self.history.records) else "loss"
        return [getattr(r, key) for r in self.history.records if getattr(r, key) is not None]


class Sweep:
    """Train every combination of ``grid`` (and seeds), as Dask tasks.

    Args:
        data: The SequenceData every run trains on (sent to the cluster once).
        grid: ``{setting: [values]}`` over TrainConfig's settings, e.g.
            ``{"optimizer": ["adam", "sgd"], "learning_rate": [1e-3, 1e-2, 1e-1]}``.
        base: The settings the runs share. Defaults to TrainConfig().
        seeds: Runs per combination (seeds base.seed, base.seed + 1, ...) or a list of
            seeds. Defaults to 1.
        client: None (an embedded LocalCluster sized to this machine, started on first
            use and reused), a scheduler address such as ``"tcp://127.0.0.1:8786"``, or a
            ``distributed.Client``.
        max_runs: Needed above 500 runs.

    Everything is validated here, before anything is submitted: an unknown setting, a bad
    value or an empty grid raises a ValueError that names it.

    Example:
        >>> sweep = Sweep(load_dataset("sine"), grid={"optimizer": ["adam", "sgd"],
        ...               "learning_rate": [1e-3, 1e-2]}, base=TrainConfig(epochs=10))
        >>> sweep.run(wait=True)
        >>> sweep.results.sort_values("best_val_loss").head()
    """

    def __init__(self, data: SequenceData, grid: Mapping[str, Sequence], base: TrainConfig | None = None,
                 seeds: Any = 1, client=None, max_runs: int | None = None):
        if not isinstance(data, SequenceData):
            raise ValueError(
                f"data must be a SequenceData; got {type(data).__name__}. Wrap arrays with "
                f"SequenceData(X_train, y_train, X_val, y_val), or use load_dataset(...)."
            )
        self.data = data
        self.base = TrainConfig() if base is None else base
        self.configs = expand_grid(grid, self.base, seeds, max_runs)
        #: The settings that vary between runs, in the grid's order (seed last when it varies).
        self.varying = [k for k in grid] + (["seed"] if "seed" not in grid and len({c.seed for c in self.configs}) > 1
                                            else [])
        self._client_arg = client
        self.runs = [SweepRun(i, c) for i, c in enumerate(self.configs)]
        self.where = ""  #: Where the runs go: the cluster and why it was chosen.
        self.error: BaseException | None = None  #: What stopped the sweep itself (no cluster...).
        self._subs: list[Callable[[], Any]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._started: float | None = None
        self._ended: float | None = None
        self._n_workers = 1

    # -- state ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.runs)

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def counts(self) -> dict[str, int]:
        """Runs per state: ``{"queued": n, "running": n, "finished": n, ...}``."""
        out = {s: 0 for s in RUN_STATES}
        for r in self.runs:
            out[r.status] += 1
        return out

    @property
    def ended(self) -> bool:
        """The last run() has ended (every run finished, stopped or failed)."""
        return self._ended is not None

    @property
    def done(self) -> int:
        return sum(r.status in _ENDED for r in self.runs)

    def time_left(self) -> float | None:
        """Seconds until every run has ended, from the runs that have (None before one has)."""
        took = [r.ended - r.started for r in self.runs if r.ended and r.started and r.status != "failed"]
        if not took:
            return None
        left = sum(r.status not in _ENDED for r in self.runs)
        running = [r for r in self.runs if r.status == "running" and r.started]
        per = sum(took) / len(took)
        now = time.time()
        ahead = sum(max(0.0, per - (now - r.started)) for r in running)
        queued = left - len(running)
        return (ahead + queued * per) / max(1, self._n_workers)

    def progress_text(self) -> str:
        """One line: runs done / running / queued / failed, time left."""
        c = self.counts
        if self.is_running and not self.where:
            return f"starting the Dask cluster for {len(self)} runs"
        ended = c["finished"] + c["diverged"] + c["stopped"]
        parts = [f"{ended + c['failed']}/{len(self)} runs done", f"{c['running']} running", f"{c['queued']} queued"]
        if c["diverged"]:
            parts.append(f"{c['diverged']} diverged")
        if c["failed"]:
            parts.append(f"{c['failed']} failed")
        left = self.time_left() if self.is_running else None
        if left is not None and c["queued"] + c["running"]:
            parts.append(f"about {_duration(left)} left")
        elif self._ended and self._started:
            parts.append(f"took {_duration(self._ended - self._started)}")
        return ", ".join(parts)

    def on_update(self, fn: Callable[[], Any]) -> Callable:
        """Call ``fn()`` (from the sweep's thread) whenever a run starts, records an epoch
        or ends. An exception in ``fn`` is logged; the sweep goes on."""
        self._subs.append(fn)
        return fn

    def _notify(self) -> None:
        for fn in list(self._subs):
            try:
                fn()
            except Exception:  # a display must never stop a sweep
                log.exception("lstm_widgets: a sweep subscriber raised")

    # -- control -------------------------------------------------------------------------
    def run(self, wait: bool = False, timeout: float | None = None) -> "Sweep":
        """Submit every run. Returns at once with ``wait=False`` (a notebook: the display
        fills in as runs go); blocks until all have ended with ``wait=True`` (scripts,
        headless notebooks), re-raising what stopped the sweep itself.

        Raises:
            RuntimeError: the sweep is already running.
        """
        with self._lock:
            if self.is_running:
                raise RuntimeError("This sweep is already running; a second run() would train every run twice. "
                                   "Wait for it (sweep.wait()) or stop it (sweep.stop()) first.")
            self._stop.clear()
            self.error = None
            self.runs = [SweepRun(i, c) for i, c in enumerate(self.configs)]
            self._started, self._ended = time.time(), None
            self._thread = threading.Thread(target=self._drive, name="lstm_widgets-sweep", daemon=True)
            self._thread.start()
        if wait:
            self.wait(timeout)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every run has ended; True if so, False on timeout. Re-raises what
        stopped the sweep itself (a run that fails is a result, not an error)."""
        t = self._thread
        if t is not None:
            t.join(timeout)
            if t.is_alive():
                return False
        if self.error is not None:
            raise RuntimeError(f"The sweep could not run: {self.error}") from self.error
        return True

    def stop(self, wait: bool = True, timeout: float | None = 60.0) -> None:
        """Cancel the queued runs and stop the running ones within an epoch (their
        records so far are kept, status "stopped")."""
        self._stop.set()
        if wait:
            t = self._thread
            if t is not None:
                t.join(timeout)

    # -- the sweep's thread ----------------------------------------------------------------
    def _drive(self) -> None:
        client = owned = None
        futures: dict = {}
        queue = stop_event = None
        try:
            from .cluster import resolve_client

            client, self.where, plan, owned = resolve_client(self._client_arg)
            self._notify()
            from distributed import Event, Queue

            from .task import run_one

            name = f"lstm-widgets-sweep-{uuid.uuid4().hex[:12]}"
            queue, stop_event = Queue(f"{name}-records", client=client), Event(f"{name}-stop", client=client)
            self._n_workers = max(1, sum(w.get("nthreads", 1) for w in
                                         client.scheduler_info(n_workers=-1)["workers"].values()))
            data = client.scatter(self.data, broadcast=True, hash=False)
            for r in self.runs:
                f = client.submit(run_one, data, r.config.to_dict(), r.index, queue.name, stop_event.name,
                                  key=f"{name}-run-{r.index}", pure=False)
                futures[f] = r
            stopping = False
            while futures:
                if self._stop.is_set() and not stopping:
                    stopping = True
                    stop_event.set()
                    queued = [f for f, r in futures.items() if r.status == "queued"]
                    client.cancel(queued)
                changed = self._drain(queue)
                for f in [f for f in futures if f.done()]:
                    self._finish(futures.pop(f), f)
                    changed = True
                if changed:
                    self._notify()
                else:
                    time.sleep(_POLL_S)
            self._drain(queue)
        except BaseException as exc:  # no cluster, a broken scheduler: the sweep's own error
            self.error = exc
            for r in self.runs:
                if r.status not in _ENDED:
                    r.status, r.error = "failed", f"the sweep stopped: {exc}"
        finally:
            self._ended = time.time()
            if queue is not None:
                try:
                    queue.close()
                except Exception:
                    pass
            if owned and client is not None:
                client.close()
            self._notify()

    def _drain(self, queue) -> bool:
        try:
            msgs = queue.get(batch=True)
        except Exception:
            return False
        for m in msgs:
            self._message(m)
        return bool(msgs)

    def _message(self, m: dict) -> None:
        r = self.runs[m["run"]]
        if m["kind"] == "record" and m["attempt"] == r._token:
            r.streamed += 1
        if r.status in _ENDED:
            return
        if m["kind"] == "begin":
            r._token, r.attempts, r.worker = m["attempt"], r.attempts + 1, m.get("worker", "")
            r.streamed = 0
            r.status, r.started = "running", time.time()
            h = History()  # a retry starts over: the first attempt's epochs are gone with its worker
            h.begin_run(1, RunSettings.from_config(r.config))
            r.history = h
        elif m["attempt"] == r._token and m["kind"] == "record":
            r.history.append(EpochRecord.from_dict(m["record"]))

    def _finish(self, r: SweepRun, future) -> None:
        r.ended = time.time()
        if future.status == "cancelled":
            r.status, r.error = "stopped", "stopped before it started"
            return
        exc = future.exception()
        if exc is not None:
            r.status, r.error = "failed", _failure(exc)
            return
        out = future.result()
        r.history = History.from_json(out["history"])
        r.findings, r.worker = list(out["findings"]), out.get("worker", r.worker)
        r.status = {"finished": "finished", "diverged": "diverged"}.get(out["status"], "stopped")
        if r.started is None:
            r.started = r.ended

    # -- results ---------------------------------------------------------------------------
    @property
    def histories(self) -> list[History]:
        """One History per run, in grid order."""
        return [r.history for r in self.runs]

    @property
    def results(self):
        """A pandas DataFrame, one row per run: ``run``, the settings that vary, then
        ``status``, ``epochs``, ``final_loss``, ``final_val_loss``, ``best_val_loss``,
        ``best_epoch``, ``diverged``, ``mean_baseline`` (the loss of always predicting
        the training mean, on the same split), ``vs_mean`` (best_val_loss as a share of
        it: 1 learned nothing), ``step_ratio`` (the mean per-step update
        ||ΔW_step||/||W|| of the last epoch), ``finding`` (the top finding's code),
        ``finding_title``, ``attempts``, ``error`` and every other setting."""
        import pandas as pd

        rows = []
        for r in self.runs:
            recs = [x for x in r.history.records if x.complete] or list(r.history.records)
            last = recs[-1] if recs else None
            vals = [x.val_loss if x.val_loss is not None else x.loss for x in recs]
            finite = [(v, x.epoch) for v, x in zip(vals, recs) if v is not None and math.isfinite(v)]
            best = min(finite) if finite else (math.nan, None)
            top = r.top_finding
            base = next((x.baseline_loss for x in reversed(recs) if x.baseline_loss), None) or math.nan
            row = {"run": r.index}
            row.update({k: getattr(r.config, k) for k in self.varying})
            row.update({
                "status": r.status,
                "epochs": len(recs),
                "final_loss": last.loss if last else math.nan,
                "final_val_loss": (last.val_loss if last and last.val_loss is not None else math.nan),
                "best_val_loss": best[0],
                "best_epoch": best[1],
                "diverged": r.status == "diverged",
                "mean_baseline": base,
                "vs_mean": best[0] / base if base and math.isfinite(best[0]) else math.nan,
                "step_ratio": (last.units.get("step_ratio_mean", {}).get("global", math.nan) if last else math.nan),
                "finding": top.code if top else "",
                "finding_title": top.title if top else "",
                "attempts": r.attempts,
                "error": r.error,
            })
            row.update({k: v for k, v in r.config.to_dict().items() if k not in row})
            rows.append(row)
        return pd.DataFrame(rows)

    def best(self, by: str = "best_val_loss") -> SweepRun:
        """The run with the lowest ``by`` ("best_val_loss", "final_val_loss" or
        "final_loss") among those that did not fail or diverge.

        Raises:
            ValueError: an unknown ``by``, or no run has a finite loss yet.
        """
        allowed = ("best_val_loss", "final_val_loss", "final_loss")
        if by not in allowed:
            raise ValueError(f"by must be one of {', '.join(map(repr, allowed))}; got {by!r}.")
        df = self.results
        ok = df[~df["status"].isin(["failed", "diverged"]) & df[by].notna()]
        if ok.empty:
            raise ValueError("No run has a finite loss yet: wait for runs to finish (sweep.wait()).")
        return self.runs[int(ok.loc[ok[by].idxmin(), "run"])]

    def report(self, path, title: str = "LSTM sweep report") -> str:
        """Write one self-contained HTML file: every run's validation curve, the loss over
        the settings, and the table of runs with their diagnosis. Returns the path."""
        from ..render.sweep_report import write_sweep_report

        return write_sweep_report(path, self, title=title)

    def _repr_mimebundle_(self, include=None, exclude=None):
        try:
            from ..ui.sweep_view import SweepView
        except ImportError:  # no widgets here: the text form
            return {"text/plain": repr(self)}
        view = SweepView(self)
        self._view = view  # keep it alive beside the sweep
        return view.widget._repr_mimebundle_(include=include, exclude=exclude)

    def __repr__(self) -> str:
        grid = ", ".join(f"{k}: {len({getattr(c, k) for c in self.configs})}" for k in self.varying)
        return f"Sweep({len(self)} runs over {grid}; {self.progress_text()})"


def _duration(s: float) -> str:
    s = max(0.0, s)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("the worker running it died, and again on the retry (out of memory, or killed); "
                f"Dask says: {exc}")
    text = str(exc)
    if "Training failed:" in text:
        text = text.split("Training failed:", 1)[1].strip()
    return f"{name}: {text}" if text else name
