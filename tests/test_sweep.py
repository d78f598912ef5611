"""Sweeps on Dask: grids validated before anything runs, the embedded LocalCluster (two
worker processes here), a real `dask scheduler` + `dask worker` reached by address, a
worker killed mid-sweep, stop mid-sweep, a run that raises, and a run in a sweep equal
to the same run trained locally. Every process a test starts is stopped by it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lstm_widgets import TrainConfig
from lstm_widgets.sweep import RUN_LIMIT, Sweep, expand_grid, plan_local_cluster

GB = 2**30


# -- grids (no cluster) --------------------------------------------------------------------
def test_grid_expands_every_combination_seed_fastest():
    runs = expand_grid({"optimizer": ["adam", "sgd"], "learning_rate": [1e-3, 1e-2]}, TrainConfig(seed=7), seeds=2)
    got = [(c.optimizer, c.learning_rate, c.seed) for c in runs]
    assert got == [("adam", 1e-3, 7), ("adam", 1e-3, 8), ("adam", 1e-2, 7), ("adam", 1e-2, 8),
                   ("sgd", 1e-3, 7), ("sgd", 1e-3, 8), ("sgd", 1e-2, 7), ("sgd", 1e-2, 8)]


@pytest.mark.parametrize("grid, seeds, max_runs, words", [
    ({}, 1, None, ["grid is empty"]),
    ({"learnig_rate": [1e-3]}, 1, None, ["'learnig_rate'", "learning_rate"]),
    ({"learning_rate": [1e-3, -1.0]}, 1, None, ["learning_rate", "-1.0", "(0, 10]"]),
    ({"optimizer": ["adam", "adagrad"]}, 1, None, ["optimizer", "'adagrad'", "'sgd'"]),
    ({"optimizer": "adam"}, 1, None, ["grid['optimizer']", "['adam']"]),
    ({"units": []}, 1, None, ["grid['units'] is empty"]),
    ({"units": [8, 8]}, 1, None, ["twice"]),
    ({"seed": [1, 2]}, 3, None, ["seeds are given twice"]),
    ({"learning_rate": list(np.geomspace(1e-4, 1, 26)), "units": list(range(1, 21))}, 1, None,
     ["520 runs", "max_runs=520"]),
    ({"units": [4, 8, 16]}, 2, 5, ["6 runs", "max_runs=5"]),
    ({"units": [4]}, 0, None, ["seeds must be 1 or more"]),
])
def test_a_bad_grid_is_refused_before_anything_is_submitted(sine, grid, seeds, max_runs, words):
    # An address nobody listens on: were anything submitted, the error would be about it.
    with pytest.raises(ValueError) as err:
        Sweep(sine, grid=grid, seeds=seeds, max_runs=max_runs, client="tcp://127.0.0.1:9")
    for w in words:
        assert w in str(err.value)


def test_more_than_the_limit_runs_with_max_runs(sine):
    grid = {"learning_rate": list(np.geomspace(1e-4, 1, 26)), "units": list(range(1, 21))}
    assert len(Sweep(sine, grid=grid, max_runs=520)) == 520 > RUN_LIMIT


def test_data_must_be_sequence_data():
    with pytest.raises(ValueError, match="data must be a SequenceData"):
        Sweep(np.zeros((4, 3, 1)), grid={"units": [4]})


@pytest.mark.parametrize("limit, cores, kernel, workers", [
    (2 * GB, 2, 650 * 2**20, 1),  # mybinder.org: two workers and a kernel do not fit in 2 GB
    (24 * GB, 2, 700 * 2**20, 2),  # this machine: one per core
    (4 * GB, 8, 700 * 2**20, 3),  # memory, not cores, limits
    (1 * GB, 2, 700 * 2**20, 1),  # too little for any: still one, and it says so
])
def test_the_local_cluster_fits_the_memory_limit_and_the_cores(limit, cores, kernel, workers):
    plan = plan_local_cluster(memory_limit=limit, cores=cores, kernel_bytes=kernel)
    assert plan.n_workers == workers
    assert plan.tf_threads == max(1, cores // workers)
    assert f"{limit / GB:.1f} GB" in plan.reason
    if limit == GB:
        assert "may run out of memory" in plan.reason


# -- on the embedded LocalCluster -----------------------------------------------------------
@pytest.fixture(scope="module")
def local():
    """The embedded cluster a Sweep starts by default, stopped at the end of the module."""
    from lstm_widgets.sweep.cluster import close_local_cluster, local_client

    client, plan = local_client()
    yield client
    close_local_cluster()


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


pytestmark_slow = pytest.mark.slow


@pytest.mark.slow
def test_a_sweep_streams_every_epoch_and_gives_one_history_per_run(sine, local):
    base = TrainConfig(epochs=4, batch_size=32, units=8)
    sweep = Sweep(sine, grid={"optimizer": ["adam", "sgd"], "learning_rate": [1e-3, 3e-2]}, base=base)
    seen = []
    sweep.on_update(lambda: seen.append(sweep.counts["running"]))
    sweep.run(wait=True, timeout=300)
    assert sweep.where.startswith("Local Dask cluster: ") and "worker process" in sweep.where
    df = sweep.results
    assert list(df["run"]) == [0, 1, 2, 3]
    assert list(df["optimizer"]) == ["adam", "adam", "sgd", "sgd"]
    assert set(df["status"]) == {"finished"} and list(df["epochs"]) == [4] * 4
    assert (df["best_val_loss"] <= df["final_val_loss"]).all()
    assert (df["step_ratio"] > 0).all() and (df["finding"] != "").all()
    for r in sweep.runs:
        assert r.streamed == 4  # every epoch came through the queue while the run went on
        assert [x.epoch for x in r.history.records] == [1, 2, 3, 4]
        assert r.history.runs[1].status == "finished" and r.attempts == 1
    assert max(seen) >= 1  # the display was told while runs were running
    # A run's best is the lowest best validation loss of those that did not fail or diverge.
    assert sweep.best().index == int(df.loc[df["best_val_loss"].idxmin(), "run"])
    with pytest.raises(ValueError, match="by must be one of"):
        sweep.best(by="accuracy")


@pytest.mark.slow
def test_a_run_in_a_sweep_equals_the_same_run_trained_locally(sine, local):
    from lstm_widgets.engine.trainer import Trainer

    cfg = TrainConfig(epochs=5, batch_size=32, units=8, optimizer="sgd", learning_rate=5e-2, seed=3)
    sweep = Sweep(sine, grid={"learning_rate": [5e-2]}, base=cfg).run(wait=True, timeout=300)
    far = sweep.runs[0].history.run(1)
    trainer = Trainer(cfg, sine)
    trainer.start()
    trainer.wait()
    near = trainer.history.run(1)
    assert len(far) == len(near) == 5
    for field in ("loss", "val_loss"):
        np.testing.assert_allclose([getattr(r, field) for r in far], [getattr(r, field) for r in near], rtol=1e-5)
    np.testing.assert_allclose([r.value("step_ratio_mean") for r in far], [r.value("step_ratio_mean") for r in near],
                               rtol=1e-4)


@pytest.mark.slow
def test_stop_cancels_the_queued_runs_and_stops_the_running_ones_within_an_epoch(sine, local):
    base = TrainConfig(epochs=2000, batch_size=32, units=8)
    sweep = Sweep(sine, grid={"learning_rate": [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3]}, base=base)
    sweep.run(wait=False)
    with pytest.raises(RuntimeError, match="already running"):
        sweep.run()
    _until(lambda: any(len(r.history.records) >= 2 for r in sweep.runs), 180)
    sweep.stop(wait=True, timeout=120)
    assert sweep.ended
    statuses = [r.status for r in sweep.runs]
    assert set(statuses) == {"stopped"}, statuses
    ran = [r for r in sweep.runs if r.history.records]
    assert ran and all(0 < len(r.history.records) < 2000 for r in ran)
    assert all(r.history.runs[1].status == "stopped" for r in ran)
    never = [r for r in sweep.runs if not r.attempts]
    assert never and all(r.error == "stopped before it started" for r in never)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_that_run_only(sine, local):
    base = TrainConfig(epochs=300, batch_size=32, units=8)
    sweep = Sweep(sine, grid={"learning_rate": [1e-3, 2e-3, 3e-3]}, base=base)
    sweep.run(wait=False)
    _until(lambda: any(r.status == "running" and len(r.history.records) >= 2 for r in sweep.runs), 180)
    victim = next(r for r in sweep.runs if r.status == "running" and len(r.history.records) >= 2)
    pid = _worker_pids(local)[victim.worker]
    os.kill(pid, signal.SIGKILL)
    assert sweep.wait(timeout=600)
    others = [r for r in sweep.runs if r is not victim]
    assert all(r.status == "finished" for r in others)
    # Retried once on a live worker (and then finished), or marked failed with the reason.
    if victim.status == "finished":
        assert victim.attempts == 2 and len(victim.history.records) == 300
    else:
        assert victim.status == "failed" and "worker" in victim.error
    assert list(sweep.results["attempts"])[victim.index] == victim.attempts
    print(f"\nkilled the worker of run {victim.index}: {victim.status}, attempts {victim.attempts}, {victim.error!r}")


@pytest.mark.slow
def test_a_run_that_raises_is_marked_failed_with_its_message_and_the_sweep_goes_on(sine, local):
    def break_high_rates():  # on every worker: a run at lr 0.5 fails in its first epoch
        from lstm_widgets.engine import trainer as t

        original = t.Trainer._one_epoch

        def one_epoch(self):
            if self.config.learning_rate == 0.5:
                raise ValueError("injected failure at lr 0.5")
            return original(self)

        t.Trainer._one_epoch_original = original
        t.Trainer._one_epoch = one_epoch

    def mend():
        from lstm_widgets.engine import trainer as t

        t.Trainer._one_epoch = t.Trainer._one_epoch_original

    local.run(break_high_rates)
    try:
        sweep = Sweep(sine, grid={"learning_rate": [1e-3, 0.5, 2e-3]}, base=TrainConfig(epochs=3, units=8))
        sweep.run(wait=True, timeout=300)
    finally:
        local.run(mend)
    assert [r.status for r in sweep.runs] == ["finished", "failed", "finished"]
    assert "injected failure at lr 0.5" in sweep.runs[1].error
    assert "failed" in sweep.progress_text()


@pytest.mark.slow
def test_a_diverged_run_is_a_result_not_an_error(sine, local):
    sweep = Sweep(sine, grid={"learning_rate": [1e-2, 10.0]},
                  base=TrainConfig(optimizer="sgd", epochs=30, units=8)).run(wait=True, timeout=300)
    assert [r.status for r in sweep.runs] == ["finished", "diverged"]
    assert sweep.results["diverged"].tolist() == [False, True]
    assert sweep.best().index == 0
    assert sweep.runs[1].top_finding.code == "nonfinite"


# -- a real scheduler and worker, by address -------------------------------------------------
def _until(cond, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


@pytest.fixture
def scheduler_and_worker(tmp_path):
    """`dask scheduler` and one `dask worker`, real processes on 127.0.0.1, stopped after."""
    dask = str(Path(sys.executable).parent / "dask")
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        _until(lambda: info.exists() and info.stat().st_size > 0, 60)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_a_sweep_runs_on_a_cluster_given_by_address(sine, scheduler_and_worker):
    sweep = Sweep(sine, grid={"optimizer": ["adam", "rmsprop"]}, base=TrainConfig(epochs=3, units=8),
                  client=scheduler_and_worker)
    sweep.run(wait=True, timeout=300)
    assert sweep.where == f"Dask cluster at {scheduler_and_worker}."
    assert [r.status for r in sweep.runs] == ["finished", "finished"]
    assert all(r.streamed == 3 and len(r.history.records) == 3 for r in sweep.runs)


def test_an_address_where_no_scheduler_listens_is_a_clear_error(sine):
    sweep = Sweep(sine, grid={"units": [4]}, client="tcp://127.0.0.1:9")
    sweep.run(wait=False)
    with pytest.raises(RuntimeError, match="no Dask scheduler answered there"):
        sweep.wait(timeout=60)
    assert sweep.runs[0].status == "failed"


# -- what a person sees: the display, the report, the command line ------------------------
@pytest.fixture(scope="module")
def finished(sine, local):
    """A finished 3 x 2 sweep with one diverging cell, for the display and the report."""
    sweep = Sweep(sine, grid={"optimizer": ["adam", "sgd"], "learning_rate": [1e-2, 10.0]},
                  base=TrainConfig(epochs=6, units=8), seeds=1)
    return sweep.run(wait=True, timeout=300)


@pytest.mark.slow
def test_the_display_shows_every_run_the_heat_map_and_the_table(finished, recorder):
    from lstm_widgets.ui.sweep_view import SweepView

    view = SweepView(finished)
    assert view.bar.value == 4 == view.bar.max
    assert "4/4 runs done" in view.status.value and "Local Dask cluster" in view._where.value
    y = np.asarray(view.curves.y)
    assert y.shape[0] == 4  # one curve per run
    assert np.allclose(y[0][:6], finished.runs[0].val_losses, rtol=1e-5)
    # coloured by the optimizer: two colours, one per value, the same for the same value
    assert view.curves.colors[0] == view.curves.colors[1] != view.curves.colors[2] == view.curves.colors[3]
    heat = view.heat.value
    df = finished.results
    best = df[(df.optimizer == "adam") & (df.learning_rate == 1e-2)]["best_val_loss"].item()
    assert f"{best:.3g}" in heat
    assert "diverged" in heat  # SGD at lr 10 left no finite loss
    view.sort_by.value = "best_val_loss"
    table = view.table.value
    rows = table.split("<tr>")[2:]
    assert f"{df['best_val_loss'].min():.3g}" in rows[0]  # lowest first
    view.descending.value = True
    assert f"{df['best_val_loss'].max():.3g}" in view.table.value.split("<tr>")[2]  # highest finite first
    import html

    assert all(t and html.escape(t) in view.table.value for t in df["finding_title"])  # each run's diagnosis
    view.colour_by.value = "learning_rate"
    assert view.curves.colors[0] != view.curves.colors[1]
    lab = view.open_lab(1)
    try:
        assert lab.trainer.config == finished.runs[1].config
    finally:
        lab.close()


@pytest.mark.slow
def test_the_report_is_one_offline_file_with_every_section(finished, tmp_path):
    from lstm_widgets.render.sweep_report import SWEEP_SECTIONS

    path = finished.report(tmp_path / "sweep.html")
    text = Path(path).read_text()
    for s in SWEEP_SECTIONS:
        assert f"<h2>{s}</h2>" in text
    assert text.count("<svg") >= 2 and "http" not in text.replace("http-equiv", "")
    best = finished.best()
    assert f"Best: run {best.index}" in text and "diverged" in text


def test_sweep_options_split_into_grid_and_shared_settings():
    import argparse

    from lstm_widgets.options import add_grid_arguments, grid_from_arguments

    p = argparse.ArgumentParser()
    add_grid_arguments(p)
    grid, base = grid_from_arguments(p.parse_args(
        ["--optimizer", "adam,sgd", "--learning-rate", "1e-4,1e-3,1e-2", "--epochs", "5", "--nesterov", "true",
         "--clip-threshold", "1,5", "--clipping", "clipnorm"]))
    assert grid == {"optimizer": ["adam", "sgd"], "learning_rate": [1e-4, 1e-3, 1e-2], "clip_threshold": [1.0, 5.0]}
    assert base == {"epochs": 5, "nesterov": True, "clipping": "clipnorm"}
    with pytest.raises(ValueError, match="--units: 'eight' is not a whole number"):
        grid_from_arguments(p.parse_args(["--units", "8,eight"]))


def _cli(*args, cwd):
    exe = str(Path(sys.executable).parent / "lstm-widgets")
    return subprocess.run([exe, "sweep", *args], capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    import pandas as pd

    from lstm_widgets.data import sample_csv_path

    df = pd.read_csv(sample_csv_path()).select_dtypes("number")
    path = tmp_path_factory.mktemp("csv") / "energy.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("args, words", [
    (["--learning-rate", "1e-3,1e-2"], ["--target"]),
    (["--target", "load_kw", "--lookback", "12"], ["nothing to sweep"]),
    (["--target", "load_kw", "--lookback", "12", "--learning-rate", "1e-3,-2"], ["learning_rate", "-2"]),
    (["--target", "nope", "--lookback", "12", "--units", "4,8"], ["--target", "'nope'"]),
    (["--target", "load_kw", "--lookback", "12", "--units", "4,x"], ["--units: 'x' is not a whole number"]),
])
def test_the_sweep_command_refuses_bad_input_in_one_line(csv_file, tmp_path, args, words):
    got = _cli(str(csv_file), *args, cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert "Traceback" not in got.stderr and len(got.stderr.strip().splitlines()) == 1
    for w in words:
        assert w in got.stderr


@pytest.mark.slow
def test_the_sweep_command_prints_the_table_and_writes_the_results(csv_file, tmp_path):
    import pandas as pd

    got = _cli(str(csv_file), "--target", "load_kw", "--lookback", "12", "--optimizer", "adam,sgd",
               "--epochs", "3", "--scale-target", "true", "--out", "results.csv", "--report", "sweep.html",
               cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "2/2 runs done" in got.stderr  # the progress line (one per change when not a terminal)
    out = got.stdout
    assert "Local Dask cluster" in out and "best: run " in out
    df = pd.read_csv(tmp_path / "results.csv")
    assert list(df["optimizer"]) == ["adam", "sgd"] and set(df["status"]) == {"finished"}
    for _, row in df.iterrows():
        assert f"{row['optimizer']}" in out
    assert (tmp_path / "sweep.html").read_text().count("<svg") >= 2


def test_the_stability_figure_labels_its_line_marks_gaps_and_keeps_its_legend_off_the_data():
    import pandas as pd
    from lstm_widgets.ui.sweep_view import stability_figure

    rates = [1e-3, 1e-2, 1e-1, 1.0]
    rows = [dict(optimizer="sgd", learning_rate=lr, status=st, vs_mean=v)
            for lr, st, v in zip(rates, ["finished"] * 3 + ["diverged"], [5.0, 4.0, 0.3, float("nan")])]
    rows += [dict(optimizer="adam", learning_rate=lr, status="finished", vs_mean=v)
             for lr, v in zip(rates, [3.0, 0.2, 0.1, 0.9])]
    fig = stability_figure(pd.DataFrame(rows))
    lines, band = fig.marks
    assert list(lines.labels) == ["adam", "sgd (gap: diverged)"] and band.labels == ["trains below 0.5"]
    assert fig.legend_location != "top-left"  # where sgd and adam start, far above the line
