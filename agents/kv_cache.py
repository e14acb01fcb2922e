"""A KV cache whose layers grow in place: decoding writes each new position into spare room.

transformers' `DynamicLayer` concatenates the whole cache with every new token, so each
decoding step copies every layer's keys and values of the running batch (hundreds of MB per
step for 16 games of a few hundred tokens). `GrowingLayer` keeps them in a buffer with room to
spare and hands the model views of the filled part; a step writes one position. Code that
replaces `keys`/`values` outright (merging newcomers, dropping rows) is noticed, and the next
update moves the new tensors into a fresh buffer. The numbers are the same as with
`DynamicLayer`: the same values, only stored with spare room after them.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

SPARE = 128  # positions of room added whenever a buffer is (re)made


class GrowingLayer(DynamicLayer):
    def __init__(self) -> None:
        super().__init__()
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    def _owned(self) -> bool:
        """Whether `keys`/`values` are still the views this layer handed out."""
        return (self._k is not None and self.keys.data_ptr() == self._k.data_ptr()
                and self.keys.shape[0] == self._k.shape[0] and self.values.data_ptr() == self._v.data_ptr())

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = self.keys.shape[-2] if self.keys.numel() else 0
        m = key_states.shape[-2]
        if not (n and self._owned()) or n + m > self._k.shape[-2]:
            self._regrow(n, key_states, value_states, n + m + SPARE)
        self._k[:, :, n : n + m] = key_states
        self._v[:, :, n : n + m] = value_states
        self.keys, self.values = self._k[:, :, : n + m], self._v[:, :, : n + m]
        return self.keys, self.values

    def _regrow(self, n: int, key_states: torch.Tensor, value_states: torch.Tensor, capacity: int) -> None:
        b, h, _, d = key_states.shape
        k = key_states.new_empty((b, h, capacity, d))
        v = value_states.new_empty((b, h, capacity, value_states.shape[-1]))
        if n:
            k[:, :, :n] = self.keys
            v[:, :, :n] = self.values
        self._k, self._v = k, v


def growing_cache(config) -> DynamicCache:
    """A `DynamicCache` for this model whose layers grow in place."""
    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer() for _ in cache.layers]
    return cache
