"""A sweep's grid: every combination of the listed settings (and seeds), each one a
validated TrainConfig, checked before anything is submitted."""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from ..config import SETTING, TrainConfig

__all__ = ["expand_grid", "RUN_LIMIT"]

#: More runs than this need an explicit ``max_runs=``: a typo in a grid (a range where a
#: list was meant) should not queue thousands of trainings.
RUN_LIMIT = 500


def _values(name: str, values: Any) -> list:
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise ValueError(
            f"grid[{name!r}] must be a list of values to try; got {values!r}. "
            f"For one value, write [{values!r}] (or set it in base=TrainConfig(...))."
        )
    out = [v.item() if hasattr(v, "item") else v for v in values]  # numpy scalars -> Python
    if not out:
        raise ValueError(f"grid[{name!r}] is empty: list at least one value, e.g. grid[{name!r}] = "
                         f"[{SETTING[name].default!r}].")
    seen = []
    for v in out:
        if v in seen:
            raise ValueError(f"grid[{name!r}] lists {v!r} twice; each value once.")
        seen.append(v)
    return out


def _seeds(seeds: Any, base: TrainConfig) -> list[int]:
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a number of seeds (1 or more) or a list of seeds; got {seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be 1 or more (the runs per combination); got {seeds}.")
        return [base.seed + k for k in range(seeds)]
    out = _values("seed", seeds)
    return [SETTING["seed"].validate(s) for s in out]


def expand_grid(grid: Mapping[str, Sequence], base: TrainConfig | None = None, seeds: Any = 1,
                max_runs: int | None = None) -> list[TrainConfig]:
    """Every combination of ``grid``'s values over ``base``, for each seed.

    Args:
        grid: ``{setting: [values]}``, e.g. ``{"optimizer": ["adam", "sgd"],
            "learning_rate": [1e-3, 1e-2]}``; settings are TrainConfig's.
        base: The settings every run starts from. Defaults to TrainConfig().
        seeds: How many seeds per combination (``base.seed``, ``base.seed + 1``, ...),
            or the list of seeds. Defaults to 1.
        max_runs: Allow more than RUN_LIMIT runs, up to this many.

    Returns:
        The runs' TrainConfigs, the grid's first setting varying slowest and the seed
        fastest.

    Raises:
        ValueError: an empty grid, an unknown setting, a value the setting refuses (the
            message names the setting, the value and what is allowed), ``seed`` in the grid
            and ``seeds`` > 1 at once, or too many runs.
    """
    base = TrainConfig() if base is None else base
    if not isinstance(base, TrainConfig):
        raise ValueError(f"base must be a TrainConfig; got {type(base).__name__}.")
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a dict of setting -> list of values; got {type(grid).__name__}.")
    if not grid:
        raise ValueError("grid is empty: name at least one setting and its values, e.g. "
                         "grid={'learning_rate': [1e-3, 1e-2]}.")
    unknown = [k for k in grid if k not in SETTING]
    if unknown:
        raise ValueError(f"Unknown setting {', '.join(map(repr, unknown))} in grid; the settings are: "
                         f"{', '.join(SETTING)}.")
    if "seed" in grid and not (isinstance(seeds, int) and seeds == 1):
        raise ValueError("The seeds are given twice: grid['seed'] and seeds=. Use one of them.")
    names = list(grid)
    lists = [_values(n, grid[n]) for n in names]
    seed_list = [None] if "seed" in grid else _seeds(seeds, base)
    n = len(seed_list)
    for values in lists:
        n *= len(values)
    limit = RUN_LIMIT if max_runs is None else int(max_runs)
    if n > limit:
        what = (f"more than {RUN_LIMIT} need an explicit max_runs=, e.g. max_runs={n}" if max_runs is None
                else f"max_runs={max_runs} allows fewer")
        raise ValueError(f"The grid makes {n} runs; {what}. Or list fewer values.")
    configs = []
    for combo in itertools.product(*lists):
        changes = dict(zip(names, combo))
        for seed in seed_list:
            run = dict(changes) if seed is None else {**changes, "seed": seed}
            try:
                configs.append(base.replace(**run))
            except ValueError as exc:
                raise ValueError(f"In the grid, {_combo_text(run)}: {exc}") from None
    return configs


def _combo_text(changes: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in changes.items())
