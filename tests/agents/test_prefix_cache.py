"""The radix-tree prefix cache on its own: what it stores once, what it gives back, what it evicts."""

import torch

from agents.prefix_cache import PrefixCache, shared_prefixes

LAYERS = 2


def kv(ids):
    """Fake per-layer keys and values whose entries are the token ids (so slices can be read back)."""
    t = torch.tensor(ids, dtype=torch.float32).reshape(1, 1, len(ids), 1)
    return [(t + layer, -(t + layer)) for layer in range(LAYERS)]


def test_a_shared_prefix_is_stored_once_and_given_back_exactly():
    cache = PrefixCache(max_tokens=1000, min_reuse=2)
    system = list(range(100, 120))
    a, b = system + [1, 2, 3], system + [7, 8]
    cache.insert(a, kv(a))
    cache.insert(b, kv(b))
    assert cache.tokens == 20 + 3 + 2  # the 20 shared tokens once
    n, layers = cache.match(b + [9, 9])
    assert n == len(b) and torch.equal(layers[1][0], kv(b)[1][0]) and torch.equal(layers[0][1], kv(b)[0][1])
    n, layers = cache.match(system + [5, 5, 5])
    assert n == 20 and layers[0][0].flatten().tolist() == system
    assert cache.counters()["prefix_hits"] == 2 and cache.counters()["prefix_hit_tokens"] == len(b) + 20


def test_a_match_always_leaves_one_token_to_feed_and_ignores_short_prefixes():
    cache = PrefixCache(max_tokens=1000, min_reuse=4)
    cache.insert([1, 2, 3, 4, 5, 6], kv([1, 2, 3, 4, 5, 6]))
    assert cache.match([1, 2, 3, 4, 5, 6])[0] == 5
    assert cache.match([1, 2, 3, 9]) == (0, None)  # 3 tokens: under min_reuse
    assert cache.counters()["prefix_lookups"] == 2 and cache.counters()["prefix_hits"] == 1


def test_least_recently_used_leaves_go_first_under_a_small_budget():
    cache = PrefixCache(max_tokens=30, min_reuse=2)
    trunk = list(range(10))
    old, mid, new = trunk + list(range(50, 58)), trunk + list(range(60, 68)), trunk + list(range(70, 78))
    cache.insert(old, kv(old))
    cache.insert(mid, kv(mid))
    cache.match(old + [0])  # old is used again: mid is now the least recently used
    cache.insert(new, kv(new))
    assert cache.tokens == 10 + 8 + 8 and cache.counters()["prefix_evicted_tokens"] == 8
    assert cache.longest(old) == len(old) and cache.longest(new) == len(new) and cache.longest(mid) == 10
    huge = list(range(200, 260))
    cache.insert(huge, kv(huge))  # larger than the whole budget: nothing of it stays, nor much else
    assert cache.tokens <= 30 and cache.longest(huge) == 0


def test_splitting_an_edge_keeps_both_halves_exact():
    cache = PrefixCache(max_tokens=1000, min_reuse=1)
    long = list(range(1, 21))
    cache.insert(long, kv(long))
    short = list(range(1, 11)) + [99]
    cache.insert(short, kv(short))
    assert cache.match(long + [0])[1][0][0].flatten().tolist() == long
    assert cache.match(short + [0])[1][1][0].flatten().tolist() == [x + 1 for x in short]


def test_shared_prefixes_of_newcomers():
    system = list(range(30))
    prompts = [system + [k, k + 1] for k in range(5)] + [[7] * 12, [7] * 10 + [8, 8], [1, 2, 3]]
    found = shared_prefixes(prompts, 8)
    assert sorted(found) == sorted([tuple(system), tuple([7] * 10)])
    assert shared_prefixes([[1, 2, 3, 4]] * 2, 2) == [(1, 2, 3)]  # never a whole prompt
