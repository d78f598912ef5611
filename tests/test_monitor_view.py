"""The live view watch() shows in a notebook."""

from __future__ import annotations

import lstm_widgets

from support.runs import user_model


def test_monitor_view_updates_panels(data):
    from lstm_widgets.ui.monitor import MonitorView

    model = user_model(clipnorm=1.0)
    X, y = data
    monitor = lstm_widgets.watch(model, probe=(X[:16], y[:16]), display=False)
    view = MonitorView(monitor)
    model.fit(X, y, epochs=2, callbacks=[monitor], verbose=0)
    assert len(view.update_times) == 2 and not monitor.subscriber_errors
    assert "epoch 2" in view.status.value and "clipnorm=1" in view.status.value
    assert view.panels["grad"]._version is not None
