"""The one recorder of EpochRecords: gate numbers add up to the variable's."""

from __future__ import annotations

import pytest

from support.runs import train as run


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recorded_gate_norms_add_up_to_the_variable_norm(sine, cell):
    # One step per epoch (batch = all samples), so each mean is that step's exact norm.
    t = run(sine, cell=cell, batch_size=len(sine.X_train), epochs=2, layers=2)
    rec = t.history.latest
    assert rec.steps == 1
    gated = t.history.structure.gated
    assert len(gated) == 6  # kernel, recurrent kernel, bias of two layers
    for var, gates in gated.items():
        assert list(rec.gates[var]) == gates
        for f_gate, f_var in [("grad_pre_mean", "grad_pre_mean"), ("weight_norm", "weight_norm"), ("delta_norm", "delta_norm")]:
            total = sum(rec.gates[var][g][f_gate] ** 2 for g in gates)
            assert total == pytest.approx(rec.units[f_var][var] ** 2, rel=1e-4)


def test_the_trainer_and_watch_write_records_of_one_layout(sine):
    """Both go through the one Recorder: the same record fields, one settings type (the
    Monitor leaves what it cannot know as None), one structure type."""
    from dataclasses import fields

    from support.runs import fit_watched, user_data, user_model

    from lstm_widgets.history import ModelStructure, RunSettings

    t = run(sine, epochs=1)
    m = fit_watched(user_model(clipnorm=1.0), user_data(), epochs=1)
    a, b = t.history.latest, m.history.latest
    assert type(a.settings) is type(b.settings) is RunSettings
    assert type(t.history.structure) is type(m.history.structure) is ModelStructure
    assert t.history.structure.source == "trainer" and m.history.structure.source == "watch"
    assert set(a.units) == set(b.units) and a.status == b.status == "ok"
    known = {f.name for f in fields(RunSettings) if getattr(a.settings, f.name) is not None}
    assert known == {f.name for f in fields(RunSettings)}  # the Trainer knows every setting
    assert b.settings.batch_size is None and b.settings.scaler is None and b.settings.clipping == "clipnorm"
