"""The IPython extension (%lstm_lab, %lstm_watch) in a real kernel."""

from __future__ import annotations

import re
from pathlib import Path


# -- the IPython extension in a real kernel --------------------------------------------------------
def _run_cells(cells):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env_cwd = str(Path(__file__).resolve().parents[1])
    NotebookClient(nb, timeout=240, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": env_cwd}}).execute()
    return nb.cells


def _text(outputs, kinds=("stream", "error")):
    out = []
    for o in outputs:
        if o.output_type == "error":
            out.append(f"ERROR {o.ename}: {o.evalue}")
        elif o.output_type == "stream":
            out.append(o.text)
    return "\n".join(out)


def _tf_noise(text: str) -> str:
    return "\n".join(l for l in text.splitlines() if not re.match(r"^(WARNING: All log messages|I0000|W0000)", l))


def test_extension_in_a_real_kernel():
    cells = _run_cells([
        "%load_ext lstm_widgets",
        "%lstm_lab sine --epochs 1 --lr 0.01",
        "%lstm_lab sine --lr banana",
        "%lstm_lab sine --clipnorm 1 --clipvalue 1",
        "print(get_ipython().find_line_magic('lstm_lab').__doc__)",
        "import numpy as np, keras\n"
        "X = np.random.default_rng(0).normal(size=(64, 30, 4)).astype('float32'); y = X[:, -1, :1]\n"
        "model = keras.Sequential([keras.Input((30, 4)), keras.layers.LSTM(8), keras.layers.Dense(1)])\n"
        "model.compile(optimizer=keras.optimizers.Adam(clipnorm=1.0), loss='mse')",
        "cb = %lstm_watch model --probe (X[:8],y[:8])",
        "model.fit(X, y, epochs=2, callbacks=[cb], verbose=0); print('records', len(cb.history))",
    ])
    load, good, bad_value, bad_combo, doc, _, watch_cell, fit_cell = cells
    for c in (load, good, watch_cell, fit_cell):
        assert not [o for o in c.outputs if o.output_type == "error"], c.outputs
        text = _tf_noise(_text(c.outputs))
        assert "Error" not in text and "Traceback" not in text, text
    assert any(o.output_type == "display_data" and "application/vnd.jupyter.widget-view+json" in o.data
               for o in good.outputs)
    msg = _text(bad_value.outputs)
    assert "UsageError: %lstm_lab: argument --lr" in msg and "banana" in msg and "Traceback" not in msg
    assert len(msg.strip().splitlines()) == 1
    assert "not allowed with argument" in _text(bad_combo.outputs)
    assert "--clipnorm" in _text(doc.outputs) and "--scaler" in _text(doc.outputs)
    assert any(o.output_type == "display_data" for o in watch_cell.outputs)
    assert "records 2" in _text(fit_cell.outputs)
