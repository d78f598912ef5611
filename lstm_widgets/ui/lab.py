"""Lab: a Trainer, its controls, live panels, a diagnosis and the equivalent Keras code.

Display a Lab in a notebook cell (``lab``) to see it; drive it from code with
``lab.train(wait=True)``, ``lab.set(learning_rate=1e-2)``, ``lab.stop()`` and friends.

Stable CSS classes of the Lab's DOM (set with ``widget.add_class``; the real-browser
tests select by them, so treat them as public):

=====================  ==================================================================
Class                  Element
=====================  ==================================================================
``lw-lab``             the Lab's root VBox
``lw-controls``        the left column of controls
``lw-setting``         every setting's widget (with one class of its own, below)
``lw-optimizer``       optimizer dropdown (adam, rmsprop, nadam, sgd)
``lw-momentum``        SGD momentum slider (shown for sgd only)
``lw-lr-slider``       learning-rate FloatLogSlider, 1e-5..1
``lw-lr-text``         exact learning-rate box, kept in step with the slider
``lw-clipping``        clipping dropdown (none, clipnorm, global_clipnorm, clipvalue)
``lw-clip-threshold``  clipping threshold FloatLogSlider, 0.01..100
``lw-scaler``          scaler dropdown (none, standard, minmax, minmax_sym, robust)
``lw-epochs``          epochs box
``lw-batch-size``      batch-size box
``lw-units``           units box (model; needs Restart)
``lw-layers``          layers box (model; needs Restart)
``lw-cell``            cell dropdown (model; needs Restart)
``lw-restart-note``    the note next to the model settings (pending changes)
``lw-train``           Train button
``lw-pause``           Pause/Resume button
``lw-stop``            Stop button
``lw-restart``         Restart button
``lw-keep``            Keep run button
``lw-clear-kept``      Clear kept button
``lw-progress``        progress bar
``lw-progress-text``   "epoch n/N · s/epoch · s left"
``lw-status``          status line; holds a ``<span class="lw-state lw-state-STATE">``
                       with STATE one of idle, training, paused, stopped, diverged,
                       finished, error, and ``<span class="lw-message">``
``lw-panels``          the grid of panels
``lw-panel``           every panel (with one class of its own, below)
``lw-panel-loss``      loss and val loss (log)
``lw-panel-grad``      gradient norm per layer before/after clipping + fraction clipped
``lw-panel-update``    update ratio per layer with the healthy band
``lw-panel-gates``     per-gate gradient norm and update ratio (W vs U)
``lw-panel-time``      gradient through time: line and epoch × t heat map
``lw-diagnosis``       the diagnosis panel
``lw-diagnosis-header`` its header line ("diagnosis not available" until it lands)
``lw-finding``         one finding's text (inner div ``lw-finding-SEVERITY``)
``lw-apply``           one finding's Apply button
``lw-code``            the Keras code view (an HTML ``<pre>``)
=====================  ==================================================================
"""

from __future__ import annotations

import functools
import html
import logging
import threading
import time
from collections import deque
from typing import Any

import numpy as np
from ipywidgets import HTML, Box, HBox, Layout, VBox

from ..config import ARCHITECTURE_FIELDS, TrainConfig
from ..data import DATASETS, SERIES, SequenceData, load_dataset
from ..diagnosis import CachedDiagnosis
from ._close import close_tree
from .controls import ControlPanel
from .panels import (
    CodeView,
    DiagnosisPanel,
    KeptRun,
    TimePanel,
    make_panels,
)

__all__ = ["Lab", "LAB_DATASET_DEFAULTS", "MAX_KEPT"]

log = logging.getLogger("lstm_widgets")

#: Dataset options the Lab uses unless ``dataset_options`` says otherwise: about 0.25 s
#: per epoch on two CPU cores with the default model (16 LSTM units, batch 32).
LAB_DATASET_DEFAULTS = {
    "adding": {"n_samples": 1024, "seq_len": 40},
    "sine": {"n_samples": 1024, "seq_len": 40},
    "multiscale": {"n_samples": 1024, "seq_len": 30},
    "echo": {"n_samples": 1024, "seq_len": 40},
}
#: Most runs kept as overlays at once (the oldest is dropped).
MAX_KEPT = 3
_DATASET_OPTIONS = ("n_samples", "seq_len", "val_fraction", "seed")
_END_STATES = ("stopped", "finished", "diverged", "error")
_ALREADY = (
    "already training: a second Train would race the first. Use Pause or Stop, or change settings live."
)
_STATE_COLOUR = {
    "idle": "var(--jp-ui-font-color2)",
    "training": "#2ca02c",
    "paused": "#ff7f0e",
    "stopped": "var(--jp-ui-font-color1)",
    "finished": "#1f77b4",
    "diverged": "#d62728",
    "error": "#d62728",
}


def _load_data(dataset: Any, data: Any, options: dict | None) -> SequenceData:
    if data is not None:
        if not isinstance(data, SequenceData):
            raise ValueError(
                f"data must be a SequenceData; got {type(data).__name__}. Wrap arrays with "
                f"lstm_widgets.SequenceData(X_train, y_train, X_val, y_val)."
            )
        if options:
            raise ValueError("dataset_options only apply to a built-in dataset; got data= as well. Pass one.")
        return data
    if isinstance(dataset, SequenceData):
        return dataset
    if not isinstance(dataset, str) or (dataset.lower() not in DATASETS and dataset.lower() not in SERIES):
        raise ValueError(
            f"dataset must be one of {', '.join(map(repr, list(DATASETS) + list(SERIES)))}; got {dataset!r}. "
            f"For your own arrays pass data=SequenceData(X_train, y_train, X_val, y_val)."
        )
    options = dict(options or {})
    unknown = sorted(set(options) - set(_DATASET_OPTIONS))
    if unknown:
        raise ValueError(
            f"dataset_options has unknown key(s) {', '.join(map(repr, unknown))}; the options are "
            f"{', '.join(_DATASET_OPTIONS)}."
        )
    name = dataset.lower()
    return _builtin(name, tuple(sorted({**LAB_DATASET_DEFAULTS.get(name, {}), **options}.items())))


@functools.lru_cache(maxsize=8)
def _builtin(name: str, options: tuple) -> SequenceData:
    """A built-in dataset, loaded once per kernel for every Lab that asks for it (a class
    builds one Lab per exercise, and each kept its own copy: 165 kB for sine). The arrays
    are read-only, so an edit in place cannot change another Lab's data unseen."""
    data = load_dataset(name, **dict(options))
    for a in (data.X_train, data.y_train, data.X_val, data.y_val):
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return data


class Lab:
    """Train an LSTM in the background and watch, diagnose and steer it from widgets.

    Args:
        dataset: A built-in dataset name: "adding", "sine" or "multiscale". Ignored when
            ``data`` is given. Defaults to "adding".
        data: Your own SequenceData to train on instead of a built-in dataset.
        dataset_options: Options for the built-in dataset: n_samples, seq_len,
            val_fraction, seed. Defaults to 1024 samples of 40 steps (30 for multiscale).
        **config: TrainConfig settings, e.g. ``learning_rate=1e-2, clipping="clipnorm"``.

    Raises:
        ValueError: an unknown dataset, dataset option or setting, or an invalid value.

    Example:
        >>> lab = Lab("adding", epochs=5)
        >>> lab.train(wait=True)
        >>> lab.history.latest.loss
    """

    def __init__(
        self,
        dataset: str | SequenceData = "adding",
        *,
        data: SequenceData | None = None,
        dataset_options: dict | None = None,
        **config: Any,
    ) -> None:
        self.data = _load_data(dataset, data, dataset_options)
        cfg = TrainConfig().replace(**config)
        from ..engine.trainer import Trainer  # loads TensorFlow

        self.trainer = Trainer(cfg, self.data)
        self._diagnosis = CachedDiagnosis(self.data)  # diagnose(history, data), once per version
        self._lock = threading.RLock()  # one writer at a time for panels and read-outs
        self.kept: list[KeptRun] = []
        self.message = ""
        self._state_message = ""  # the line the last state change showed
        self.update_times: deque[float] = deque(maxlen=200)

        self.controls = ControlPanel(cfg)
        self.panels = make_panels()
        self.diagnosis_panel = DiagnosisPanel(lambda h: self._diagnosis(h), on_apply=self._apply_finding)
        self.code_view = CodeView()
        self.checks_view = HTML(layout=Layout(width="400px"))
        self.checks_view.add_class("lw-first-checks-view")
        grid = Box(
            [p.widget for p in self.panels.values()] + [VBox([self.diagnosis_panel.widget, self.checks_view])],
            layout=Layout(display="flex", flex_flow="row wrap", align_items="flex-start", flex="1 1 auto",
                          grid_gap="4px"),
        )
        grid.add_class("lw-panels")
        self.widget = VBox([HBox([self.controls.widget, grid]), self.code_view.widget], layout=Layout(width="100%"))
        self.widget.add_class("lw-lab")

        c = self.controls
        c.on_change(self._on_control)
        c.train_button.on_click(lambda _b: self._safely(self.train))
        c.pause_button.on_click(lambda _b: self._safely(self._toggle_pause))
        c.stop_button.on_click(lambda _b: self._safely(lambda: self.stop(wait=False)))
        c.restart_button.on_click(lambda _b: self._safely(self.restart))
        c.keep_button.on_click(lambda _b: self._safely(self.keep_run))
        c.clear_button.on_click(lambda _b: self._safely(self.clear_kept))
        c.checks_button.on_click(lambda _b: self._safely(lambda: self.first_checks(wait=False)))
        self.trainer.on_epoch(self._on_epoch)
        self.trainer.on_state(self._on_state)
        self.trainer.on_change(self._on_change)
        c.set_buttons("idle")
        self._show_status("idle", "ready: click Train, or call lab.train(wait=True)")
        self._refresh_code()

    # -- display --------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"Lab(dataset={self.data.name!r}, state={self.state!r}, epochs recorded={len(self.history)})"

    # -- read-only views ------------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """The settings in force in the trainer."""
        return self.trainer.config

    @property
    def history(self):
        """The trainer's History."""
        return self.trainer.history

    @property
    def state(self) -> str:
        """The trainer's state: idle, training, paused, stopped, finished, diverged or error."""
        return self.trainer.state

    @property
    def findings(self) -> list:
        """The diagnosis of the latest run, most severe first (``[]`` before the first epoch)."""
        return self._diagnosis(self.history)

    @property
    def pending_restart(self) -> dict[str, Any]:
        """Model settings set but waiting for :meth:`restart`."""
        return self.trainer.pending_restart

    # -- running ----------------------------------------------------------------------------------
    def train(self, wait: bool = False, timeout: float | None = None) -> None:
        """Train in the background: ``config.epochs`` epochs of a new run, or, after
        Stop, the rest of the stopped Train's epochs, or ``config.epochs`` more of a
        finished run (the status line says which; Restart begins again).

        A diverged run starts afresh (its weights are not finite). While training already,
        nothing starts; the status line says so.

        Args:
            wait: Block until training ends (needed in a headless notebook run, which never
                renders the widgets). Defaults to False.
            timeout: With ``wait``, give up waiting after this many seconds. Defaults to None.
        """
        # Never hold the Lab's lock while joining the training thread: its callbacks take it.
        if self.trainer.is_running:
            self._say(_ALREADY)
            return
        if self.trainer.state == "diverged":
            self._say("the last run diverged: starting a fresh run from the initial weights")
            self._restart_now()
        else:
            note = f" ({self._arch_text()} waits for Restart)" if self.pending_restart else ""
            kind, start, end = self.trainer.next_train()
            try:
                self.trainer.start()
            except RuntimeError:  # another thread started it a moment ago
                self._say(_ALREADY)
                return
            # Say what this Train does to the run: a second Train on a finished run
            # carried on from its weights without a word.
            if kind == "new":
                text = f"training {end} epoch(s)"
            elif kind == "finish":
                text = (f"finishing the stopped Train: epochs {start + 1}-{end} of run {self.trainer.run_id} "
                        f"(Restart begins a new run from the initial weights)")
            else:
                text = (f"continuing run {self.trainer.run_id} from epoch {start}: {end - start} more epoch(s) on "
                        f"its trained weights (Restart begins again from the initial weights)")
            self._say(text + note)
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until training ends; True if it ended, False on timeout.

        Raises:
            RuntimeError: training ended with an error (the error is chained).
        """
        return self.trainer.wait(timeout)

    def pause(self) -> None:
        """Hold training before the next batch."""
        self.trainer.pause()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self.trainer.resume()

    def stop(self, wait: bool = True) -> None:
        """Stop before the next batch (weights kept; Train continues from them)."""
        self.trainer.stop(wait=wait)

    def restart(self, start: bool = True) -> None:
        """Stop, apply pending model settings (units, layers, cell), and begin a fresh run
        from the initial weights with a fresh optimizer (training it if ``start``)."""
        self._restart_now(start)

    def _restart_now(self, start: bool = True) -> None:
        self.trainer.stop(wait=True)  # outside the lock: the thread's last callbacks take it
        if self.pending_restart:
            self._say(f"restarting with {self._arch_text()}")
        self.trainer.restart(start=start)
        self._update_restart_note()
        self._refresh_code()
        self._update_progress()

    def _toggle_pause(self) -> None:
        if self.trainer.state == "paused":
            self.resume()
        else:
            self.pause()

    def first_checks(self, wait: bool = True, **options):
        """The first checks for the settings in force (pending ones included), on a fresh
        copy of the model: the loss at initialisation against its expected value, and
        whether one small batch can be fitted. The run itself is not touched.

        Args:
            wait: Block and return the result (headless notebooks, scripts); with False it
                runs in the background and the result appears below the diagnosis.
                Defaults to True.
            **options: ``batch_size`` and ``steps`` for
                :func:`lstm_widgets.engine.first_checks.first_checks`.

        Returns:
            The FirstChecks with ``wait``; None otherwise.
        """
        from ..engine.first_checks import first_checks

        config, data = self.trainer.wanted, self.data

        def run():
            self._show_checks("<i>First checks running on a fresh copy of the model…</i>")
            try:
                result = first_checks(config, data, **options)
            except Exception as exc:  # shown, never lost in a thread
                self._show_checks(f"<b>First checks failed:</b> {html.escape(f'{type(exc).__name__}: {exc}')}")
                if wait:
                    raise
                return None
            self._show_checks(result._repr_html_())
            return result

        if wait:
            return run()
        threading.Thread(target=run, name="lstm_widgets-first-checks", daemon=True).start()
        return None

    def _show_checks(self, value: str) -> None:
        with self._lock:
            if self.checks_view.value != value:
                self.checks_view.value = value

    def report(self, path, title: str = "LSTM training report") -> str:
        """Write a self-contained HTML report (settings, code, every panel, findings)."""
        from ..render.report import write_report

        return write_report(path, self.history, config=self.config, findings=self.findings, title=title)

    def snapshot(self, title: str = "", panels=("loss", "grad", "update")):
        """A frozen picture of the current run (plain HTML, no widget): display it right
        after the run a text describes, and later changes to the Lab leave it as it was.
        ``panels``: any of "loss", "grad", "update", "gates", "time"."""
        from IPython.display import HTML as Shown

        from ..render.snapshot import snapshot_html

        with self._lock:
            return Shown(snapshot_html(self.history, title=title, status=self.status_text, panels=panels))

    def close(self) -> None:
        """Stop training, hand the model's compiled steps back for the next Lab (see
        engine/bench.py) and close every widget of the Lab (ipywidgets keeps an open
        widget for the kernel's life)."""
        self.trainer.close()
        # the diagnosis rows not shown at the moment are in no box
        close_tree(self.widget, *(box for *_, box in self.diagnosis_panel._rows))

    # -- settings -----------------------------------------------------------------------------------
    def set(self, **changes: Any) -> TrainConfig:
        """Change settings: the widgets show them and the trainer applies them (before the
        next batch or epoch while training). Model settings (units, layers, cell, loss,
        seed) wait for :meth:`restart` once a run exists.

        Returns:
            The config the changes lead to (pending model settings included).

        Raises:
            ValueError: an unknown setting or an invalid value; nothing changes then.
        """
        with self._lock:
            wanted = self.trainer.set(**changes)  # validates all of them first
            self.controls.show(wanted, [n for n in changes if n in self.controls.settings])
            self._update_restart_note()
            if set(changes) & ARCHITECTURE_FIELDS and self.pending_restart:
                self._say(f"{self._arch_text()}: click Restart to build the new model")
            self._refresh_code()
            return wanted

    def _arch_text(self) -> str:
        cfg = self.trainer.config
        return ", ".join(f"{k} {getattr(cfg, k)} → {v}" for k, v in self.pending_restart.items())

    def _update_restart_note(self) -> None:
        if self.pending_restart:
            text = f"<span style='color:#ff7f0e'>Pending: {html.escape(self._arch_text())} — click Restart.</span>"
        else:
            text = "<span style='color: var(--jp-ui-font-color2)'>Model settings apply on Restart.</span>"
        if self.controls.restart_note.value != text:
            self.controls.restart_note.value = text

    def _on_control(self, name: str, value: Any) -> None:
        """A widget changed: send it to the trainer, or put the widget back and say why."""
        try:
            self.set(**{name: value})
        except ValueError as exc:
            self.controls.show(self.trainer.wanted, [name])
            self._say(str(exc), error=True)

    def _apply_finding(self, finding) -> None:
        patch = dict(getattr(finding, "patch", {}) or {})
        if not patch:
            return
        try:
            self.set(**patch)
        except ValueError as exc:
            self._say(f"could not apply {finding.title!r}: {exc}", error=True)
            return
        if set(patch) & ARCHITECTURE_FIELDS and self.pending_restart:
            self._say(f"applied {finding.title!r}; {self._arch_text()} needs Restart")
        else:
            self._say(f"applied {finding.title!r}: {', '.join(f'{k}={v!r}' for k, v in patch.items())}")

    def _refresh_code(self) -> None:
        cfg = self.trainer.wanted
        note = f"model change pending until Restart: {self._arch_text()}" if self.pending_restart else ""
        self.code_view.show(cfg.to_keras_code(self.data.n_timesteps, self.data.n_features), note)

    # -- compare ----------------------------------------------------------------------------------
    def keep_run(self) -> KeptRun | None:
        """Pin the latest finished run as faded lines on the loss, gradient and update panels."""
        with self._lock:
            if self.trainer.is_running:
                self._say("Keep run pins a finished run: Stop it or let it finish first")
                return None
            run_id = self.history.current_run
            records = self.history.run(run_id) if run_id is not None else []
            if not records:
                self._say("nothing to keep yet: train first")
                return None
            kept = KeptRun(f"run {run_id}", list(records), self.history.structure)
            self.kept = (self.kept + [kept])[-MAX_KEPT:]
            self._draw_kept()
            self._say(f"kept {kept.label} ({len(records)} epochs): the next run is drawn against it")
            return kept

    def clear_kept(self) -> None:
        """Remove the kept runs' overlays."""
        with self._lock:
            self.kept = []
            self._draw_kept()
            self._say("cleared the kept runs")

    def _draw_kept(self) -> None:
        for p in self.panels.values():
            if hasattr(p, "set_kept"):  # the time panels, and the gradient through time
                p.set_kept(self.kept)

    # -- trainer events (training thread, or the caller's thread) ------------------------------------
    def update(self) -> float:
        """Redraw every panel and the diagnosis from the History; returns seconds spent."""
        t0 = time.perf_counter()
        with self._lock:
            h = self.history
            for p in self.panels.values():
                p.update(h)
            self.diagnosis_panel.update(h)
        dt = time.perf_counter() - t0
        self.update_times.append(dt)
        return dt

    def _on_epoch(self, record) -> None:
        self.update()
        self._update_progress()

    def _on_state(self, state: str) -> None:
        with self._lock:
            self.controls.set_buttons(state)
            messages = {
                "training": None,
                "paused": "paused before the next batch: Resume to continue",
                "stopped": f"stopped after epoch {self.trainer.epoch}; Train continues from these weights",
                "finished": f"finished {self.trainer.epoch} epoch(s) of run {self.trainer.run_id}",
                "diverged": "the loss or a gradient became NaN/inf: lower the learning rate or turn on "
                "clipping, then Train (starts a fresh run)",
                "idle": "",
            }
            if state == "error":
                err = self.trainer.error
                msg = f"{type(err).__name__}: {err}" if err is not None else "training failed"
            else:
                msg = messages.get(state, "")
            if msg is None:  # training: keep what was said ("applied lr ..."), not a state's own line
                msg = "" if self.message == self._state_message else self.message
            self._state_message = msg
            self._show_status(state, msg)
            if state in _END_STATES:
                self.update()
                self._update_progress()

    def _on_change(self, marker) -> None:
        with self._lock:
            self._refresh_code()
            self._say(f"applied {marker.label} at epoch {marker.position:.1f}")
            for p in self.panels.values():
                if isinstance(p, TimePanel):
                    p.update(self.history)

    # -- read-outs ------------------------------------------------------------------------------------
    def _safely(self, fn) -> None:
        """Run a button's action; an error lands in the status line, not in a lost traceback."""
        try:
            fn()
        except Exception as exc:
            log.exception("lstm_widgets: button action failed")
            self._say(f"{type(exc).__name__}: {exc}", error=True)

    def _say(self, message: str, error: bool = False) -> None:
        self._show_status(self.trainer.state, message, error)

    def _show_status(self, state: str, message: str, error: bool = False) -> None:
        with self._lock:
            self.message = message
            colour = _STATE_COLOUR.get(state, "var(--jp-ui-font-color1)")
            msg_colour = "#d62728" if error else "var(--jp-ui-font-color1)"
            value = (
                f"<span class='lw-state lw-state-{state}' style='color:{colour}; font-weight:bold'>{state}</span>"
                + (f" <span class='lw-message' style='color:{msg_colour}'>— {html.escape(message)}</span>"
                   if message else "")
            )
            if self.controls.status.value != value:
                self.controls.status.value = value

    @property
    def status_text(self) -> str:
        """The status line as plain text, e.g. "training — applied lr 0.001 → 0.01"."""
        return f"{self.trainer.state} — {self.message}" if self.message else self.trainer.state

    def _update_progress(self) -> None:
        with self._lock:
            n = self.trainer.epoch
            total = max(self.trainer.target_epoch, n, 1) if self.trainer.run_id else self.trainer.wanted.epochs
            recs = [r for r in self.history.records[-5:] if r.run_id == self.trainer.run_id]
            text = f"epoch {n}/{total}"
            if recs:
                per = sum(r.time_s for r in recs) / len(recs)
                text += f" · {per:.2f} s/epoch"
                pace = self.trainer.config.pace
                if pace > per:  # the epoch waits for the pace: say so, and count the wait
                    text += f" (paced to {pace:g} s)"
                if self.trainer.state in ("training", "paused"):  # not after a stop or a divergence
                    text += f" · {max(total - n, 0) * max(per, pace):.0f} s left"
            p = self.controls.progress
            with p.hold_sync():
                p.max = total
                p.value = min(n, total)
            value = self.controls._muted(text)
            if self.controls.progress_text.value != value:
                self.controls.progress_text.value = value
