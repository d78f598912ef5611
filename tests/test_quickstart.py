"""The quickstart notebook runs headless."""

from __future__ import annotations

import sys

import numpy as np
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# -- the quickstart notebook --------------------------------------------------------------------
@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_notebook_runs_headless():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and all(not c.get("outputs") for c in code)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\n"
            "lab.set(epochs=2)\n"
            "lab.train(wait=True)\n"
            "assert len(lab.history) == 2 and lab.state == 'finished', lab.status_text\n"
            "print(sys.executable, lab.status_text)"
        )
    )
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    lab_out = code[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in lab_out), lab_out
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(Path(sys.prefix)) in printed or ".venv" in printed, printed
    assert "finished" in printed


# -- the quickstart's "Things to try", each on the run it describes --------------------------------
@pytest.fixture(scope="module")
def quick_lab():
    """The quickstart's own Lab: Lab("adding") with its defaults."""
    from lstm_widgets.ui import Lab
    from support.comm import record_comms

    with record_comms():
        lab = Lab("adding")
        yield lab
        lab.close()


def _codes(lab) -> set[str]:
    return {f.code for f in lab.findings}


@pytest.mark.slow
def test_tip_1_sgd_at_lr_1_diverges_clipnorm_keeps_it_finite_but_not_learning_lr_01_trains(quick_lab):
    lab = quick_lab
    lab.set(optimizer="sgd", clipping="none", learning_rate=1.0)
    lab.restart(start=False)
    lab.train(wait=True, timeout=300)
    assert lab.state == "diverged"
    assert {"nonfinite", "exploding_gradients"} & _codes(lab)
    assert lab.keep_run() is not None
    lab.set(clipping="clipnorm", clip_threshold=1.0)
    lab.train(wait=True, timeout=300)  # a diverged run starts afresh
    assert lab.state == "finished" and all(np.isfinite(r.loss) for r in lab.history.run(lab.history.current_run))
    codes = _codes(lab)
    assert "lr_too_high" in codes and "healthy" not in codes, codes  # finite, yet it does not learn
    lab.set(learning_rate=0.1)
    lab.restart(start=False)
    lab.train(wait=True, timeout=300)
    assert lab.state == "finished" and "healthy" in _codes(lab), _codes(lab)
    lab.clear_kept()


@pytest.mark.slow
def test_tip_2_adam_at_1e5_hardly_moves_below_the_band_and_is_called_too_low(quick_lab):
    from lstm_widgets.diagnosis.stats import step_ratio
    from lstm_widgets.diagnosis.thresholds import HEALTHY_BAND

    lab = quick_lab
    lab.set(optimizer="adam", clipping="none", learning_rate=1e-5)
    lab.restart(start=False)
    lab.train(wait=True, timeout=300)
    run = lab.history.run(lab.history.current_run)
    assert (run[0].loss - run[-1].loss) / run[0].loss < 0.1  # the loss hardly moves
    assert all(step_ratio(r) < HEALTHY_BAND[0] for r in run)  # below the green band, every epoch
    assert "lr_too_low" in _codes(lab), _codes(lab)


@pytest.mark.slow
def test_tip_3_the_kept_lstm_reaches_back_the_simple_rnn_fades(quick_lab):
    from lstm_widgets.diagnosis.stats import gradient_reach

    lab = quick_lab
    lab.set(optimizer="adam", learning_rate=1e-3, cell="lstm")
    lab.restart(start=False)
    lab.train(wait=True, timeout=300)
    lstm = lab.history.latest.grad_through_time
    assert lab.keep_run() is not None
    lab.set(cell="simple_rnn")
    lab.restart(start=False)
    lab.train(wait=True, timeout=300)
    rnn = lab.history.latest.grad_through_time
    assert gradient_reach(lstm) == len(lstm)  # the whole sequence
    assert gradient_reach(rnn) < len(rnn) and rnn[0] / rnn[-1] < 1e-3  # orders of magnitude down at t = 0
    assert "vanishing_gradients" in _codes(lab), _codes(lab)
    lab.update()
    assert lab.panels["time"].kept_lines.visible
    lab.clear_kept()
    lab.set(cell="lstm")


@pytest.mark.slow
def test_tip_4_multiscale_unscaled_gets_no_gradient_and_standard_trains():
    from lstm_widgets.ui import Lab
    from support.comm import record_comms

    with record_comms():
        finals = {}
        for scaler in ("none", "standard"):
            lab = Lab("multiscale", scaler=scaler)
            try:
                lab.train(wait=True, timeout=300)
                rec = lab.history.latest
                finals[scaler] = (rec.val_loss, _codes(lab),
                                  [x["grad_pre_mean"] for gates in rec.gates.values() for x in gates.values()])
            finally:
                lab.close()
    val_none, codes_none, gates_none = finals["none"]
    val_std, codes_std, gates_std = finals["standard"]
    assert "unscaled_inputs" in codes_none
    assert max(gates_none) < 1e-9 * min(gates_std)  # billions of times smaller, every gate
    assert "healthy" in codes_std and val_std < val_none / 10
