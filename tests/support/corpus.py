"""The labelled corpus the diagnosis is evaluated on: real training runs, each designed to
show one way an LSTM fails to update its weights (or a healthy recipe), on generated data
and on real public-domain series (lstm_widgets/datasets/SOURCES.md).

A case's label is confirmed by the run's OUTCOME, never by the diagnosis:

- by measurement of what happened: "nonfinite" (the run diverged), "exploding_gradients"
  (the largest pre-clip gradient norm grew 100x over the first epoch's mean),
  "stalled_weights" (a layer moved less than a thousandth of the fastest one over the
  run), "vanishing_gradients" (the model did not beat the mean while the gradient at the
  first time step was under 1e-3 of the last one's), "not_learning" (the best validation
  loss of the last five epochs is within 5% of always predicting the mean, or worse),
  "behind_persistence" (the same against repeating the last value, while beating the
  mean), "healthy" (the validation loss is at most 0.8x the mean baseline and 0.95x
  persistence, no divergence);
- or by a counterfactual run with the designed fix (``Case.fix``): the label holds when
  the fix lowers the validation MSE, in the target's own units, by at least 10%
  (learning rate too high or too low, unscaled inputs or target, clipping too tight).

Seeds 0 and 1 of every case are the part the thresholds may be tuned on; seeds 2 and 3
of every case, and every case marked ``held_out`` (series never looked at while tuning),
are held apart and reported on their own. The last seed of every case is the fresh part,
run only for a final report, never tuned on. Its history, told so nothing is hidden: seed 3
was the first fresh part, added after the held-apart part had shown two failures (fixed:
see the git log); its one miss (an unscaled target whose run was below half the mean
baseline but three times behind persistence, so it counted as converged) led to a fix of
"converged", after which seed 3 counts with the held-apart part and seed 4 is the fresh
part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SEEDS = (0, 1, 2, 3, 4)
#: The seeds of every case that stay out of tuning (with the held-out cases at every seed).
HELD_OUT_SEEDS = (2, 3)
#: The seed of the fresh part, never tuned on (see the module docstring).
FRESH_SEED = 4
#: A designed fix confirms its label when it lowers the validation MSE (target units) by this.
FIX_HELPS = 0.10
NOT_LEARNING_SHARE = 0.95
HEALTHY_VS_MEAN = 0.8
HEALTHY_VS_PERSISTENCE = 0.95
EXPLODE_GROWTH = 100.0
STALL_SHARE = 1e-3
VANISH_FIRST_STEP = 1e-3


@dataclass(frozen=True)
class Case:
    """One designed training run (trained at every seed of SEEDS).

    Attributes:
        name: "code/dataset/recipe", unique.
        expected: The finding code the diagnosis should report, or "healthy".
        dataset: ``load_dataset`` keyword arguments.
        config: TrainConfig keyword arguments (the seed is added per run).
        fix: The designed fix whose effect confirms the label (counterfactual codes only).
        then: A live change after the first ``config["epochs"]`` epochs:
            ``{"set": {...}, "epochs": n}`` (e.g. a decayed learning rate).
        held_out: The whole case stays out of tuning (data never looked at while tuning).
    """

    name: str
    expected: str
    dataset: dict[str, Any]
    config: dict[str, Any]
    fix: dict[str, Any] = field(default_factory=dict)
    then: dict[str, Any] | None = None
    held_out: bool = False

    def held_apart(self, seed: int) -> bool:
        return self.held_out or seed in HELD_OUT_SEEDS

    def part(self, seed: int) -> str:
        """"tuned", "held apart" or "fresh" (see the module docstring)."""
        return "fresh" if seed == FRESH_SEED else "held apart" if self.held_apart(seed) else "tuned"


#: Findings that come along with an expected one because they share its cause or follow
#: from it; any other problem-severity finding on a problem case is a false alarm.
COMPANIONS: dict[str, frozenset[str]] = {
    # blown-up weights saturate every gate: the gradient through time dies and layers freeze
    "nonfinite": frozenset({"exploding_gradients", "lr_too_high", "unscaled_inputs", "unscaled_target", "not_learning",
                            "vanishing_gradients", "stalled_weights"}),
    "exploding_gradients": frozenset({"nonfinite", "lr_too_high", "unscaled_inputs", "unscaled_target",
                                      "stalled_weights", "not_learning", "vanishing_gradients"}),
    "lr_too_high": frozenset({"exploding_gradients", "nonfinite", "vanishing_gradients", "stalled_weights",
                              "not_learning", "behind_persistence"}),
    "lr_too_low": frozenset({"stalled_weights", "not_learning", "behind_persistence"}),
    "unscaled_inputs": frozenset({"exploding_gradients", "stalled_weights", "vanishing_gradients", "lr_too_high",
                                  "not_learning", "behind_persistence", "unscaled_target"}),
    "unscaled_target": frozenset({"not_learning", "behind_persistence", "stalled_weights", "lr_too_low",
                                  "unscaled_inputs", "vanishing_gradients"}),
    "clipping_too_tight": frozenset({"lr_too_low", "stalled_weights", "not_learning", "behind_persistence"}),
    "vanishing_gradients": frozenset({"lr_too_low", "stalled_weights", "not_learning"}),
    "stalled_weights": frozenset({"unscaled_inputs", "vanishing_gradients", "lr_too_low", "not_learning",
                                  "behind_persistence"}),
    "not_learning": frozenset({"vanishing_gradients", "lr_too_low", "stalled_weights", "lr_too_high"}),
    "behind_persistence": frozenset({"lr_too_low"}),
    "healthy": frozenset(),
}

G = 512  # sequences of a generated dataset
R = 800  # windows of a real series (first ones)
_S = {"units": 16, "batch_size": 32, "epochs": 12}


def _c(name, expected, dataset, config, fix=None, then=None, held_out=False) -> Case:
    return Case(name, expected, dataset, {**_S, **config}, fix or {}, then, held_out)


ADDING10 = {"name": "adding", "n_samples": G, "seq_len": 10}
ADDING60 = {"name": "adding", "n_samples": G, "seq_len": 60}
ADDING100 = {"name": "adding", "n_samples": G, "seq_len": 100}
ECHO60 = {"name": "echo", "n_samples": G, "seq_len": 60}
ECHO100 = {"name": "echo", "n_samples": G, "seq_len": 100}
SINE = {"name": "sine", "n_samples": G, "seq_len": 20}
MULTI = {"name": "multiscale", "n_samples": G, "seq_len": 20}
WEATHER = {"name": "seattle_weather"}
TEMPS = {"name": "seattle_temps", "n_samples": R}
EMPLOY = {"name": "us_employment"}
SF = {"name": "sf_temps", "n_samples": R}
TREE = {"name": "treering", "n_samples": R}


ST = {"scale_target": True}
NO = {"scaler": "none"}

CASES = (
    # -- nonfinite: the run diverged ------------------------------------------------------------
    _c("nonfinite/multiscale/sgd5", "nonfinite", MULTI, {"optimizer": "sgd", "learning_rate": 5.0, **NO, "epochs": 8}),
    _c("nonfinite/sine/sgd10", "nonfinite", SINE, {"optimizer": "sgd", "learning_rate": 10.0, "epochs": 8}),
    _c("nonfinite/weather/sgd1", "nonfinite", WEATHER, {"optimizer": "sgd", "learning_rate": 1.0, **NO, "epochs": 8}),
    # (Adam, RMSprop and Nadam hardly ever reach NaN: their step is about the learning rate;
    # even at 10 they end "not learning". The second optimizer here is SGD with momentum.)
    _c("nonfinite/sine/momentum3", "nonfinite", SINE, {"optimizer": "sgd", "learning_rate": 3.0, "momentum": 0.9,
                                                       "epochs": 8}),
    _c("nonfinite/multiscale/momentum", "nonfinite", MULTI, {"optimizer": "sgd", "learning_rate": 1.0, "momentum": 0.9,
                                                             **NO, "epochs": 8}),
    _c("nonfinite/adding10/momentum", "nonfinite", ADDING10, {"optimizer": "sgd", "learning_rate": 2.0, "momentum": 0.9,
                                                              "epochs": 8}),
    _c("nonfinite/sf/sgd1", "nonfinite", SF, {"optimizer": "sgd", "learning_rate": 1.0, **NO, "epochs": 8},
       held_out=True),
    # -- exploding_gradients: the gradient norm grows by orders of magnitude ------------------
    _c("exploding/multiscale/sgd1", "exploding_gradients", {**MULTI, "n_samples": 256},
       {"optimizer": "sgd", "learning_rate": 1.0, **NO, "epochs": 8, "units": 8}),
    _c("exploding/adding10/sgd1", "exploding_gradients", ADDING10, {"optimizer": "sgd", "learning_rate": 1.0,
                                                                    "epochs": 10}),
    _c("exploding/sine/sgd3", "exploding_gradients", SINE, {"optimizer": "sgd", "learning_rate": 3.0, "epochs": 8}),
    _c("exploding/sine/momentum", "exploding_gradients", SINE, {"optimizer": "sgd", "learning_rate": 2.0,
                                                                "momentum": 0.9, "epochs": 8}),
    _c("exploding/multiscale/momentum", "exploding_gradients", {**MULTI, "n_samples": 256},
       {"optimizer": "sgd", "learning_rate": 1.0, "momentum": 0.9, **NO, "epochs": 8, "units": 8}),
    _c("exploding/sf/sgd2", "exploding_gradients", SF, {"optimizer": "sgd", "learning_rate": 2.0, **ST, "epochs": 8},
       held_out=True),
    # -- lr_too_high: a learning rate 10x lower does at least 10% better ---------------------------
    _c("lr_too_high/adding10/adam.3", "lr_too_high", ADDING10, {"optimizer": "adam", "learning_rate": 0.3},
       {"learning_rate": 0.03}),
    _c("lr_too_high/sine/adam.3", "lr_too_high", SINE, {"optimizer": "adam", "learning_rate": 0.3},
       {"learning_rate": 0.03}),
    _c("lr_too_high/sine/rmsprop.3", "lr_too_high", SINE, {"optimizer": "rmsprop", "learning_rate": 0.3},
       {"learning_rate": 0.03}),
    _c("lr_too_high/weather/adam.3", "lr_too_high", WEATHER, {"optimizer": "adam", "learning_rate": 0.3, **ST},
       {"learning_rate": 0.03}),
    _c("lr_too_high/weather/rmsprop.1", "lr_too_high", WEATHER, {"optimizer": "rmsprop", "learning_rate": 0.1, **ST},
       {"learning_rate": 0.01}),
    _c("lr_too_high/sf/adam.3", "lr_too_high", SF, {"optimizer": "adam", "learning_rate": 0.3, **ST},
       {"learning_rate": 0.03}, held_out=True),
    # -- lr_too_low: a learning rate 30x higher does at least 10% better ---------------------------
    _c("lr_too_low/sine/sgd1e-3", "lr_too_low", SINE, {"optimizer": "sgd", "learning_rate": 1e-3},
       {"learning_rate": 0.03}),
    _c("lr_too_low/adding10/sgd1e-3", "lr_too_low", ADDING10, {"optimizer": "sgd", "learning_rate": 1e-3},
       {"learning_rate": 0.03}),
    _c("lr_too_low/weather/adam1e-5", "lr_too_low", WEATHER, {"optimizer": "adam", "learning_rate": 1e-5, **ST},
       {"learning_rate": 1e-3}),
    _c("lr_too_low/treering/adam1e-5", "lr_too_low", TREE, {"optimizer": "adam", "learning_rate": 1e-5},
       {"learning_rate": 1e-3}),
    _c("lr_too_low/temps/sgd1e-4", "lr_too_low", TEMPS, {"optimizer": "sgd", "learning_rate": 1e-4, **ST},
       {"learning_rate": 0.01}),
    _c("lr_too_low/sf/adam1e-5", "lr_too_low", SF, {"optimizer": "adam", "learning_rate": 1e-5, **ST},
       {"learning_rate": 1e-3}, held_out=True),
    # -- unscaled_inputs: a standard scaler does at least 10% better ---------------------------------
    _c("unscaled_inputs/multiscale/adam", "unscaled_inputs", MULTI, {"optimizer": "adam", "learning_rate": 3e-3, **NO},
       {"scaler": "standard"}),
    _c("unscaled_inputs/multiscale/sgd", "unscaled_inputs", MULTI, {"optimizer": "sgd", "learning_rate": 0.05, **NO},
       {"scaler": "standard"}),
    _c("unscaled_inputs/weather/adam", "unscaled_inputs", WEATHER, {"optimizer": "adam", "learning_rate": 3e-3, **NO,
                                                                    **ST}, {"scaler": "standard"}),
    _c("unscaled_inputs/employ/adam", "unscaled_inputs", EMPLOY, {"optimizer": "adam", "learning_rate": 3e-3, **NO,
                                                                  **ST, "epochs": 20, "batch_size": 16},
       {"scaler": "standard"}),
    _c("unscaled_inputs/sf/sgd", "unscaled_inputs", SF, {"optimizer": "sgd", "learning_rate": 0.01, **NO, **ST},
       {"scaler": "standard"}, held_out=True),
    # -- unscaled_target: scaling the target does at least 10% better ---------------------------------
    _c("unscaled_target/weather/adam", "unscaled_target", WEATHER, {"optimizer": "adam", "learning_rate": 3e-3},
       {"scale_target": True}),
    _c("unscaled_target/temps/adam", "unscaled_target", TEMPS, {"optimizer": "adam", "learning_rate": 3e-3},
       {"scale_target": True}),
    _c("unscaled_target/employ/adam", "unscaled_target", EMPLOY, {"optimizer": "adam", "learning_rate": 3e-3,
                                                                  "epochs": 20, "batch_size": 16},
       {"scale_target": True}),
    _c("unscaled_target/temps/sgd", "unscaled_target", TEMPS, {"optimizer": "sgd", "learning_rate": 1e-3},
       {"scale_target": True}),
    _c("unscaled_target/sf/adam", "unscaled_target", SF, {"optimizer": "adam", "learning_rate": 3e-3},
       {"scale_target": True}, held_out=True),
    # -- clipping_too_tight: a threshold 100x higher does at least 10% better --------------------------
    _c("clipping_too_tight/sine/sgd", "clipping_too_tight", SINE, {"optimizer": "sgd", "learning_rate": 0.05,
                                                                   "clipping": "clipnorm", "clip_threshold": 1e-3},
       {"clip_threshold": 0.1}),
    _c("clipping_too_tight/adding10/sgd", "clipping_too_tight", ADDING10,
       {"optimizer": "sgd", "learning_rate": 0.1, "clipping": "clipnorm", "clip_threshold": 1e-3},
       {"clip_threshold": 0.1}),
    _c("clipping_too_tight/weather/momentum", "clipping_too_tight", WEATHER,
       {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "clipping": "clipnorm", "clip_threshold": 1e-3,
        **ST}, {"clip_threshold": 0.1}),
    _c("clipping_too_tight/sine/global", "clipping_too_tight", SINE,
       {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.5, "clipping": "global_clipnorm",
        "clip_threshold": 1e-3}, {"clip_threshold": 0.1}),
    _c("clipping_too_tight/sf/sgd", "clipping_too_tight", SF, {"optimizer": "sgd", "learning_rate": 0.05,
                                                               "clipping": "clipnorm", "clip_threshold": 1e-3, **ST},
       {"clip_threshold": 0.1}, held_out=True),
    # -- vanishing_gradients: a memory task the model cannot learn, the gradient gone at t=0 ------------
    _c("vanishing/echo100/simple_rnn", "vanishing_gradients", ECHO100, {"optimizer": "adam", "learning_rate": 3e-3,
                                                                        "cell": "simple_rnn"}),
    _c("vanishing/adding100/simple_rnn-sgd", "vanishing_gradients", ADDING100,
       {"optimizer": "sgd", "learning_rate": 0.05, "cell": "simple_rnn"}),
    _c("vanishing/adding100/simple_rnn", "vanishing_gradients", ADDING100,
       {"optimizer": "adam", "learning_rate": 3e-3, "cell": "simple_rnn"}),
    _c("vanishing/echo100/lstm-sgd", "vanishing_gradients", ECHO100, {"optimizer": "sgd", "learning_rate": 0.05}),
    # the tree ring 100 years before: a memory task on a real series with little autocorrelation
    _c("vanishing/treering-first/simple_rnn", "vanishing_gradients", {**TREE, "seq_len": 100, "recall_first": True},
       {"optimizer": "adam", "learning_rate": 3e-3, "cell": "simple_rnn"}),
    _c("vanishing/treering-first/lstm-sgd", "vanishing_gradients", {**TREE, "seq_len": 100, "recall_first": True},
       {"optimizer": "sgd", "learning_rate": 0.05}),
    # -- stalled_weights: a layer frozen while the others move ---------------------------------------
    _c("stalled/multiscale/sgd", "stalled_weights", {**MULTI, "n_samples": 256},
       {"optimizer": "sgd", "learning_rate": 0.05, **NO, "epochs": 8, "units": 8}),
    _c("stalled/multiscale/momentum", "stalled_weights", {**MULTI, "n_samples": 256},
       {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, **NO, "epochs": 8, "units": 8}),
    _c("stalled/employ/sgd", "stalled_weights", EMPLOY, {"optimizer": "sgd", "learning_rate": 0.01, **NO, **ST,
                                                         "batch_size": 16}),
    _c("stalled/employ/momentum", "stalled_weights", EMPLOY, {"optimizer": "sgd", "learning_rate": 0.01,
                                                              "momentum": 0.9, **NO, **ST, "batch_size": 16}),
    # a calendar-year column fed raw (about 2010): the timestamp mistake
    _c("stalled/temps-year/sgd", "stalled_weights", {**TEMPS, "year_feature": 2010.0},
       {"optimizer": "sgd", "learning_rate": 0.01, **NO, **ST, "epochs": 8}),
    _c("stalled/temps-year/momentum", "stalled_weights", {**TEMPS, "year_feature": 2010.0},
       {"optimizer": "sgd", "learning_rate": 0.005, "momentum": 0.9, **NO, **ST, "epochs": 8}),
    _c("stalled/weather-year/sgd", "stalled_weights", {**WEATHER, "year_feature": 2012.0, "per_year": 365},
       {"optimizer": "sgd", "learning_rate": 0.01, **NO, **ST, "epochs": 8}),
    # -- not_learning: no better than always predicting the mean --------------------------------------
    _c("not_learning/echo60/adam", "not_learning", ECHO60, {"optimizer": "adam", "learning_rate": 3e-3}),
    _c("not_learning/adding60/simple_rnn", "not_learning", ADDING60, {"optimizer": "adam", "learning_rate": 3e-3,
                                                                       "cell": "simple_rnn"}),
    _c("not_learning/echo60/sgd", "not_learning", ECHO60, {"optimizer": "sgd", "learning_rate": 0.05}),
    _c("not_learning/adding60/adam", "not_learning", ADDING60, {"optimizer": "adam", "learning_rate": 1e-3}),
    # targets shuffled against the inputs (a misaligned target): nothing there to learn
    _c("not_learning/weather-shuffled/adam", "not_learning", {**WEATHER, "shuffled": 0},
       {"optimizer": "adam", "learning_rate": 3e-3, **ST}),
    _c("not_learning/temps-shuffled/momentum", "not_learning", {**TEMPS, "shuffled": 0},
       {"optimizer": "sgd", "learning_rate": 0.02, "momentum": 0.9, **ST}),
    # -- behind_persistence: beats the mean, not "tomorrow equals today" -----------------------------
    _c("behind/temps/sgd", "behind_persistence", TEMPS, {"optimizer": "sgd", "learning_rate": 0.01, **ST}),
    _c("behind/sine/sgd", "behind_persistence", SINE, {"optimizer": "sgd", "learning_rate": 0.01}),
    _c("behind/weather/sgd", "behind_persistence", WEATHER, {"optimizer": "sgd", "learning_rate": 0.01, **ST}),
    _c("behind/employ/adam", "behind_persistence", EMPLOY, {"optimizer": "adam", "learning_rate": 3e-3, **ST,
                                                            "epochs": 20, "batch_size": 16}),
    _c("behind/sf/sgd", "behind_persistence", SF, {"optimizer": "sgd", "learning_rate": 0.01, **ST}, held_out=True),
    # -- healthy: varied recipes that train well ------------------------------------------------------
    _c("healthy/sine/adam", "healthy", SINE, {"optimizer": "adam", "learning_rate": 3e-3}),
    _c("healthy/multiscale/adam", "healthy", MULTI, {"optimizer": "adam", "learning_rate": 3e-3}),
    _c("healthy/adding10/adam", "healthy", ADDING10, {"optimizer": "adam", "learning_rate": 3e-3}),
    _c("healthy/weather/adam-celsius", "healthy", WEATHER, {"optimizer": "adam", "learning_rate": 3e-3, **ST}),
    _c("healthy/temps/adam", "healthy", TEMPS, {"optimizer": "adam", "learning_rate": 3e-3, **ST}),
    _c("healthy/sine/sgd-momentum", "healthy", SINE, {"optimizer": "sgd", "learning_rate": 0.02, "momentum": 0.9}),
    _c("healthy/temps/sgd-momentum", "healthy", TEMPS, {"optimizer": "sgd", "learning_rate": 0.02, "momentum": 0.9,
                                                        **ST}),
    _c("healthy/weather/rmsprop", "healthy", WEATHER, {"optimizer": "rmsprop", "learning_rate": 1e-3, **ST,
                                                       "epochs": 20}),
    _c("healthy/multiscale/rmsprop", "healthy", MULTI, {"optimizer": "rmsprop", "learning_rate": 1e-3}),
    _c("healthy/temps/nadam", "healthy", TEMPS, {"optimizer": "nadam", "learning_rate": 2e-3, **ST}),
    _c("healthy/adding10/nadam", "healthy", ADDING10, {"optimizer": "nadam", "learning_rate": 3e-3}),
    _c("healthy/sine/adam-tight-clip", "healthy", SINE, {"optimizer": "adam", "learning_rate": 3e-3,
                                                         "clipping": "clipnorm", "clip_threshold": 1e-3}),
    _c("healthy/weather/adam-clipvalue", "healthy", WEATHER, {"optimizer": "adam", "learning_rate": 3e-3,
                                                              "clipping": "clipvalue", "clip_threshold": 0.1, **ST}),
    _c("healthy/sine/small-batches", "healthy", SINE, {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 4,
                                                       "epochs": 8}),
    _c("healthy/temps/long-lookback", "healthy", {**TEMPS, "seq_len": 120}, {"optimizer": "adam",
                                                                             "learning_rate": 3e-3, **ST}),
    _c("healthy/temps/560-steps", "healthy", {"name": "seattle_temps", "n_samples": 6000},
       {"optimizer": "adam", "learning_rate": 2e-3, "batch_size": 8, "epochs": 8, **ST}),
    _c("healthy/sine/decayed-lr", "healthy", SINE, {"optimizer": "adam", "learning_rate": 3e-3},
       then={"set": {"learning_rate": 3e-5}, "epochs": 6}),
    _c("healthy/sine/gru", "healthy", SINE, {"optimizer": "adam", "learning_rate": 3e-3, "cell": "gru"}),
    _c("healthy/weather/two-layers", "healthy", WEATHER, {"optimizer": "adam", "learning_rate": 3e-3, "layers": 2,
                                                          **ST, "epochs": 20}),
    _c("healthy/sf/adam", "healthy", SF, {"optimizer": "adam", "learning_rate": 3e-3, **ST}, held_out=True),
    _c("healthy/sf/sgd-momentum", "healthy", SF, {"optimizer": "sgd", "learning_rate": 0.02, "momentum": 0.9, **ST},
       held_out=True),
)


def make_data(spec: dict[str, Any]):
    """The SequenceData of a case: ``load_dataset(**spec)``, with two corpus-only twists:

    - ``"shuffled": seed`` permutes the targets of each split: they no longer depend on
      what the model sees (a misaligned target, the classic data bug): nothing can be learned;
    - ``"recall_first": True`` makes the target the first value of each window (of the
      series' own target feature): a memory task on real data, and no persistence;
    - ``"year_feature": start`` adds an input feature holding the calendar year of each
      step (``start`` + step / steps per year, e.g. 2010.0 for hourly data of 2010, with
      ``"per_year"`` steps a year): the common mistake of feeding a timestamp column
      unscaled.
    """
    import numpy as np

    from lstm_widgets import SequenceData, load_dataset

    spec = dict(spec)
    shuffled = spec.pop("shuffled", None)
    recall_first = spec.pop("recall_first", False)
    year, per_year = spec.pop("year_feature", None), spec.pop("per_year", 8760)
    d = load_dataset(**spec)
    if shuffled is None and not recall_first and year is None:
        return d
    X_train, X_val, y_train, y_val, names = d.X_train, d.X_val, d.y_train, d.y_val, list(d.feature_names)
    if year is not None:
        def with_year(X, first):
            t = (first + np.arange(X.shape[0])[:, None] + np.arange(X.shape[1])[None, :]) / per_year + year
            return np.concatenate([X, t[..., None].astype(np.float32)], axis=-1)
        X_train, X_val = with_year(X_train, 0), with_year(X_val, len(X_train))
        names.append("year")
    if recall_first:
        j = d.target_features[0]
        y_train, y_val = X_train[:, 0, j:j + 1].copy(), X_val[:, 0, j:j + 1].copy()
    if shuffled is not None:
        rng = np.random.default_rng(shuffled)
        y_train, y_val = y_train[rng.permutation(len(y_train))], y_val[rng.permutation(len(y_val))]
    return SequenceData(X_train, y_train, X_val, y_val, feature_names=names, name=d.name,
                        target_features=None if recall_first else d.target_features,
                        info={**d.info, "corpus": {"shuffled": shuffled, "recall_first": recall_first, "year": year}})


def cases(held_out: bool | None = None) -> list[Case]:
    """Every case (or only the held-out / only the tuned ones)."""
    return [c for c in CASES if held_out is None or c.held_out == held_out]


# -- outcome labels ----------------------------------------------------------------------------


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def last_val(history, n: int = 5) -> float:
    vals = [r.val_loss for r in history.run()[-n:] if r.val_loss is not None and _finite(r.val_loss)]
    return min(vals) if vals else math.inf


def confirmed(case: Case, history, units_mse: float, fixed_units_mse: float | None) -> bool:
    """Whether the run's outcome shows what the case was designed to show."""
    recs = history.run()
    status = history.run_status()
    last = recs[-1] if recs else None
    exp = case.expected
    if exp == "nonfinite":
        return status == "diverged"
    if exp == "exploding_gradients":
        first = recs[0].units["grad_pre_mean"]["global"] if recs else math.nan
        largest = max((r.units["grad_pre_max"]["global"] for r in recs), default=math.nan)
        return _finite(first) and first > 0 and (largest / first >= EXPLODE_GROWTH or not _finite(largest))
    if case.fix:
        return fixed_units_mse is not None and fixed_units_mse <= (1 - FIX_HELPS) * units_mse
    if last is None or status == "diverged":
        return False
    base, pers = last.baseline_loss, last.persistence_loss
    best = last_val(history)
    if exp == "not_learning":
        return _finite(base) and best >= NOT_LEARNING_SHARE * base
    if exp == "behind_persistence":
        return _finite(pers) and best >= NOT_LEARNING_SHARE * pers and best < NOT_LEARNING_SHARE * base
    if exp == "vanishing_gradients":
        g = last.grad_through_time
        return (_finite(base) and best >= NOT_LEARNING_SHARE * base and len(g) > 1 and g[-1] > 0
                and g[0] / g[-1] < VANISH_FIRST_STEP)
    if exp == "stalled_weights":
        layers = history.structure.layers
        moved = {name: recs[-1].units["delta_norm"].get(name, math.nan) for name in layers}
        # the whole run's movement: sum of the epochs' deltas, relative to the layer's size
        total = {name: sum(r.units["delta_norm"].get(name, 0.0) for r in recs)
                 / max(recs[-1].units["weight_norm"].get(name, 1.0), 1e-12) for name in moved}
        top = max(total.values(), default=0.0)
        return top > 0 and min(total.values()) <= STALL_SHARE * top
    if exp == "healthy":
        ok_mean = _finite(base) and best <= HEALTHY_VS_MEAN * base
        ok_pers = not _finite(pers) or best <= HEALTHY_VS_PERSISTENCE * pers
        return ok_mean and ok_pers
    raise ValueError(f"no outcome label for {exp!r}")
