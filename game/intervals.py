"""Intervals over the unit that varies (DESIGN §1), shared by the behaviour gates and the interviews.

A model's score on a metric is the mean of its valid item scores. Several models of one kind
(training seeds of one organism) are averaged seed by seed, and the interval is over seeds: a
Student t interval of the seed means (with two or three seeds a bootstrap over seeds gives
[min, max] and claims more than it knows). With one seed there is no seed interval: the
interval is a bootstrap over its items and says so (`over`).

A fine-tuned model and a baseline that answered the same prompts are compared prompt by prompt:
within each seed the paired differences are averaged, then the interval is over seeds (or, with
one seed, a bootstrap over the paired prompts). Two groups of seeds (the bark organism's against
the ring organism's) are compared seed mean against seed mean, with a Welch t interval and an
exact permutation test over the seed labels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAPS = 2000
LEVEL = 0.95
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}

Keyed = Mapping[object, float]  # one model's scores by prompt (the key pairs it with another model's)


@dataclass(frozen=True)
class Estimate:
    mean: float | None
    low: float | None
    high: float | None
    n_items: int
    n_models: int
    over: str = ""  # what the interval is over: "seeds", "items (one seed)", ...
    p: float | None = None  # exact permutation p-value, where two groups of seeds are compared

    @property
    def ci(self) -> list[float] | None:
        return None if self.low is None else [self.low, self.high]


def t_quantile(df: float) -> float:
    """The 97.5% quantile of Student's t (df rounded down to the table: conservative)."""
    if df < 1:
        return math.inf
    known = [k for k in _T975 if k <= df]
    return _T975[max(known)] if df <= 120 else 1.960


def _t_interval(means: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(means, dtype=float)
    half = t_quantile(len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    centre = float(values.mean())
    return centre - half, centre + half


def _bootstrap(values: Sequence[float], seed: int, n: int) -> tuple[float, float]:
    data = np.asarray(values, dtype=float)
    draws = data[np.random.default_rng(seed).integers(0, len(data), size=(n, len(data)))].mean(axis=1)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _scores(group: Keyed | Sequence[float]) -> list[float]:
    return list(group.values()) if isinstance(group, Mapping) else list(group)


def estimate(groups: Sequence[Keyed | Sequence[float]], seed: int = 0, n: int = BOOTSTRAPS) -> Estimate:
    """Mean of per-seed means; interval over seeds (t), or over items when there is one seed."""
    kept = [_scores(g) for g in groups if len(g)]
    if not kept:
        return Estimate(None, None, None, 0, 0)
    means = [float(np.mean(g)) for g in kept]
    items = sum(map(len, kept))
    if len(kept) == 1:
        if len(kept[0]) < 2:
            return Estimate(means[0], None, None, items, 1, "one item of one seed: no interval")
        low, high = _bootstrap(kept[0], seed, n)
        return Estimate(means[0], low, high, items, 1, "items (one seed: no interval over seeds)")
    low, high = _t_interval(means)
    return Estimate(float(np.mean(means)), low, high, items, len(kept), "seeds")


def paired(model: Keyed, baseline: Keyed) -> list[float]:
    """Model minus baseline on each prompt both answered."""
    return [model[k] - baseline[k] for k in model if k in baseline]


def difference(model: Sequence[Keyed], baseline: Sequence[Keyed], seed: int = 0, n: int = BOOTSTRAPS) -> Estimate:
    """Model minus baseline: paired by prompt against one baseline, seed means against several."""
    model = [g for g in model if len(g)]
    baseline = [g for g in baseline if len(g)]
    if not model or not baseline:
        return Estimate(None, None, None, 0, 0)
    if len(baseline) > 1:
        return seed_contrast([float(np.mean(_scores(g))) for g in model], [float(np.mean(_scores(g))) for g in baseline])
    base = baseline[0]
    if not all(isinstance(g, Mapping) for g in (*model, base)):  # no prompt keys: an unpaired comparison
        a, b = estimate(model, seed, n), estimate(baseline, seed, n)
        width = math.hypot(a.high - a.mean, b.high - b.mean)
        return Estimate(a.mean - b.mean, a.mean - b.mean - width, a.mean - b.mean + width, 0, len(model), "unpaired")
    diffs = [paired(g, base) for g in model]
    diffs = [d for d in diffs if d]
    if not diffs:
        return Estimate(None, None, None, 0, 0)
    if len(diffs) == 1:
        if len(diffs[0]) < 2:
            return Estimate(float(np.mean(diffs[0])), None, None, 1, 1, "one prompt of one seed: no interval")
        low, high = _bootstrap(diffs[0], seed, n)
        return Estimate(float(np.mean(diffs[0])), low, high, len(diffs[0]), 1,
                        "prompts, paired (one seed: no interval over seeds)")
    means = [float(np.mean(d)) for d in diffs]
    low, high = _t_interval(means)
    return Estimate(float(np.mean(means)), low, high, sum(map(len, diffs)), len(diffs), "seeds (paired by prompt within each)")


def seed_contrast(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """Mean of group a's seed means minus group b's, with a Welch t interval and an exact permutation p.

    The p-value counts, over every way of relabelling the seeds into groups of the same sizes,
    how often the difference is at least as large in absolute value (two-sided); with 3 + 3 seeds
    there are 20 ways, so p cannot fall below 0.1.
    """
    a, b = [float(x) for x in a], [float(x) for x in b]
    diff = float(np.mean(a) - np.mean(b))
    p = permutation_p(a, b)
    if len(a) < 2 or len(b) < 2:
        return Estimate(diff, None, None, 0, len(a) + len(b), "seeds (too few for an interval)", p)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1)) + (vb ** 2 / (len(b) - 1))) if se else len(a) + len(b) - 2
    half = t_quantile(df) * se
    return Estimate(diff, diff - half, diff + half, 0, len(a) + len(b), "seeds (two groups, Welch t)", p)


def permutation_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided permutation p-value of mean(a) - mean(b) over every split of the pooled seeds."""
    pooled = [*a, *b]
    observed = abs(np.mean(a) - np.mean(b))
    total = hits = 0
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        gap = abs(np.mean([pooled[i] for i in chosen]) - np.mean(rest))
        hits += gap >= observed - 1e-12
        total += 1
    return hits / total
