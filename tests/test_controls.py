"""The Lab's controls: a log slider's snapped echo is not a move."""

from __future__ import annotations


def test_a_log_slider_snapping_an_exact_value_is_not_taken_as_a_move():
    """The browser snaps a FloatLogSlider to its step (0.003 -> 0.00316) and sends that
    back; the learner's exact value must survive the echo (seen in the real browser)."""
    from lstm_widgets import TrainConfig
    from lstm_widgets.ui.controls import ControlPanel

    panel = ControlPanel(TrainConfig())
    seen = []
    panel.on_change(lambda name, value: seen.append((name, value)))
    panel.lr_text.value = 0.003  # typed
    assert seen == [("learning_rate", 0.003)]
    slider = panel.settings["learning_rate"]
    slider.value = 10 ** -2.5  # the browser's snapped echo
    assert seen == [("learning_rate", 0.003)] and panel.lr_text.value == 0.003
    slider.value = 10 ** -2.0  # a real move by the learner
    assert seen[-1] == ("learning_rate", 0.01) and panel.lr_text.value == 0.01


def test_the_learning_rate_slider_reaches_the_rates_the_lessons_use():
    """Lesson 2 runs Adam at 1e-6: the slider read 1.0e-5 (its end) beside the exact box's
    1e-06, two numbers for one rate."""
    import math

    from lstm_widgets import TrainConfig
    from lstm_widgets.ui.controls import ControlPanel

    panel = ControlPanel(TrainConfig(learning_rate=1e-6))
    assert math.isclose(panel.settings["learning_rate"].value, 1e-6, rel_tol=1e-6)
    assert panel.lr_text.value == 1e-6
