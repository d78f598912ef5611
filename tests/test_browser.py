"""End to end: a real JupyterLab (and Notebook 7, and Voila) in a real Chromium, clicked
like a learner would.

Screenshots land in test-artifacts/ (look at them). Skips without Chromium, except with
CI set, where it fails instead.
"""

from __future__ import annotations

import json
import re

import pytest
from lstm_widgets.downsample import MAX_POINTS

from browser import (
    Console,
    browser_page,
    jupyterlab,
    notebook,
    open_and_run_all,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAB_CELL = (
    "from lstm_widgets.ui import Lab\n"
    "lab = Lab('sine', epochs=300, units=8, batch_size=16,\n"
    "          dataset_options=dict(n_samples=256, seq_len=12))\n"
    "lab"
)


def epochs_done(page) -> int:
    text = page.text_content(".lw-progress-text") or ""
    m = re.search(r"epoch\s+(\d+)\s*/\s*(\d+)", text, re.I)
    return int(m.group(1)) if m else 0


def status(page) -> str:
    return (page.text_content(".lw-status") or "").strip().lower()


def wait_status(page, word: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "w => (document.querySelector('.lw-status')?.textContent || '').toLowerCase().includes(w)",
        arg=word, timeout=timeout,
    )


def panel_svg_texts(page, panel: str) -> list[str]:
    # one snapshot: the panel redraws every epoch, so node-by-node reads would race it
    return page.evaluate(
        "sel => [...document.querySelectorAll(sel)].map(t => t.textContent || '')", f".{panel} svg text"
    )


def line_points(page, panel: str) -> int:
    """Points in the first drawn line of a panel (bqplot draws a Lines mark as one path)."""
    d = page.locator(f".{panel} path.line").first.get_attribute("d") or ""
    return len(re.findall(r"[ML]", d))


@pytest.fixture(scope="module")
def lab_notebook(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "lab.ipynb").write_text(json.dumps(notebook([LAB_CELL])))
    return root


def test_lab_in_a_real_browser(lab_notebook):
    with jupyterlab(lab_notebook) as url, browser_page() as page:
        console = Console(page)
        open_and_run_all(page, url, "lab.ipynb")
        page.wait_for_selector(".lw-train", timeout=120_000)
        page.wait_for_selector(".lw-panel-loss svg", timeout=60_000)
        assert "idle" in status(page)
        screenshot(page, "lab-idle")

        page.click(".lw-train")
        wait_status(page, "training")
        page.wait_for_function(
            "() => /epoch\\s+([3-9]|\\d\\d+)/i.test(document.querySelector('.lw-progress-text')?.textContent || '')",
            timeout=120_000,
        )

        # move the learning-rate slider with the keyboard, as a learner can
        old_lr = page.input_value(".lw-lr-text input")
        handle = page.locator(".lw-lr-slider .noUi-handle").first
        handle.focus()
        for _ in range(5):
            handle.press("ArrowRight")
        page.wait_for_function(
            "old => (document.querySelector('.lw-lr-text input')?.value || old) !== old", arg=old_lr,
        )
        new_lr = page.input_value(".lw-lr-text input")
        assert float(new_lr) > float(old_lr)
        # a labelled change marker appears on the time-based panels ...
        page.wait_for_function(
            "() => [...document.querySelectorAll('.lw-panel-loss svg text')]"
            ".some(t => (t.textContent || '').startsWith('lr '))",
            timeout=60_000,
        )
        labels = [t for t in panel_svg_texts(page, "lw-panel-loss") if t.startswith("lr ")]
        assert labels and "→" in labels[0]
        assert any(t.startswith("lr ") for t in panel_svg_texts(page, "lw-panel-grad"))
        # ... and the status shows the learning rate now in force: the one the exact box
        # holds once the five key presses have all arrived (each one is a change, and the
        # box read above may be from the first), both read in one snapshot
        page.wait_for_function(
            "() => { const v = parseFloat(document.querySelector('.lw-lr-text input')?.value || 'NaN');"
            " const s = document.querySelector('.lw-status')?.textContent || '';"
            " return isFinite(v) && s.includes(Number(v.toPrecision(3)).toString()); }",
            timeout=30_000,
        )
        screenshot(page, "lab-training-after-lr-change")

        page.click(".lw-stop")
        wait_status(page, "stopped")
        page.wait_for_timeout(1500)  # let the last panel update arrive
        n = epochs_done(page)
        assert n >= 3
        # one point per finished epoch (the stopped partial epoch counts as recorded) while
        # the run is short; a longer one (a fast machine) is downsampled to a bounded number
        # of points, its spikes kept (tests/test_panels.py checks which ones)
        points = line_points(page, "lw-panel-loss")
        if n + 1 <= MAX_POINTS:
            assert points in (n, n + 1)
        else:
            assert MAX_POINTS // 4 <= points <= 2 * MAX_POINTS
        screenshot(page, "lab-stopped")
        page.set_viewport_size({"width": 1280, "height": 2600})  # every panel and the diagnosis at once
        page.wait_for_timeout(800)
        screenshot(page, "lab-full")
        shares = [t for t in panel_svg_texts(page, "lw-panel-grad") if t.endswith("%")]
        assert shares == ["0%", "50%", "100%"]  # the clipped-share axis, without padding ticks
        assert page.locator(".lw-diagnosis .lw-finding").count() >= 1
        # every finding whole: nothing scrolled away or clipped, the "Fix:" line included
        clipped = page.evaluate(
            "() => [...document.querySelectorAll('.lw-diagnosis, .lw-diagnosis *')]"
            ".filter(e => e.clientHeight > 0 && e.scrollHeight > e.clientHeight + 1).map(e => e.className)")
        assert not clipped, clipped
        # every axis title clear of its tick labels (bqplot's default offset put
        # "‖ΔW‖/‖W‖" onto "3e-3"), and every change marker's label inside its plot
        assert not page.evaluate(OVERLAPS_JS), page.evaluate(OVERLAPS_JS)

        errors = console.widget_errors()
        assert not errors, f"browser console errors from the widgets: {errors}"


#: Text that the panels draw over other text or outside their plot: axis titles on tick
#: labels, and change-marker labels (rotated, hanging from the top of the plot) running
#: past its bottom: a long merged label crossed the x axis of the 130 px gradient plot.
OVERLAPS_JS = """() => {
  const out = [];
  const box = e => e.getBoundingClientRect();
  const meet = (a, b) => !(a.right <= b.left || a.left >= b.right || a.bottom <= b.top || a.top >= b.bottom);
  for (const ax of document.querySelectorAll('.lw-panel svg g.axis')) {
    const title = ax.querySelector('text.axislabel');
    if (!title || !(title.textContent || '').trim()) continue;
    for (const t of ax.querySelectorAll('g.tick text'))
      if (box(t).width && meet(box(t), box(title))) out.push(`${title.textContent} on ${t.textContent}`);
  }
  for (const fig of document.querySelectorAll('.lw-panel .bqplot.figure')) {
    const area = fig.querySelector('.plotarea_background');
    if (!area) continue;
    const a = box(area);
    for (const t of fig.querySelectorAll('text'))
      if ((t.textContent || '').includes('→') && box(t).width && (box(t).top < a.top - 2 || box(t).bottom > a.bottom + 2))
        out.push(`marker label out of its plot: ${t.textContent}`);
  }
  return out;
}"""


def train_and_stop(page) -> int:
    """What every front end must do with a Lab: Train, show it training, Stop, show it
    stopped. The budget is set far beyond what any machine trains before the Stop, so
    the test does not depend on the machine's speed. Returns the epochs done."""
    page.fill(".lw-epochs input", "5000")
    page.press(".lw-epochs input", "Enter")
    page.click(".lw-train")
    wait_status(page, "training")
    page.wait_for_function(
        "() => /epoch\\s+([2-9]|\\d\\d+)/i.test(document.querySelector('.lw-progress-text')?.textContent || '')",
        timeout=120_000,
    )
    page.click(".lw-stop")
    wait_status(page, "stopped")
    page.wait_for_timeout(1000)  # the last panel update
    n = epochs_done(page)
    assert n >= 2
    assert line_points(page, "lw-panel-loss") >= 2
    return n


#: Notebook 7.6.5 with JupyterLab 4.6.6 raises this on every page it serves, its empty
#: file list (/tree, no notebook, no widget) included: Notebook's own, not the Lab's.
NOTEBOOK7_OWN = "pageerror: Cannot read properties of undefined (reading 'schema')"


def test_lab_in_notebook_7(lab_notebook):
    """Notebook 7, where many learners open a notebook (Binder's /tree, a teacher's server)."""
    with jupyterlab(lab_notebook, app="notebook") as url, browser_page() as page:
        console = Console(page)
        open_and_run_all(page, url, "lab.ipynb", app="notebook")
        page.wait_for_selector(".lw-train", timeout=120_000)
        page.wait_for_selector(".lw-panel-loss svg", timeout=60_000)
        train_and_stop(page)
        screenshot(page, "notebook7-lab-stopped")
        errors = [e for e in console.widget_errors() if e != NOTEBOOK7_OWN]
        assert not errors, errors


def test_voila_serves_the_quickstart_as_an_app_without_code():
    """A teacher's classroom app: `voila notebooks/00_quickstart.ipynb`, run from the
    repository as the README says (Voila reads its voila.json there), shows the Lab and the
    text, no code, and the Lab trains and stops. Voila only reads the notebook."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    with jupyterlab(repo, app="voila", notebook="notebooks/00_quickstart.ipynb") as url, browser_page() as page:
        console = Console(page)
        page.goto(url + "/", timeout=180_000)
        page.wait_for_selector(".lw-train", timeout=180_000)
        page.wait_for_selector(".lw-panel-loss svg", timeout=60_000)
        assert "idle" in status(page)
        assert page.locator(".jp-CodeCell .jp-InputArea, .cm-editor, .CodeMirror").count() == 0  # no code shown
        assert page.locator("text=Things to try").count() >= 1  # the text is there
        train_and_stop(page)
        screenshot(page, "voila-quickstart-stopped")
        assert not console.widget_errors(), console.widget_errors()


def test_lab_is_readable_in_the_dark_theme(lab_notebook):
    with jupyterlab(lab_notebook, theme="JupyterLab Dark") as url, browser_page(dark=True) as page:
        console = Console(page)
        open_and_run_all(page, url, "lab.ipynb")
        page.wait_for_selector(".lw-panel-time svg", timeout=120_000)
        page.fill(".lw-epochs input", "3")
        page.press(".lw-epochs input", "Enter")
        page.click(".lw-train")
        wait_status(page, "finished", timeout=120_000)
        page.wait_for_timeout(1000)
        assert epochs_done(page) == 3
        assert line_points(page, "lw-panel-loss") == 3
        bg = page.evaluate("() => getComputedStyle(document.body).getPropertyValue('--jp-layout-color0')")
        assert bg.strip() not in ("", "white", "#fff", "#ffffff")
        screenshot(page, "lab-dark")
        assert not console.widget_errors()


def test_a_lesson_runs_in_the_browser_and_its_lab_answers_clicks(tmp_path):
    """Lesson 1 top to bottom in JupyterLab, then its Lab's controls clicked."""
    import shutil
    from pathlib import Path

    lesson = "01_exploding_gradients_and_clipping.ipynb"
    shutil.copy(Path(__file__).resolve().parents[1] / "notebooks" / lesson, tmp_path / lesson)
    with jupyterlab(tmp_path) as url, browser_page() as page:
        console = Console(page)
        open_and_run_all(page, url, lesson)
        # every code cell has run: read from the notebook's model (a cell whose source
        # starts collapsed shows no prompt to read)
        page.wait_for_function(
            "() => { const nb = window.jupyterapp?.shell?.currentWidget?.content;"
            " if (!nb || !nb.model) return false;"
            " const cells = [...nb.widgets].filter(w => w.model.type === 'code');"
            " return cells.length > 0 && cells.every(w => w.model.executionCount !== null); }",
            timeout=400_000,
        )
        assert page.locator(".jp-CodeCell .jp-InputPrompt:has-text('*')").count() == 0
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .jp-RenderedText:has-text('Traceback')").count() == 0
        assert page.locator("text=PASSED").count() + page.locator("text=NOT YET").count() >= 1
        lab = page.locator(".lw-lab").first
        lab.scroll_into_view_if_needed()
        lab.locator(".lw-optimizer select").select_option("adam")
        lab.locator(".lw-lr-text input").fill("0.003")
        lab.locator(".lw-lr-text input").press("Enter")
        lab.locator(".lw-epochs input").fill("2")
        lab.locator(".lw-epochs input").press("Enter")
        page.wait_for_function(
            "() => /Adam\\(learning_rate=0\\.003[,)]/.test(document.querySelector('.lw-lab .lw-code')?.textContent || '')",
            timeout=30_000,
        )
        lab.locator(".lw-restart").click()  # a fresh run with the learner's settings
        page.wait_for_function(
            "() => /epoch\\s+2\\s*\\/\\s*2/.test(document.querySelector('.lw-lab .lw-progress-text')?.textContent || '')"
            " && /finished/.test(document.querySelector('.lw-lab .lw-status')?.textContent || '')",
            timeout=120_000,
        )
        lab.scroll_into_view_if_needed()
        screenshot(page, "lesson-01-lab-after-clicks")
        assert lab.locator(".lw-lr-text input").input_value() == "0.003"  # exact, not snapped to the slider
        assert re.search(r"epoch\s+2\s*/\s*2", lab.locator(".lw-progress-text").text_content() or "")
        assert "finished" in (lab.locator(".lw-status").text_content() or "")
        assert not console.widget_errors(), console.widget_errors()


SWEEP_CELL = (
    "from lstm_widgets import TrainConfig, load_dataset\n"
    "from lstm_widgets.sweep import Sweep\n"
    "data = load_dataset('sine', n_samples=128, seq_len=10)\n"
    "sweep = Sweep(data, grid={'optimizer': ['adam', 'sgd'], 'learning_rate': [1e-3, 1e-2, 10.0]},\n"
    "              base=TrainConfig(epochs=6, units=8))\n"
    "sweep.run()  # returns at once: the display fills in as the runs go"
)


def _worker_processes() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any("distributed" in part or "multiprocessing.spawn" in part for part in (p.info["cmdline"] or []))]


def test_a_sweep_fills_in_live_and_opens_a_run_in_a_lab(tmp_path):
    before = set(_worker_processes())
    (tmp_path / "sweep.ipynb").write_text(json.dumps(notebook([SWEEP_CELL])))
    with jupyterlab(tmp_path) as url, browser_page(1280, 1800) as page:
        console = Console(page)
        open_and_run_all(page, url, "sweep.ipynb")
        page.wait_for_selector(".lw-sweep", timeout=120_000)
        page.wait_for_function(
            "() => /6\\/6 runs done/.test(document.querySelector('.lw-sweep-status')?.textContent || '')",
            timeout=300_000,
        )
        page.wait_for_timeout(1000)
        screenshot(page, "sweep-finished")
        assert "Local Dask cluster" in (page.text_content(".lw-sweep-where") or "")
        assert page.locator(".lw-sweep-curves path.line").count() == 6  # one curve per run
        cells = page.locator(".lw-sweep-heatmap td").all_text_contents()
        assert len(cells) == 6 and "diverged" in cells  # SGD at lr 10
        assert sum(1 for c in cells if re.fullmatch(r"[0-9.e+-]+", c)) == 5
        rows = page.locator(".lw-sweep-table tr").count()
        assert rows == 7  # the header and one row per run
        before_colours = page.evaluate(
            "() => [...document.querySelectorAll('.lw-sweep-curves path.line')].map(p => p.style.stroke)")
        page.locator(".lw-sweep-colour select").select_option("learning_rate")
        page.wait_for_function(
            "old => JSON.stringify([...document.querySelectorAll('.lw-sweep-curves path.line')]"
            ".map(p => p.style.stroke)) !== old", arg=json.dumps(before_colours), timeout=30_000)
        page.locator(".lw-sweep-pick select").select_option(label="run 1")
        page.click(".lw-sweep-open")
        page.wait_for_selector(".lw-sweep .lw-lab .lw-train", timeout=120_000)
        page.locator(".lw-sweep .lw-lab").scroll_into_view_if_needed()
        assert "learning_rate=0.01" in (page.text_content(".lw-sweep .lw-lab .lw-code") or "")
        screenshot(page, "sweep-run-opened-in-a-lab")
        assert not console.widget_errors(), console.widget_errors()
    # the kernel that started the cluster is gone, and its worker processes with it
    import time

    end = time.monotonic() + 60
    while set(_worker_processes()) - before and time.monotonic() < end:
        time.sleep(1)
    assert not set(_worker_processes()) - before


WATCH_CELLS = [
    "import keras, lstm_widgets\n"
    "from lstm_widgets import load_dataset\n"
    "keras.utils.set_random_seed(0)\n"
    "d = load_dataset('sine', n_samples=256, seq_len=16)\n"
    "model = keras.Sequential([keras.Input(d.X_train.shape[1:]), keras.layers.LSTM(8), keras.layers.Dense(1)])\n"
    "model.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=1.0), loss='mse')\n"
    "monitor = lstm_widgets.watch(model, probe=(d.X_val[:32], d.y_val[:32]))",
    "model.fit(d.X_train, d.y_train, validation_data=(d.X_val, d.y_val), epochs=8, batch_size=32,\n"
    "          callbacks=[monitor], verbose=0)\n"
    "model.fit(d.X_train, d.y_train, validation_data=(d.X_val, d.y_val), epochs=2, batch_size=32,\n"
    "          callbacks=[monitor], verbose=0)",
    # What the kernel recorded, printed for the page to read: every epoch has its probe
    # (read on the second thread during validation) and its measured per-step update.
    "rs = monitor.history.records\n"
    "print('recorded', len(rs), 'with probe', sum(len(r.grad_through_time) == 16 for r in rs),\n"
    "      'with update', sum(r.value('step_ratio_mean') > 0 for r in rs), 'errors', len(monitor.subscriber_errors))",
]


def test_watch_on_your_own_fit_fills_its_panels_in_jupyterlab(tmp_path):
    """A practitioner's own model and model.fit with validation data, watched in a real
    JupyterLab: the live view says where the run is, draws every epoch, shows the
    diagnosis, and the kernel recorded the probe and the update of every epoch of both fits."""
    (tmp_path / "watch.ipynb").write_text(json.dumps(notebook(WATCH_CELLS)))
    with jupyterlab(tmp_path) as url, browser_page() as page:
        console = Console(page)
        open_and_run_all(page, url, "watch.ipynb")
        page.wait_for_selector("text=recorded 10 with probe", timeout=300_000)
        assert page.locator("text=recorded 10 with probe 10 with update 10 errors 0").count() == 1
        status_text = page.text_content(".lw-monitor-status") or ""
        assert "epoch 10" in status_text and "Adam" in status_text and "clipnorm=1" in status_text, status_text
        assert line_points(page, "lw-panel-loss") == 10  # one point per epoch, both fits in one run
        assert page.locator(".lw-panel-time path.line").count() >= 1  # the gradient through time is drawn
        assert page.locator(".lw-diagnosis .lw-finding").count() >= 1
        # judged as measured: the probe batch's loss against the probe batch's mean
        assert page.locator(".lw-diagnosis:has-text('Best probe-batch loss')").count() == 1
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .jp-RenderedText:has-text('Traceback')").count() == 0
        page.locator(".lw-monitor").first.scroll_into_view_if_needed()
        screenshot(page, "watch-in-jupyterlab")
        page.locator(".lw-diagnosis").first.scroll_into_view_if_needed()
        screenshot(page, "watch-in-jupyterlab-diagnosis")
        assert not console.widget_errors(), console.widget_errors()
