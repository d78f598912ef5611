"""``lstm-widgets`` / ``jupyter lstm-widgets``: copy the lessons, diagnose a CSV headless,
or sweep settings over it on Dask.

    lstm-widgets lessons [DIR] [--no-browser] [--no-lab]
    lstm-widgets diagnose DATA.csv --target COL --lookback N [--report FILE.html] [SETTINGS...]
    lstm-widgets sweep DATA.csv --target COL --lookback N --optimizer adam,sgd --learning-rate 1e-3,1e-2
                       [--seeds K] [--scheduler tcp://HOST:8786] [--out results.csv] [--report FILE.html]

SETTINGS are the options of every TrainConfig setting (``lstm-widgets diagnose -h`` lists
them; they come from lstm_widgets.config.SETTINGS), e.g. ``--optimizer sgd --lr 0.05
--clipnorm 1``.

Exit codes of ``diagnose``: 0 healthy, 1 warnings or problems found, 2 bad input.
Exit codes of ``sweep``: 0 every run ended (a diverged run is a result), 1 some run
failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["main", "lesson_source", "copy_lessons"]

_REPO_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


class _BadInput(Exception):
    """One line for the user; exit code 2."""


def lesson_source() -> Path:
    """Where the lesson notebooks are: the installed wheel's ``lstm_widgets/_lessons``,
    else the source checkout's ``notebooks/``."""
    try:
        from importlib.resources import files

        packaged = Path(str(files("lstm_widgets") / "_lessons"))
        if packaged.is_dir() and any(packaged.glob("*.ipynb")):
            return packaged
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - unusual installs
        pass
    if _REPO_NOTEBOOKS.is_dir():
        return _REPO_NOTEBOOKS
    raise _BadInput("the lesson notebooks were not found in this installation (lstm_widgets/_lessons).")


def copy_lessons(dest: Path, out=sys.stdout) -> tuple[list[str], list[str]]:
    """Copy every lesson notebook (and their data files) into ``dest``; an existing file
    is never overwritten (it may hold a learner's edits). Returns (copied, skipped)."""
    src = lesson_source()
    dest.mkdir(parents=True, exist_ok=True)
    copied, skipped = [], []
    for path in sorted(src.rglob("*")):
        if path.is_dir() or ".ipynb_checkpoints" in path.parts or path.name.startswith("."):
            continue
        rel = path.relative_to(src)
        target = dest / rel
        if target.exists():
            skipped.append(str(rel))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied.append(str(rel))
    for rel in copied:
        print(f"copied  {rel}", file=out)
    for rel in skipped:
        print(f"kept    {rel} (already there, not overwritten: it may hold your edits)", file=out)
    print(f"{len(copied)} copied, {len(skipped)} kept, in {dest}", file=out)
    return copied, skipped


def _lessons(args) -> int:
    dest = Path(args.dir).expanduser().resolve()
    if dest.exists() and not dest.is_dir():
        raise _BadInput(f"DIR {str(dest)!r} is a file, not a folder; pass a folder for the lessons.")
    copy_lessons(dest)
    if args.no_lab:
        return 0
    cmd = [sys.executable, "-m", "jupyterlab", "--notebook-dir", str(dest)]
    if args.no_browser:
        cmd.append("--no-browser")
    print("starting JupyterLab: " + " ".join(cmd))
    try:
        return subprocess.call(cmd, cwd=dest)
    except KeyboardInterrupt:
        return 0


def _load_csv(args):
    import numpy as np
    import pandas as pd

    path = Path(args.csv)
    if not path.is_file():
        raise _BadInput(f"DATA.csv: no such file {str(path)!r}.")
    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise _BadInput(f"DATA.csv: {str(path)!r} could not be read as CSV ({exc}).") from None
    if args.target not in df.columns:
        raise _BadInput(f"--target: {args.target!r} is not a column of {path.name}; the columns are {list(df.columns)}.")
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise _BadInput(
            f"DATA.csv: column(s) {bad} are not numeric; keep only numeric columns (drop or encode dates and text)."
        )
    if df.isna().any().any():
        raise _BadInput(f"DATA.csv: {int(df.isna().sum().sum())} empty or NaN cells; fill or drop them first.")
    if not np.isfinite(df.to_numpy(dtype=float)).all():
        raise _BadInput("DATA.csv: infinite values; replace them first.")
    if args.lookback < 1:
        raise _BadInput(f"--lookback must be at least 1; got {args.lookback}. Try 30.")
    if args.lookback + 1 > len(df) - 2:
        raise _BadInput(
            f"--lookback {args.lookback} is too long for {len(df)} rows: it needs at least "
            f"lookback + 3 rows. Use a smaller --lookback."
        )
    return df


def _diagnose(args) -> int:
    df = _load_csv(args)
    from .config import TrainConfig
    from .options import changes_from_arguments

    try:
        config = TrainConfig().replace(**changes_from_arguments(args))
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    from .data import SequenceData

    try:
        data = SequenceData.from_series(df, lookback=args.lookback, target=args.target, name=Path(args.csv).stem)
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    from .engine.trainer import Trainer

    print(f"training {config.epochs} epochs on {len(data.X_train)} windows of {args.lookback} steps "
          f"x {data.n_features} feature(s), target {args.target!r} ...", flush=True)
    trainer = Trainer(config, data)
    trainer.start()
    trainer.wait()
    h = trainer.history
    r = h.latest
    val = f", val loss {r.val_loss:.4g}" if r is not None and r.val_loss is not None else ""
    print(f"{trainer.state}: {len(h)} epoch(s), loss {r.loss:.4g}{val}" if r else trainer.state)
    from .diagnosis import diagnose

    from .render.findings import findings_text

    findings = diagnose(h, data)
    to_act = [f for f in findings if f.actionable]
    print()
    print(findings_text(findings))
    print()
    if args.report:
        from .render.report import write_report

        write_report(args.report, h, config=config, findings=findings, title=f"lstm-widgets diagnose {args.csv}")
        print(f"report written to {args.report}")
    if not to_act:
        print("Healthy: nothing to fix with these settings.")
        return 0
    patch: dict = {}
    for f in to_act:
        patch.update(f.patch or {})
    try:
        fixed = config.replace(**patch)
    except ValueError:
        fixed = config
    print("Keras code with the fixes applied:" if patch else "Keras code for these settings:")
    print()
    print(fixed.to_keras_code(data.n_timesteps, data.n_features))
    return 1


def _series_data(args):
    df = _load_csv(args)
    from .data import SequenceData

    try:
        return SequenceData.from_series(df, lookback=args.lookback, target=args.target, name=Path(args.csv).stem)
    except ValueError as exc:
        raise _BadInput(str(exc)) from None


def _progress_line(sweep, width: int = 24) -> str:
    n = max(1, len(sweep))
    filled = round(width * sweep.done / n)
    return f"[{'#' * filled}{'.' * (width - filled)}] {sweep.progress_text()}"


def _sweep(args) -> int:
    from .config import TrainConfig
    from .options import grid_from_arguments

    try:
        grid, base = grid_from_arguments(args)
        config = TrainConfig().replace(**base)
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    if not grid and args.seeds <= 1:
        raise _BadInput("nothing to sweep: give an option several comma-separated values, e.g. "
                        "--optimizer adam,sgd --learning-rate 1e-3,1e-2 (or --seeds 3).")
    if args.seeds < 1:
        raise _BadInput(f"--seeds must be 1 or more; got {args.seeds}.")
    data = _series_data(args)
    from .sweep import Sweep

    try:
        sweep = Sweep(data, grid=grid or {"seed": [config.seed + k for k in range(args.seeds)]}, base=config,
                      seeds=args.seeds if grid else 1, client=args.scheduler, max_runs=args.max_runs)
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    print(f"sweeping {len(sweep)} runs of {config.epochs} epochs on {len(data.X_train)} windows of "
          f"{args.lookback} steps, target {args.target!r} ...", flush=True)
    tty = sys.stderr.isatty()
    last = [""]

    def show() -> None:
        line = _progress_line(sweep)
        if line != last[0]:
            last[0] = line
            print(("\r" + line.ljust(100)) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    sweep.on_update(show)
    try:
        sweep.run(wait=True)
    except KeyboardInterrupt:
        print("\nstopping the sweep ...", file=sys.stderr, flush=True)
        sweep.stop(wait=True)
    except RuntimeError as exc:  # no cluster at --scheduler, ...
        cause = exc.__cause__
        raise _BadInput(str(cause if isinstance(cause, ValueError) else exc)) from None
    finally:
        if args.scheduler is None:
            from .sweep import close_local_cluster

            close_local_cluster()
    if tty:
        print(file=sys.stderr)
    print(sweep.where)
    df = sweep.results
    shown = ["run"] + sweep.varying + ["status", "best_val_loss", "final_val_loss", "step_ratio", "finding"]
    print(df.sort_values("best_val_loss", na_position="last")[shown].to_string(index=False))
    try:
        best = sweep.best()
        print(f"best: run {best.index} ({', '.join(f'{k}={getattr(best.config, k)!r}' for k in sweep.varying)})")
    except ValueError as exc:
        print(f"best: none ({exc})")
    if args.out:
        df.to_csv(args.out, index=False)
        print(f"results written to {args.out}")
    if args.report:
        sweep.report(args.report, title=f"lstm-widgets sweep {args.csv}")
        print(f"report written to {args.report}")
    return 1 if (df["status"] == "failed").any() else 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _BadInput(message)


def _parser() -> argparse.ArgumentParser:
    from .options import add_grid_arguments, add_setting_arguments

    p = _Parser(prog="lstm-widgets", description="Why is my LSTM failing to update its weights?")
    sub = p.add_subparsers(dest="command", metavar="{lessons,diagnose,sweep}")
    le = sub.add_parser("lessons", help="copy the lesson notebooks into DIR and open JupyterLab there")
    le.add_argument("dir", nargs="?", default="lstm-widgets-lessons", metavar="DIR",
                    help="folder for the lessons (default: ./lstm-widgets-lessons)")
    le.add_argument("--no-browser", action="store_true", help="start JupyterLab without opening a browser")
    le.add_argument("--no-lab", action="store_true", help="only copy the lessons; do not start JupyterLab")
    dg = sub.add_parser("diagnose", help="train on a CSV time series headless and print the diagnosis")
    dg.add_argument("csv", metavar="DATA.csv", help="a CSV file, one row per time step, numeric columns")
    dg.add_argument("--target", required=True, help="the column to predict")
    dg.add_argument("--lookback", required=True, type=int, help="time steps per input window")
    add_setting_arguments(dg)
    dg.add_argument("--report", metavar="FILE.html", help="also write a self-contained HTML report")
    sw = sub.add_parser("sweep", help="train every combination of settings on a CSV time series, on Dask")
    sw.add_argument("csv", metavar="DATA.csv", help="a CSV file, one row per time step, numeric columns")
    sw.add_argument("--target", required=True, help="the column to predict")
    sw.add_argument("--lookback", required=True, type=int, help="time steps per input window")
    add_grid_arguments(sw)
    sw.add_argument("--seeds", type=int, default=1, metavar="K", help="runs per combination (seeds seed..seed+K-1)")
    sw.add_argument("--max-runs", type=int, default=None, metavar="N", help="allow more than 500 runs, up to N")
    sw.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="a Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: a local cluster on this machine)")
    sw.add_argument("--out", metavar="FILE.csv", help="write the table of runs as CSV")
    sw.add_argument("--report", metavar="FILE.html", help="also write a self-contained HTML report")
    for s in (le, dg, sw):
        s.error = lambda message, _p=s: (_ for _ in ()).throw(_BadInput(f"{_p.prog}: {message}"))
    return p


def main(argv=None) -> int:
    """Entry point of ``lstm-widgets`` and ``jupyter lstm-widgets``; returns the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "lessons":
            return _lessons(args)
        if args.command == "sweep":
            return _sweep(args)
        return _diagnose(args)
    except _BadInput as exc:
        print(f"lstm-widgets: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
