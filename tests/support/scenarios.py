"""Small, real training runs that each produce one way an LSTM fails to update its
weights (and a few that train well). The diagnosis tests, the diagnosis benchmark and
the lessons share them.

Every scenario is deterministic (fixed data seed and ``TrainConfig.seed``) and small
enough to train in a few seconds on two CPU cores.

Example:
    >>> from support.scenarios import SCENARIOS, run_scenario
    >>> history, data = run_scenario(SCENARIOS["lr_too_low"])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Scenario", "SCENARIOS", "COMPANIONS", "run_scenario", "build_scenario"]


@dataclass(frozen=True)
class Scenario:
    """One deterministic training run and the finding it should produce.

    Attributes:
        name: A short identifier, e.g. "lr_too_low".
        config: TrainConfig keyword arguments.
        dataset: :func:`lstm_widgets.load_dataset` keyword arguments.
        expected: The finding code the diagnosis must report, or "healthy" for a good
            configuration (then no warning or problem may be reported at all).
        description: One line saying what the run does wrong (or right).
    """

    name: str
    config: dict[str, Any]
    dataset: dict[str, Any]
    expected: str
    description: str = ""

    @property
    def good(self) -> bool:
        """True for a good configuration, which must raise no warning or problem."""
        return self.expected == "healthy"


_SMALL = {"units": 8, "batch_size": 32, "seed": 0}

_LIST = [
    Scenario(
        "nonfinite",
        {**_SMALL, "optimizer": "sgd", "learning_rate": 5.0, "scaler": "none", "epochs": 6},
        {"name": "multiscale", "n_samples": 256, "seq_len": 20},
        "nonfinite",
        "Plain SGD with learning rate 5 on unscaled inputs in the thousands: the loss blows up.",
    ),
    Scenario(
        "exploding",
        {**_SMALL, "optimizer": "sgd", "learning_rate": 1.0, "scaler": "none", "epochs": 8},
        {"name": "multiscale", "n_samples": 256, "seq_len": 20},
        "exploding_gradients",
        "Plain SGD at learning rate 1 on unscaled inputs: the gradient norm grows ~10,000x "
        "per epoch for four epochs before the loss overflows.",
    ),
    Scenario(
        "stalled",
        {**_SMALL, "optimizer": "sgd", "learning_rate": 0.05, "scaler": "none", "epochs": 8},
        {"name": "multiscale", "n_samples": 256, "seq_len": 20},
        "stalled_weights",
        "SGD on unscaled inputs: the saturated LSTM layer stops changing while the output "
        "layer keeps moving.",
    ),
    Scenario(
        "lr_too_high",
        {**_SMALL, "optimizer": "adam", "learning_rate": 0.5, "batch_size": 16, "epochs": 10},
        {"name": "adding", "n_samples": 384, "seq_len": 10},
        "lr_too_high",
        "Adam at learning rate 0.5: every step overshoots, the loss zigzags instead of falling.",
    ),
    Scenario(
        "lr_too_low",
        {**_SMALL, "optimizer": "adam", "learning_rate": 1e-6, "epochs": 8},
        {"name": "sine", "n_samples": 384, "seq_len": 20},
        "lr_too_low",
        "Adam at learning rate 1e-6: the weights barely move and the loss stays flat.",
    ),
    Scenario(
        "unscaled_inputs",
        {**_SMALL, "optimizer": "adam", "learning_rate": 3e-3, "scaler": "none", "epochs": 8},
        {"name": "multiscale", "n_samples": 384, "seq_len": 20},
        "unscaled_inputs",
        "Features near 0.01, 1 and 3000 fed raw: the big one saturates the gates.",
    ),
    Scenario(
        "clipping_too_tight",
        {**_SMALL, "optimizer": "sgd", "learning_rate": 0.05, "clipping": "clipnorm",
         "clip_threshold": 1e-3, "epochs": 8},
        {"name": "sine", "n_samples": 384, "seq_len": 20},
        "clipping_too_tight",
        "clipnorm 0.001: every step is clipped to a crawl.",
    ),
    Scenario(
        "clipping_no_effect",
        {**_SMALL, "optimizer": "adam", "learning_rate": 3e-3, "clipping": "clipnorm",
         "clip_threshold": 1e4, "epochs": 8},
        {"name": "sine", "n_samples": 384, "seq_len": 20},
        "clipping_no_effect",
        "clipnorm 10000: far above every gradient norm, so it never clips.",
    ),
    Scenario(
        "vanishing",
        {**_SMALL, "optimizer": "sgd", "learning_rate": 0.01, "epochs": 6},
        {"name": "adding", "n_samples": 256, "seq_len": 100},
        "vanishing_gradients",
        "Adding problem over 100 steps with plain SGD: the gradient dies out long before "
        "it reaches the first marker.",
    ),
    Scenario(
        "good_sine",
        {**_SMALL, "optimizer": "adam", "learning_rate": 3e-3, "scaler": "standard", "epochs": 10},
        {"name": "sine", "n_samples": 384, "seq_len": 20},
        "healthy",
        "Adam 3e-3, standard scaler, on the sine data: trains well.",
    ),
    Scenario(
        "good_multiscale",
        {**_SMALL, "optimizer": "adam", "learning_rate": 3e-3, "scaler": "standard", "epochs": 10},
        {"name": "multiscale", "n_samples": 384, "seq_len": 20},
        "healthy",
        "The multiscale data once standardized, Adam 3e-3: trains well.",
    ),
    Scenario(
        "good_adding",
        {**_SMALL, "optimizer": "adam", "learning_rate": 3e-3, "scaler": "standard", "epochs": 10},
        {"name": "adding", "n_samples": 384, "seq_len": 10},
        "healthy",
        "A short adding problem, Adam 3e-3, standard scaler: trains well.",
    ),
]

#: Scenarios by name, in a stable order.
SCENARIOS: dict[str, Scenario] = {s.name: s for s in _LIST}

#: Findings that naturally come along with an expected one, because they share its
#: cause or follow from it: a run that diverges shows the exploding gradients and the
#: too-high steps that led there; inputs in the thousands saturate the gates, which
#: stalls their weights and kills the gradient through time; a too-high learning rate
#: inflates the weights into saturation (stalled gates, vanishing gradient); a clip
#: that shrinks every step looks like a too-low learning rate. In the benchmark a
#: problem-severity finding that is neither expected nor a companion is a false alarm.
#: worse_than_mean is a symptom, never a cause: it may accompany any real problem.
COMPANIONS: dict[str, frozenset[str]] = {
    "nonfinite": frozenset({"exploding_gradients", "lr_too_high", "unscaled_inputs", "worse_than_mean"}),
    "exploding_gradients": frozenset(
        {"nonfinite", "lr_too_high", "unscaled_inputs", "stalled_weights", "worse_than_mean"}
    ),
    "lr_too_high": frozenset(
        {"exploding_gradients", "nonfinite", "vanishing_gradients", "stalled_weights", "worse_than_mean"}
    ),
    "lr_too_low": frozenset({"stalled_weights", "worse_than_mean"}),
    "unscaled_inputs": frozenset(
        {"exploding_gradients", "stalled_weights", "vanishing_gradients", "lr_too_high", "worse_than_mean"}
    ),
    "clipping_too_tight": frozenset({"lr_too_low", "stalled_weights", "worse_than_mean"}),
    "clipping_no_effect": frozenset(),
    "vanishing_gradients": frozenset({"lr_too_low", "stalled_weights", "worse_than_mean"}),
    "stalled_weights": frozenset({"unscaled_inputs", "vanishing_gradients", "lr_too_low", "worse_than_mean"}),
    "healthy": frozenset(),
}



def build_scenario(scenario: Scenario):
    """The (TrainConfig, SequenceData) of a scenario, without training."""
    from lstm_widgets.config import TrainConfig
    from lstm_widgets.data import load_dataset

    return TrainConfig(**scenario.config), load_dataset(**scenario.dataset)


def run_scenario(scenario: Scenario, timeout: float = 300.0):
    """Train a scenario to the end.

    Args:
        scenario: A :class:`Scenario`, or the name of one in SCENARIOS.
        timeout: Seconds to wait for training before giving up. Defaults to 300.

    Returns:
        ``(history, data)``: the run's History and the raw SequenceData it trained on.

    Raises:
        ValueError: ``scenario`` is not a Scenario or a known scenario name.
        RuntimeError: training did not finish within ``timeout``.
    """
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise ValueError(
                f"scenario {scenario!r} is unknown; choose one of {', '.join(map(repr, SCENARIOS))}."
            )
        scenario = SCENARIOS[scenario]
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario or a scenario name; got {type(scenario).__name__}.")
    from lstm_widgets.engine.trainer import Trainer

    config, data = build_scenario(scenario)
    trainer = Trainer(config, data)
    trainer.start()
    if not trainer.wait(timeout):
        trainer.stop(wait=True)
        raise RuntimeError(f"Scenario {scenario.name!r} did not finish training within {timeout:g} s.")
    return trainer.history, data
