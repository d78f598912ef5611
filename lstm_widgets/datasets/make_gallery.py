"""Make the saved runs of the gallery notebook (notebooks/gallery_diagnose_this_run.ipynb):
real training runs where a diagnosis rule misfires or where its finding needs confirming.

Each case trains one run with :class:`lstm_widgets.Trainer` and writes its History with
``history.to_json()`` to ``gallery/<case>.json``; ``gallery/cases.json`` holds, for every
case, the ``load_dataset`` options and the TrainConfig it was trained with (so the notebook
rebuilds exactly the same data) and the finding code the case is about. Before writing, the
script checks that today's ``diagnose()`` still reports that finding on the run: when a
rule change removes it, the case must be re-picked, and the script says so and stops.

Deterministic: every run is seeded (TrainConfig.seed, and the generated datasets' own
seed). On one machine a second run writes the same numbers, all but the epochs' wall
times (``time_s``); on another CPU or TensorFlow build they may differ in the last digits
(tests/test_gallery.py makes one case again and compares).

Run: ``python lstm_widgets/datasets/make_gallery.py`` (every case), or
``--case lr_too_high_false_alarm`` for one; ``--out DIR`` writes somewhere else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

GALLERY = Path(__file__).with_name("gallery")

#: The corpus's recipe settings (tests/support/corpus.py): a 16-unit LSTM, batches of 32, 12 epochs.
_RECIPE = {"units": 16, "batch_size": 32, "epochs": 12}

CASES: dict[str, dict] = {
    # The evaluation corpus's healthy/sine/sgd-momentum recipe at seed 4, the one seed of
    # the five whose run diagnose() calls "learning rate too high" (its fresh part).
    "lr_too_high_false_alarm": {
        "finding": "lr_too_high",
        "title": "A healthy run flagged \"learning rate too high\"",
        "dataset": {"name": "sine", "n_samples": 512, "seq_len": 20},
        "config": {**_RECIPE, "optimizer": "sgd", "learning_rate": 0.02, "momentum": 0.9, "seed": 4},
    },
    # The corpus's not_learning/echo60/adam at seed 0: recall the first of 60 values.
    "not_learning_echo": {
        "finding": "not_learning",
        "title": "Weights that do not move, or weights that move to no use?",
        "dataset": {"name": "echo", "n_samples": 512, "seq_len": 60},
        "config": {**_RECIPE, "optimizer": "adam", "learning_rate": 3e-3, "seed": 0},
    },
    # Yearly tree-ring widths with an 80-year lookback: the gradient dies out long before
    # the window's first year, while the forecaster beats repeating last year's width.
    "vanishing_recent_past": {
        "finding": "vanishing_gradients",
        "title": "Vanishing gradients on a forecaster that only needs the recent past",
        "dataset": {"name": "treering", "n_samples": 800, "seq_len": 80},
        "config": {**_RECIPE, "optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "seed": 0},
    },
}


def train(name: str):
    """(history, data, findings) of one case, trained afresh."""
    from lstm_widgets import TrainConfig, Trainer, diagnose, load_dataset

    case = CASES[name]
    data = load_dataset(**case["dataset"])
    trainer = Trainer(TrainConfig(**case["config"]), data)
    trainer.start()
    if not trainer.wait(600):
        raise RuntimeError(f"{name}: the run did not finish in 10 minutes")
    trainer.close()
    return trainer.history, data, diagnose(trainer.history, data)


def write_index(out: Path) -> Path:
    """cases.json: every case's finding, title, dataset options and settings."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cases.json"
    path.write_text(json.dumps(CASES, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def make(name: str, out: Path = GALLERY) -> Path:
    """Train one case, check its finding, write ``<out>/<name>.json``; returns the path."""
    history, _, findings = train(name)
    codes = [f.code for f in findings]
    if CASES[name]["finding"] not in codes:
        raise SystemExit(f"{name}: diagnose() no longer reports {CASES[name]['finding']!r} on this run "
                         f"(it reports {codes}): the gallery case must be re-picked.")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    history.to_json(path)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=sorted(CASES), action="append",
                   help="a case to make (repeatable); default: every case")
    p.add_argument("--out", type=Path, default=GALLERY, help=f"where to write (default: {GALLERY})")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    write_index(args.out)
    for name in args.case or list(CASES):
        path = make(name, args.out)
        print(f"wrote {path} ({path.stat().st_size / 1000:.0f} kB)")  # the script's own output, not the library's
    return 0


if __name__ == "__main__":
    sys.exit(main())
