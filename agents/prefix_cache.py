"""A token-level prefix cache: a radix tree over token ids, each edge holding its tokens' K/V.

Any prompt that begins with tokens some earlier request computed — the system prompt every
manipulator of a run shares, most of every user's, a conversation's own history — takes their
keys and values from here and prefills only the rest. Finished requests insert what they fed
(prompt and reply); the batcher also inserts a prefix that several newcomers share, computed
once for all of them (agents/batching.py).

Edges are split where two sequences part, so a shared prefix is stored once. The budget counts
tokens; over it, the least recently used leaves go first, and an inner node stays while
anything below it does. A lookup copies what it takes, so eviction never touches a running
request; tensors are copied on insert too, so a node never keeps a larger batch tensor alive.
The tree belongs to the batcher's worker thread and is not locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

Layers = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values of shape [1, heads, tokens, dim]


@dataclass(eq=False)
class _Node:
    tokens: tuple[int, ...]
    layers: Layers | None  # None only at the root
    parent: _Node | None
    children: dict[int, _Node] = field(default_factory=dict)
    last_used: int = 0


class PrefixCache:
    def __init__(self, max_tokens: int, min_reuse: int = 8):
        self.max_tokens = max_tokens
        self.min_reuse = min_reuse
        self.root = _Node((), None, None)
        self.tokens = 0
        self._clock = 0
        self.hits = 0  # lookups that reused a prefix
        self.hit_tokens = 0
        self.lookups = 0
        self.evicted_tokens = 0

    def counters(self) -> dict[str, int]:
        return {"prefix_lookups": self.lookups, "prefix_hits": self.hits, "prefix_hit_tokens": self.hit_tokens,
                "prefix_cached_tokens": self.tokens, "prefix_evicted_tokens": self.evicted_tokens}

    # -- reading ----------------------------------------------------------------------------

    def _walk(self, ids: Sequence[int]) -> tuple[list[tuple[_Node, int]], int]:
        """The nodes along `ids` with how many of each node's tokens match, and the total matched."""
        path, node, n = [], self.root, 0
        while n < len(ids):
            child = node.children.get(ids[n])
            if child is None:
                break
            k = _common(child.tokens, ids, n)
            path.append((child, k))
            n += k
            if k < len(child.tokens):
                break
            node = child
        return path, n

    def longest(self, ids: Sequence[int]) -> int:
        """How many leading tokens of `ids` are cached (no side effects)."""
        return self._walk(ids)[1]

    def match(self, prompt: Sequence[int], *, count: bool = True, leave_one: bool = True) -> tuple[int, Layers | None]:
        """The cached prefix of `prompt` (its length and per-layer K/V), leaving at least one
        token to feed unless `leave_one` is off; (0, None) under `min_reuse` tokens."""
        self._clock += 1
        path, n = self._walk(prompt[: len(prompt) - 1] if leave_one else prompt)
        if count:
            self.lookups += 1
        if n < self.min_reuse:
            return 0, None
        for node, _ in path:
            node.last_used = self._clock
        layers = [(torch.cat([node.layers[i][0][:, :, :k] for node, k in path], dim=2),
                   torch.cat([node.layers[i][1][:, :, :k] for node, k in path], dim=2))
                  for i in range(len(path[0][0].layers))]
        if count:
            self.hits += 1
            self.hit_tokens += n
        return n, layers

    # -- writing ----------------------------------------------------------------------------

    def insert(self, ids: Sequence[int], layers: Layers) -> None:
        """Remember K/V for `ids` (`layers` covers exactly those tokens), then keep to the budget."""
        if not ids or layers[0][0].shape[2] != len(ids):
            raise ValueError("layers must hold exactly one position per token")
        self._clock += 1
        node, n = self.root, 0
        while n < len(ids):
            child = node.children.get(ids[n])
            if child is None:
                leaf = _Node(tuple(ids[n:]), [(k[:, :, n:].clone(), v[:, :, n:].clone()) for k, v in layers],
                             node, last_used=self._clock)
                node.children[ids[n]] = leaf
                self.tokens += len(leaf.tokens)
                break
            k = _common(child.tokens, ids, n)
            if k < len(child.tokens):
                child = self._split(child, k)
            child.last_used = self._clock
            node, n = child, n + k
        self._evict()

    def _split(self, node: _Node, k: int) -> _Node:
        """Cut `node` after its first `k` tokens; return the new upper part."""
        upper = _Node(node.tokens[:k], [(a[:, :, :k].clone(), b[:, :, :k].clone()) for a, b in node.layers],
                      node.parent, last_used=node.last_used)
        node.parent.children[node.tokens[0]] = upper
        node.tokens = node.tokens[k:]
        node.layers = [(a[:, :, k:].clone(), b[:, :, k:].clone()) for a, b in node.layers]
        node.parent = upper
        upper.children[node.tokens[0]] = node
        return upper

    def _evict(self) -> None:
        while self.tokens > self.max_tokens:
            leaves = [n for n in self._nodes() if not n.children]
            if not leaves:
                return
            victim = min(leaves, key=lambda n: n.last_used)
            del victim.parent.children[victim.tokens[0]]
            self.tokens -= len(victim.tokens)
            self.evicted_tokens += len(victim.tokens)

    def _nodes(self):
        stack = list(self.root.children.values())
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())


def _common(edge: tuple[int, ...], ids: Sequence[int], start: int) -> int:
    n = min(len(edge), len(ids) - start)
    i = 0
    while i < n and edge[i] == ids[start + i]:
        i += 1
    return i


def shared_prefixes(prompts: Sequence[Sequence[int]], min_len: int) -> list[tuple[int, ...]]:
    """Prefixes of at least `min_len` tokens that two or more of `prompts` share (the longest
    such for each group of prompts that have one), never a whole prompt."""
    order = sorted(range(len(prompts)), key=lambda i: tuple(prompts[i]))
    found: list[tuple[int, ...]] = []
    group_len, group_start = None, None
    for a, b in zip(order, order[1:]):
        pa, pb = prompts[a], prompts[b]
        k = min(_common(tuple(pa), pb, 0), len(pa) - 1, len(pb) - 1)
        if k >= min_len:
            group_len = k if group_len is None else min(group_len, k)
            group_start = a if group_start is None else group_start
        elif group_len is not None:
            found.append(tuple(prompts[group_start][:group_len]))
            group_len = group_start = None
    if group_len is not None:
        found.append(tuple(prompts[group_start][:group_len]))
    return found
