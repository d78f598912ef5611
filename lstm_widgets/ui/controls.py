"""ControlPanel: the Lab's left column of ipywidgets, kept in step with a TrainConfig.

The panel only shows settings and reports what the user changed
(:meth:`ControlPanel.on_change`); the Lab decides what to do with a change (send it to
the Trainer, or hold it for a restart) and calls :meth:`ControlPanel.show` to put a
widget back when a value was refused.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Callable

from ipywidgets import (
    HTML,
    BoundedIntText,
    Button,
    Dropdown,
    FloatLogSlider,
    FloatSlider,
    FloatText,
    HBox,
    IntProgress,
    Layout,
    VBox,
)

from ..config import CELLS, CLIPPING_MODES, OPTIMIZERS, SCALERS, TrainConfig

__all__ = ["ControlPanel", "SETTING_CLASSES", "TOOLTIPS"]

log = logging.getLogger("lstm_widgets")

#: The CSS class of each setting's widget (stable; the browser tests use them).
SETTING_CLASSES = {
    "optimizer": "lw-optimizer",
    "momentum": "lw-momentum",
    "learning_rate": "lw-lr-slider",
    "clipping": "lw-clipping",
    "clip_threshold": "lw-clip-threshold",
    "scaler": "lw-scaler",
    "epochs": "lw-epochs",
    "batch_size": "lw-batch-size",
    "units": "lw-units",
    "layers": "lw-layers",
    "cell": "lw-cell",
}

#: One line per control: what it does and what is typical.
TOOLTIPS = {
    "optimizer": "Update rule. Adam is the usual start for LSTMs; SGD needs a larger learning rate "
    "(~1e-2) and often momentum 0.9.",
    "momentum": "SGD only: share of the previous step kept in the next one. 0.9 is typical; 0 is plain SGD.",
    "learning_rate": "Step size, log scale 1e-5..1. Typical: 1e-3 for Adam/RMSprop/Nadam, 1e-2 for SGD. "
    "Too high explodes, too low barely moves the weights.",
    "learning_rate_text": "The exact learning rate; type any value in (0, 10], e.g. 3e-4.",
    "clipping": "Gradient clipping: clipnorm (each variable's norm), global_clipnorm (all together) or "
    "clipvalue (each element). Stops exploding gradients; does nothing for vanishing ones.",
    "clip_threshold": "Clipping threshold, in gradient-norm units (element units for clipvalue). "
    "clipnorm between 1 and 5 is a common start.",
    "scaler": "Input scaling fitted on the training split. standard (zero mean, unit std) is the usual "
    "choice; none leaves large raw features that saturate the gates.",
    "epochs": "Epochs per Train click. Changing it while training moves the end of the run.",
    "batch_size": "Samples per gradient step; applies from the next epoch. 32 is typical; smaller is noisier.",
    "units": "Units per recurrent layer (16-64 is typical here). Needs a Restart: a new model is built.",
    "layers": "Stacked recurrent layers (1-2 is typical). Needs a Restart: a new model is built.",
    "cell": "Recurrent cell: lstm, gru or simple_rnn (which shows vanishing gradients best). Needs a Restart.",
    "train": "Train for the set number of epochs, continuing the current run (a diverged run restarts).",
    "pause": "Hold training before the next batch; click again to resume.",
    "stop": "Stop before the next batch; the weights are kept, Train continues from them.",
    "restart": "Start a fresh run from the initial weights with a fresh optimizer, applying model changes.",
    "keep": "Pin the finished run as faded lines, so the next run is seen against it.",
    "clear": "Remove the kept runs' faded lines.",
}

_STYLE = {"description_width": "92px"}
_WIDE = Layout(width="290px")


def _sig(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant digits (slider positions are not exact)."""
    if not x or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


class ControlPanel:
    """Widgets for every TrainConfig setting, plus the run buttons, progress and status.

    Args:
        config: The settings to show first.

    Attributes:
        widget: The column to display (class ``lw-controls``).
        settings: ``{setting name: widget}``.
        lr_text: The exact learning-rate box (class ``lw-lr-text``), kept in step with
            the slider ``settings["learning_rate"]``.
        train_button, pause_button, stop_button, restart_button, keep_button,
        clear_button: The buttons (classes ``lw-train``, ``lw-pause``, ``lw-stop``,
            ``lw-restart``, ``lw-keep``, ``lw-clear-kept``).
        progress, progress_text, status, restart_note: Read-outs (``lw-progress``,
            ``lw-progress-text``, ``lw-status``, ``lw-restart-note``).
    """

    def __init__(self, config: TrainConfig) -> None:
        self._quiet = 0
        #: The exact values behind the log sliders (the sliders show them snapped to a step).
        self._exact: dict[str, float] = {"learning_rate": config.learning_rate, "clip_threshold": config.clip_threshold}
        self._subs: list[Callable[[str, Any], Any]] = []
        s: dict[str, Any] = {}
        s["optimizer"] = Dropdown(options=list(OPTIMIZERS), value=config.optimizer, description="optimizer")
        s["momentum"] = FloatSlider(
            value=min(config.momentum, 0.99), min=0.0, max=0.99, step=0.01, description="momentum",
            readout_format=".2f",
        )
        s["learning_rate"] = FloatLogSlider(
            value=min(max(config.learning_rate, 1e-5), 1.0), base=10, min=-5, max=0, step=0.05,
            description="learning rate", readout_format=".1e",
        )
        self.lr_text = FloatText(value=config.learning_rate, description="exact lr", step=None)
        s["clipping"] = Dropdown(options=list(CLIPPING_MODES), value=config.clipping, description="clipping")
        s["clip_threshold"] = FloatLogSlider(
            value=min(max(config.clip_threshold, 0.01), 100.0), base=10, min=-2, max=2, step=0.05,
            description="threshold", readout_format=".3g",
        )
        s["scaler"] = Dropdown(options=list(SCALERS), value=config.scaler, description="scaler")
        s["epochs"] = BoundedIntText(value=config.epochs, min=1, max=100_000, description="epochs")
        s["batch_size"] = BoundedIntText(value=config.batch_size, min=1, max=1_000_000, description="batch size")
        s["units"] = BoundedIntText(value=config.units, min=1, max=4096, description="units")
        s["layers"] = BoundedIntText(value=config.layers, min=1, max=16, description="layers")
        s["cell"] = Dropdown(options=list(CELLS), value=config.cell, description="cell")
        self.settings = s
        for name, w in s.items():
            w.add_class(SETTING_CLASSES[name])
            w.add_class("lw-setting")
            w.tooltip = TOOLTIPS[name]
            w.style = _STYLE
            w.layout = Layout(width="290px")
            w.observe(lambda ch, name=name: self._changed(name, ch["new"]), names="value")
        self.lr_text.add_class("lw-lr-text")
        self.lr_text.tooltip = TOOLTIPS["learning_rate_text"]
        self.lr_text.style = _STYLE
        self.lr_text.layout = Layout(width="290px")
        self.lr_text.observe(lambda ch: self._changed("learning_rate_text", ch["new"]), names="value")

        def button(desc, cls, tip, icon="", style=""):
            b = Button(description=desc, icon=icon, button_style=style, tooltip=tip, layout=Layout(width="140px"))
            b.add_class(cls)
            return b

        self.train_button = button("Train", "lw-train", TOOLTIPS["train"], "play", "success")
        self.pause_button = button("Pause", "lw-pause", TOOLTIPS["pause"], "pause")
        self.stop_button = button("Stop", "lw-stop", TOOLTIPS["stop"], "stop", "danger")
        self.restart_button = button("Restart", "lw-restart", TOOLTIPS["restart"], "refresh", "warning")
        self.keep_button = button("Keep run", "lw-keep", TOOLTIPS["keep"], "thumb-tack")
        self.clear_button = button("Clear kept", "lw-clear-kept", TOOLTIPS["clear"], "eraser")

        self.progress = IntProgress(value=0, min=0, max=config.epochs, layout=Layout(width="285px"))
        self.progress.add_class("lw-progress")
        self.progress.tooltip = "Epochs finished in this Train, out of the target."
        self.progress_text = HTML(self._muted(f"epoch 0/{config.epochs}"))
        self.progress_text.add_class("lw-progress-text")
        self.status = HTML(layout=Layout(width="290px"))
        self.status.add_class("lw-status")
        self.status.tooltip = "idle, training, paused, stopped, diverged, finished or error, and the last message."
        self.restart_note = HTML(self._muted("Model settings apply on Restart."), layout=Layout(width="290px"))
        self.restart_note.add_class("lw-restart-note")

        header = lambda text: HTML(f"<b style='color: var(--jp-ui-font-color1)'>{text}</b>")  # noqa: E731
        self.widget = VBox(
            [
                header("Training (applies live)"),
                s["optimizer"], s["momentum"], s["learning_rate"], self.lr_text,
                s["clipping"], s["clip_threshold"], s["scaler"], s["epochs"], s["batch_size"],
                HBox([self.train_button, self.pause_button, self.stop_button, self.restart_button],
                     layout=Layout(flex_flow="row wrap", width="290px")),
                self.progress, self.progress_text, self.status,
                HBox([self.keep_button, self.clear_button]),
                header("Model (needs Restart)"),
                s["units"], s["layers"], s["cell"], self.restart_note,
            ],
            layout=Layout(width="300px", min_width="300px", padding="0 8px 0 0"),
        )
        self.widget.add_class("lw-controls")
        self._update_visibility()

    # -- reading and writing ---------------------------------------------------------------
    @staticmethod
    def _muted(text: str) -> str:
        return f"<span style='color: var(--jp-ui-font-color2)'>{text}</span>"

    def on_change(self, fn: Callable[[str, Any], Any]) -> Callable:
        """Call ``fn(setting, value)`` when the user changes a setting's widget."""
        self._subs.append(fn)
        return fn

    @contextlib.contextmanager
    def quiet(self):
        """Within the block, widget changes are not reported to subscribers."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def show(self, config: TrainConfig, names=None) -> None:
        """Set the widgets to ``config``'s values (``names`` only, if given), silently."""
        with self.quiet():
            for name in names or self.settings:
                value = getattr(config, name)
                w = self.settings[name]
                if name == "learning_rate":
                    self.lr_text.value = value
                    self._exact[name] = value
                    value = min(max(value, 1e-5), 1.0)
                elif name == "clip_threshold":
                    self._exact[name] = value
                    value = min(max(value, 0.01), 100.0)
                elif name == "momentum":
                    value = min(value, 0.99)
                if w.value != value:
                    w.value = value
        self._update_visibility()

    def value(self, name: str) -> Any:
        """The value a setting's widget shows (the exact box for the learning rate)."""
        if name == "learning_rate":
            return self.lr_text.value
        return self.settings[name].value

    def _is_echo(self, name: str, value: float) -> bool:
        """True when a log slider's new value is only the browser snapping an exact value
        we set (e.g. 0.003) to the slider's step (0.00316), not a move by the learner:
        it lies within half a step, in log10 units, of that exact value."""
        exact = self._exact.get(name)
        if not exact or not value or exact <= 0 or value <= 0:
            return False
        slider = self.settings[name]  # a FloatLogSlider: min, max and step are exponents
        shown = min(max(exact, 10.0**slider.min), 10.0**slider.max)
        return abs(math.log10(value) - math.log10(shown)) < 0.5 * slider.step

    def _update_visibility(self) -> None:
        sgd = self.settings["optimizer"].value == "sgd"
        self.settings["momentum"].layout.display = None if sgd else "none"
        self.settings["clip_threshold"].disabled = self.settings["clipping"].value == "none"

    def _changed(self, name: str, value: Any) -> None:
        if name in ("optimizer", "clipping"):
            self._update_visibility()
        if self._quiet:
            return
        if name in ("learning_rate", "clip_threshold") and self._is_echo(name, value):
            return
        if name == "learning_rate":  # the slider: round to what a person would type
            value = _sig(value)
            with self.quiet():
                self.lr_text.value = value
        elif name == "learning_rate_text":
            name = "learning_rate"
            self._exact[name] = value
            with self.quiet():
                if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
                    self.settings["learning_rate"].value = min(max(value, 1e-5), 1.0)
        elif name == "clip_threshold":
            value = _sig(value)
        if name in ("learning_rate", "clip_threshold"):
            self._exact[name] = value
        for fn in list(self._subs):
            try:
                fn(name, value)
            except Exception:  # a handler bug must not break the widget
                log.exception("lstm_widgets: control handler failed for %s=%r", name, value)

    def set_buttons(self, state: str) -> None:
        """Enable/label the buttons for a trainer state."""
        running = state in ("training", "paused")
        self.pause_button.description = "Resume" if state == "paused" else "Pause"
        self.pause_button.icon = "play" if state == "paused" else "pause"
        self.pause_button.disabled = not running
        self.stop_button.disabled = not running
        self.keep_button.disabled = running
