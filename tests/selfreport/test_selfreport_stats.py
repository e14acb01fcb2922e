"""Bootstrap intervals: over items for one model, over models and items for several seeds."""

import pytest

from selfreport.stats import difference, estimate


def test_one_model_interval_brackets_the_mean_and_shrinks_with_more_items():
    small = estimate([[1, 0, 1, 1, 0, 1]])
    large = estimate([[1, 0, 1, 1, 0, 1] * 20])
    assert small.mean == pytest.approx(4 / 6) == large.mean
    assert small.low < small.mean < small.high
    assert (large.high - large.low) < (small.high - small.low)
    assert (small.n_items, small.n_models) == (6, 1)


def test_interval_is_reproducible_and_degenerate_for_constant_scores():
    assert estimate([[0.2, 0.9, 0.4]]) == estimate([[0.2, 0.9, 0.4]])
    constant = estimate([[1.0, 1.0, 1.0]])
    assert (constant.mean, constant.low, constant.high) == (1.0, 1.0, 1.0)


def test_several_models_are_weighed_equally_and_their_spread_widens_the_interval():
    seeds = estimate([[0.9] * 10, [0.1] * 10, [0.5] * 30])
    assert seeds.mean == pytest.approx(0.5)  # mean of model means, not of the 50 items (0.5 here too)
    assert seeds.n_models == 3 and seeds.n_items == 50
    assert seeds.high - seeds.low > 0.3  # between-seed spread shows
    unequal = estimate([[1.0] * 2, [0.0] * 18])
    assert unequal.mean == pytest.approx(0.5)
    pooled_like = estimate([[0.5] * 10, [0.5] * 10, [0.5] * 30])
    assert pooled_like.high - pooled_like.low == 0


def test_empty_groups_give_no_estimate():
    nothing = estimate([[], []])
    assert nothing.mean is None and nothing.ci is None and nothing.n_items == 0


def test_difference_with_the_baseline():
    d = difference([[1, 1, 0.8, 0.9]], [[0.1, 0.0, 0.2, 0.0]])
    assert d.mean == pytest.approx(0.85)
    assert 0 < d.low < d.mean < d.high
    assert difference([[1.0]], []).mean is None
    same = difference([[0, 1] * 10], [[0, 1] * 10])
    assert same.low < 0 < same.high
