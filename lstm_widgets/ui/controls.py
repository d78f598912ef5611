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
    Checkbox,
    Dropdown,
    FloatLogSlider,
    FloatSlider,
    FloatText,
    HBox,
    IntProgress,
    Layout,
    VBox,
)

from ..config import SETTING, SETTINGS, Setting, TrainConfig

__all__ = ["ControlPanel", "SETTING_CLASSES", "TOOLTIPS"]

log = logging.getLogger("lstm_widgets")

#: The settings the Lab shows a control for, in the table's order.
CONTROLLED = tuple(s.name for s in SETTINGS if s.control)
#: The CSS class of each setting's widget (stable; the browser tests use them).
SETTING_CLASSES = {name: f"lw-{name.replace('_', '-')}" for name in CONTROLLED}
SETTING_CLASSES["learning_rate"] = "lw-lr-slider"

#: One line per control: what it does and what is typical. The settings' lines come
#: from the table (config.SETTINGS); the buttons' are here.
TOOLTIPS = {name: SETTING[name].help for name in CONTROLLED}
TOOLTIPS.update({
    "learning_rate": SETTING["learning_rate"].help + " The slider is logarithmic, {lo:g}..{hi:g}.".format(
        lo=SETTING["learning_rate"].slider[0], hi=SETTING["learning_rate"].slider[1]),
    "learning_rate_text": "The exact learning rate; type any value in "
    + SETTING["learning_rate"].bounds_text().removeprefix("a number in ") + ", e.g. 3e-4.",
    "train": "Train for the set number of epochs, continuing the current run (a diverged run restarts).",
    "pause": "Hold training before the next batch; click again to resume.",
    "stop": "Stop before the next batch; the weights are kept, Train continues from them.",
    "restart": "Start a fresh run from the initial weights with a fresh optimizer, applying model changes.",
    "keep": "Pin the finished run as faded lines, so the next run is seen against it.",
    "clear": "Remove the kept runs' faded lines.",
    "checks": "Check a fresh copy of the model: is the loss at initialisation as expected, and can it fit one "
    "small batch? Tells weights that cannot move from weights that move to no use. Your run is not touched.",
})

#: How each slider reads out its value (presentation only; the bounds are in the table).
_READOUT = {"learning_rate": ".1e", "clip_threshold": ".3g", "momentum": ".2f", "pace": ".1f"}
_DESCRIPTION = {"learning_rate": "learning rate", "clip_threshold": "threshold", "batch_size": "batch size",
                "pace": "pace (s)", "scale_target": "scale target"}
_STYLE = {"description_width": "92px"}


def _sig(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant digits (slider positions are not exact)."""
    if not x or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def _on_slider(setting: Setting, value: float) -> float:
    """``value`` within what ``setting``'s slider can show."""
    lo, hi = setting.slider
    return min(max(value, lo), hi)


def _widget(setting: Setting, value: Any):
    """The widget for one setting of the table."""
    desc = _DESCRIPTION.get(setting.name, setting.name)
    # Style and layout given at construction: assigning them later leaves the default
    # ones open (ipywidgets keeps every open widget), about 30 per Lab.
    look = {"style": dict(_STYLE), "layout": {"width": "290px"}}
    if setting.kind == "choice":
        return Dropdown(options=list(setting.choices), value=value, description=desc, **look)
    if setting.kind == "int":
        return BoundedIntText(value=value, min=int(setting.low), max=int(setting.high), description=desc, **look)
    if setting.kind == "bool":
        return Checkbox(value=bool(value), description=desc, indent=False, **look)
    lo, hi = setting.slider
    fmt = _READOUT.get(setting.name, ".3g")
    # A slider reports its value when let go, not at every pixel of a drag: each
    # intermediate learning rate was applied to the run and piled up change markers.
    look["continuous_update"] = False
    if setting.log:
        return FloatLogSlider(
            value=_on_slider(setting, value), base=10, min=math.log10(lo), max=math.log10(hi), step=0.05,
            description=desc, readout_format=fmt, **look,
        )
    return FloatSlider(value=_on_slider(setting, value), min=lo, max=hi, step=0.01, description=desc,
                       readout_format=fmt, **look)


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
        clear_button, checks_button: The buttons (classes ``lw-train``, ``lw-pause``,
            ``lw-stop``, ``lw-restart``, ``lw-keep``, ``lw-clear-kept``, ``lw-first-checks``).
        progress, progress_text, status, restart_note: Read-outs (``lw-progress``,
            ``lw-progress-text``, ``lw-status``, ``lw-restart-note``).
    """

    def __init__(self, config: TrainConfig) -> None:
        self._quiet = 0
        #: The exact values behind the log sliders (the sliders show them snapped to a step).
        self._exact: dict[str, float] = {s.name: getattr(config, s.name) for s in SETTINGS if s.control and s.log}
        self._subs: list[Callable[[str, Any], Any]] = []
        s = {name: _widget(SETTING[name], getattr(config, name)) for name in CONTROLLED}
        self.lr_text = FloatText(value=config.learning_rate, description="exact lr", step=None,
                                 style=dict(_STYLE), layout={"width": "290px"})
        self.settings = s
        for name, w in s.items():
            w.add_class(SETTING_CLASSES[name])
            w.add_class("lw-setting")
            w.tooltip = TOOLTIPS[name]
            w.observe(lambda ch, name=name: self._changed(name, ch["new"]), names="value")
        self.lr_text.add_class("lw-lr-text")
        self.lr_text.tooltip = TOOLTIPS["learning_rate_text"]
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
        self.checks_button = button("First checks", "lw-first-checks", TOOLTIPS["checks"], "stethoscope")

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
        live = []
        for name in CONTROLLED:
            if SETTING[name].applies != "restart":
                live.append(s[name])
                if name == "learning_rate":
                    live.append(self.lr_text)
        model = [s[name] for name in CONTROLLED if SETTING[name].applies == "restart"]
        self.widget = VBox(
            [
                header("Training (applies live)"),
                *live,
                HBox([self.train_button, self.pause_button, self.stop_button, self.restart_button],
                     layout=Layout(flex_flow="row wrap", width="290px")),
                self.progress, self.progress_text, self.status,
                HBox([self.keep_button, self.clear_button], layout=Layout(flex_flow="row wrap", width="290px")),
                self.checks_button,
                header("Model (needs Restart)"),
                *model, self.restart_note,
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
                if name in self._exact:
                    self._exact[name] = value
                if name == "learning_rate":
                    self.lr_text.value = value
                if SETTING[name].slider is not None:
                    value = _on_slider(SETTING[name], value)
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
                    self.settings["learning_rate"].value = _on_slider(SETTING["learning_rate"], value)
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
