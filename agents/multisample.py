"""Many samples of one prompt, for in-process models: the prompt is prefilled once and its KV
cache copied into every row, then all rows decode together.

This is what sampling-based scoring needs (the study drew 1,000 answers at temperature 1 per
question): the continuous batcher would prefill the same prompt once per answer. Runs on the
model's worker thread (a `ModelTask`), in chunks of rows to bound memory.
"""

from __future__ import annotations

import torch

CHUNK = 256


def _copy_rows(cache, rows: int, new_cache):
    """A cache holding `rows` copies of a one-row cache."""
    for index, layer in enumerate(cache.layers):
        new_cache.update(layer.keys.expand(rows, -1, -1, -1).contiguous(),
                         layer.values.expand(rows, -1, -1, -1).contiguous(), index)
    return new_cache


def _draw(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        sorted_probs = sorted_probs.masked_fill(sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p, 0.0)
        picks = torch.multinomial(sorted_probs, 1, generator=generator)
        return order.gather(1, picks).squeeze(1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def sample_many(model, prompt_ids: list[int], n: int, *, max_new_tokens: int, eos_ids: set[int],
                temperature: float = 1.0, top_p: float = 1.0, seed: int = 0, chunk: int = CHUNK) -> list[list[int]]:
    """`n` completions of `prompt_ids` (token ids, each ending at its first end-of-sequence token
    or after `max_new_tokens`), reproducible for a seed."""
    from transformers import DynamicCache

    generator = torch.Generator().manual_seed(seed)
    results: list[list[int]] = []
    with torch.inference_mode():
        prompt_cache = DynamicCache(config=model.config)
        out = model(input_ids=torch.tensor([prompt_ids]), cache=prompt_cache, use_cache=True, logits_to_keep=1)
        first_logits = out.logits[:, -1, :].float()
        for start in range(0, n, chunk):
            rows = min(chunk, n - start)
            cache = _copy_rows(prompt_cache, rows, DynamicCache(config=model.config))
            logits = first_logits.expand(rows, -1)
            tokens: list[list[int]] = [[] for _ in range(rows)]
            alive = [True] * rows
            for step in range(max_new_tokens):
                picked = _draw(logits, temperature, top_p, generator).tolist()
                for i, token in enumerate(picked):
                    if alive[i]:
                        tokens[i].append(token)
                        alive[i] = token not in eos_ids
                if not any(alive) or step == max_new_tokens - 1:
                    break
                position = torch.full((rows, 1), len(prompt_ids) + step, dtype=torch.long)
                out = model(input_ids=torch.tensor(picked)[:, None], position_ids=position, cache=cache, use_cache=True)
                logits = out.logits[:, -1, :].float()
            results += tokens
    return results
