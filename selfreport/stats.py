"""Bootstrap intervals for interview scores, for one model or several fine-tuning seeds.

A model's score on a metric is the mean of its valid item scores. With several models (one
per seed) the score is the mean of the models' means, and the bootstrap resamples both levels:
models with replacement, then each chosen model's items — so the interval reflects the spread
between seeds as well as the noise of the questions. With one model it is the plain bootstrap
over its items. The comparison with the baseline bootstraps the difference of the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAPS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    mean: float | None
    low: float | None
    high: float | None
    n_items: int
    n_models: int

    @property
    def ci(self) -> list[float] | None:
        return None if self.low is None else [self.low, self.high]


def _draws(groups: Sequence[Sequence[float]], rng: np.random.Generator, n: int) -> np.ndarray | None:
    """`n` bootstrap replicates of the mean of group means (None if there is no data)."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not groups:
        return None
    inner = np.stack([g[rng.integers(0, len(g), size=(n, len(g)))].mean(axis=1) for g in groups])  # (models, n)
    if len(groups) == 1:
        return inner[0]
    pick = rng.integers(0, len(groups), size=(n, len(groups)))  # models resampled per replicate
    return inner[pick, np.arange(n)[:, None]].mean(axis=1)


def _interval(draws: np.ndarray) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def estimate(groups: Sequence[Sequence[float]], seed: int = 0, n: int = BOOTSTRAPS) -> Estimate:
    """Mean of per-model means with its bootstrap interval; `groups` holds one list per model."""
    kept = [list(g) for g in groups if len(g)]
    draws = _draws(kept, np.random.default_rng(seed), n)
    if draws is None:
        return Estimate(None, None, None, 0, 0)
    mean = float(np.mean([np.mean(g) for g in kept]))
    low, high = _interval(draws)
    return Estimate(mean, low, high, sum(map(len, kept)), len(kept))


def difference(model: Sequence[Sequence[float]], baseline: Sequence[Sequence[float]], seed: int = 0,
               n: int = BOOTSTRAPS) -> Estimate:
    """Model minus baseline, with a bootstrap interval of the difference."""
    rng = np.random.default_rng(seed)
    a, b = _draws(model, rng, n), _draws(baseline, rng, n)
    if a is None or b is None:
        return Estimate(None, None, None, 0, 0)
    mean = estimate(model).mean - estimate(baseline).mean
    low, high = _interval(a - b)
    return Estimate(mean, low, high, 0, 0)
