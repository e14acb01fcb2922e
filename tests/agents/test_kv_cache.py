"""The in-place growing KV cache layer holds exactly what transformers' concatenating one does."""

import torch
from transformers.cache_utils import DynamicLayer

from agents.kv_cache import SPARE, GrowingLayer


def test_growing_in_place_equals_concatenation_through_row_drops_and_merges():
    torch.manual_seed(0)
    grown, plain = GrowingLayer(), DynamicLayer()
    steps = [torch.randn(4, 3, 5, 8)] + [torch.randn(4, 3, 1, 8) for _ in range(SPARE + 10)]  # past one regrowth
    for k in steps:
        a, b = grown.update(k, -k), plain.update(k, -k)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    buffer = grown._k
    grown.update(torch.randn(4, 3, 1, 8), torch.randn(4, 3, 1, 8))
    assert grown._k is buffer  # a decoding step writes into the buffer, no new one
    for layer in (grown, plain):  # retiring rows replaces the tensors outright
        layer.keys, layer.values = layer.keys[[0, 2]], layer.values[[0, 2]]
    plain.keys, plain.values = grown.keys.clone(), grown.values.clone()
    k = torch.randn(2, 3, 1, 8)
    a, b = grown.update(k, k), plain.update(k, k)
    assert a[0].shape == (2, 3, 5 + SPARE + 12, 8) and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
