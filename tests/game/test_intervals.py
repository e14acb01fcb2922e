"""Intervals over the unit that varies: items for one seed, seeds for several, paired prompts for a baseline."""

import pytest

from game.intervals import difference, estimate, permutation_p, seed_contrast, t_quantile


def test_one_seed_interval_is_over_items_and_says_so():
    small = estimate([[1, 0, 1, 1, 0, 1]])
    large = estimate([[1, 0, 1, 1, 0, 1] * 20])
    assert small.mean == pytest.approx(4 / 6) == large.mean
    assert small.low < small.mean < small.high
    assert (large.high - large.low) < (small.high - small.low)
    assert (small.n_items, small.n_models) == (6, 1)
    assert small.over == "items (one seed: no interval over seeds)"


def test_interval_is_reproducible_and_degenerate_for_constant_scores():
    assert estimate([[0.2, 0.9, 0.4]]) == estimate([[0.2, 0.9, 0.4]])
    constant = estimate([[1.0, 1.0, 1.0]])
    assert (constant.mean, constant.low, constant.high) == (1.0, 1.0, 1.0)


def test_several_seeds_are_weighed_equally_and_the_interval_is_a_t_interval_over_seed_means():
    seeds = estimate([[0.9] * 10, [0.1] * 10, [0.5] * 30])
    assert seeds.mean == pytest.approx(0.5)
    assert seeds.n_models == 3 and seeds.n_items == 50 and seeds.over == "seeds"
    half = 4.303 * 0.4 / 3 ** 0.5  # t(2) * sd of (0.9, 0.1, 0.5) / sqrt(3)
    assert (seeds.low, seeds.high) == pytest.approx((0.5 - half, 0.5 + half))
    same = estimate([[0.5] * 10, [0.5] * 10, [0.5] * 30])
    assert same.high - same.low == 0  # item noise does not enter: the seeds agree
    # item noise within a seed does not widen a seed interval: the unit is the seed
    assert estimate([[0, 1] * 5, [0, 1] * 5]).ci == [0.5, 0.5]


def test_empty_groups_give_no_estimate():
    nothing = estimate([[], []])
    assert nothing.mean is None and nothing.ci is None and nothing.n_items == 0


def test_difference_with_one_baseline_is_paired_by_prompt():
    prompts = {f"p{k}": 0.1 * k for k in range(10)}  # prompts differ a lot, the model adds 0.05 to each
    model = {k: v + 0.05 for k, v in prompts.items()}
    d = difference([model], [prompts])
    assert d.mean == pytest.approx(0.05) and d.ci == pytest.approx([0.05, 0.05])  # pairing removes prompt spread
    assert d.over == "prompts, paired (one seed: no interval over seeds)"
    seeds = difference([model, {k: v + 0.15 for k, v in prompts.items()}], [prompts])
    assert seeds.mean == pytest.approx(0.10) and seeds.over.startswith("seeds") and seeds.n_models == 2
    assert difference([{"a": 1.0}], []).mean is None
    assert difference([{"a": 1.0}], [{"b": 0.0}]).mean is None  # no prompt in common


def test_two_groups_of_seeds_get_a_welch_interval_and_an_exact_permutation_p():
    c = seed_contrast([0.6, 0.7, 0.65], [0.3, 0.35, 0.4])
    assert c.mean == pytest.approx(0.3) and c.low > 0 and c.over == "seeds (two groups, Welch t)"
    assert c.p == pytest.approx(0.1)  # the smallest p three seeds against three can give
    assert permutation_p([1, 2], [1, 2]) == 1.0
    assert difference([{"a": 0.6}, {"a": 0.7}], [{"a": 0.3}, {"a": 0.4}]).p == pytest.approx(2 / 6)


def test_t_quantiles():
    assert t_quantile(2) == 4.303 and t_quantile(13) == 2.179 and t_quantile(500) == 1.96


def test_one_item_of_one_seed_has_no_interval():
    one = estimate([[0.3]])
    assert one.mean == 0.3 and one.ci is None and one.over == "one item of one seed: no interval"
    d = difference([{"p": 0.5}], [{"p": 0.2}])
    assert d.mean == pytest.approx(0.3) and d.ci is None
