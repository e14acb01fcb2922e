"""Continuous batching for in-process causal LMs.

One worker thread owns the model. Requests from any number of concurrent games queue up;
at every decoding step the worker admits waiting requests into the running batch (a prefill
of the newcomers, merged into the shared KV cache) and retires finished ones (their rows are
dropped from the cache), so no game waits for another game's long reply.

Other work on the model (scoring a question's options) is handed to the same worker as a
`ModelTask` and runs between two decoding steps, so the model is never used from two threads.

Prompts reuse the keys and values of any prefix an earlier request computed, whatever the
conversation (agents/prefix_cache.py); a prefix several newcomers share is prefilled once for
all of them before they are admitted.

Each request samples with its own `torch.Generator`, seeded per game, through one vectorised
inverse-CDF draw, so sampling is reproducible for a seed whatever else is in the batch (up to
floating-point differences of batched arithmetic).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .prefix_cache import PrefixCache, shared_prefixes

DoneCallback = Callable[["GenerationJob", BaseException | None], None]


@dataclass
class GenerationJob:
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    on_done: DoneCallback | None = None
    on_token: Callable[["GenerationJob"], None] | None = None  # after each new token, on the worker thread
    tokens: list[int] = field(default_factory=list)
    admitted_at_step: int = -1  # the decoding step at which it joined the batch
    finished_at_step: int = -1
    reused_tokens: int = 0
    finish_reason: str = ""
    submitted_at: float = field(default_factory=time.perf_counter)
    generator: torch.Generator | None = None

    def start(self) -> None:
        self.generator = torch.Generator()
        self.generator.manual_seed(self.seed if self.seed is not None else torch.seed())


@dataclass
class ModelTask:
    """A call to run on the worker thread, between decoding steps: `fn()`'s result or error goes to `on_done`."""

    fn: Callable[[], object]
    on_done: Callable[[object, BaseException | None], None]

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # reported to the caller; the worker goes on
            self.on_done(None, exc)
        else:
            self.on_done(result, None)


class _Rows:
    """The running batch: one row per job, with its KV cache, mask, positions and last logits."""

    def __init__(self) -> None:
        self.jobs: list[GenerationJob] = []
        self.cache = None
        self.mask: torch.Tensor | None = None
        self.next_pos: torch.Tensor | None = None
        self.logits: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.jobs)


class ContinuousBatcher:
    def __init__(
        self,
        model,
        *,
        eos_ids: set[int],
        pad_id: int,
        max_batch: int = 32,
        max_context: int = 8192,
        gather_s: float = 0.02,
        prefix_cache_tokens: int = 32768,
    ):
        self.model = model
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        self.max_batch = max_batch
        self.max_context = max_context
        self.gather_s = gather_s
        self.prefixes = PrefixCache(prefix_cache_tokens)
        self.prefilled_tokens = 0
        self.reused_tokens = 0
        self.prefill_s = 0.0
        self.decode_s = 0.0
        self._queue: queue.Queue[GenerationJob | ModelTask | None] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mms-batcher", daemon=True)
        self._thread.start()
        self.steps = 0
        self.generated_tokens = 0

    def counters(self) -> dict[str, float]:
        """Work done so far: for benchmarks and tuning."""
        return {
            "steps": self.steps, "generated_tokens": self.generated_tokens,
            "prefilled_tokens": self.prefilled_tokens, "reused_tokens": self.reused_tokens,
            "prefill_s": round(self.prefill_s, 2), "decode_s": round(self.decode_s, 2),
            **self.prefixes.counters(),
        }

    def submit(self, job: GenerationJob) -> None:
        if self._closed:
            raise RuntimeError("the model has been closed")
        total = len(job.prompt_ids) + job.max_new_tokens
        if total > self.max_context:
            raise ValueError(
                f"prompt of {len(job.prompt_ids)} tokens plus {job.max_new_tokens} new tokens exceeds "
                f"the model's context of {self.max_context} tokens"
            )
        self._queue.put(job)

    def run_task(self, task: ModelTask) -> None:
        """Queue `task` to run on the worker thread, which owns the model."""
        if self._closed:
            raise RuntimeError("the model has been closed")
        self._queue.put(task)

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)

    # -- worker thread ----------------------------------------------------------------------

    def _take(self, rows: _Rows) -> list[GenerationJob]:
        """Waiting jobs to admit now. When idle, block for one and let a burst gather."""
        idle = not rows
        taken: list[GenerationJob] = []
        while len(taken) < self.max_batch - len(rows):
            try:
                if idle and not taken:
                    job = self._queue.get()
                else:
                    job = self._queue.get(timeout=self.gather_s) if idle else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._closed = True
                break
            if isinstance(job, ModelTask):
                with torch.inference_mode():
                    job.run()
                continue
            taken.append(job)
        return taken

    def _run(self) -> None:
        rows = _Rows()
        while not (self._closed and not rows):
            new = self._take(rows)
            try:
                with torch.inference_mode():
                    if new:
                        started = time.perf_counter()
                        self._admit(rows, new)
                        self.prefill_s += time.perf_counter() - started
                    if rows:
                        started = time.perf_counter()
                        self._step(rows)
                        self.decode_s += time.perf_counter() - started
            except BaseException as exc:  # fail everyone in flight; the worker lives on
                for job in rows.jobs + new:
                    if job.on_done and not job.finish_reason:
                        job.finish_reason = "error"
                        job.on_done(job, exc)
                rows = _Rows()
        while True:  # closed: fail whatever is still queued
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            closed = RuntimeError("the model was closed before this request ran")
            if isinstance(job, ModelTask):
                job.on_done(None, closed)
            elif job is not None and job.on_done:
                job.on_done(job, closed)

    def _admit(self, rows: _Rows, jobs: list[GenerationJob]) -> None:
        """Prefill the newcomers (after any cached prefix of theirs) and merge them into the batch.

        Each newcomer's row is [padding][cached prefix][padding][new tokens]: the attention mask
        hides the padding and explicit position ids keep every token at its true position.
        """
        self._share(jobs)
        pasts = []
        for job in jobs:
            job.start()
            job.admitted_at_step = self.steps
            reused, layers = self.prefixes.match(job.prompt_ids)
            job.reused_tokens = reused
            pasts.append((reused, layers))
        past_width = max(n for n, _ in pasts)
        suffixes = [job.prompt_ids[n:] for job, (n, _) in zip(jobs, pasts)]
        width = max(map(len, suffixes))
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), past_width + width), dtype=torch.long)
        positions = torch.zeros((len(jobs), width), dtype=torch.long)
        for i, (suffix, (reused, _)) in enumerate(zip(suffixes, pasts)):
            n = len(suffix)
            ids[i, width - n :] = torch.tensor(suffix, dtype=torch.long)
            mask[i, past_width - reused : past_width] = 1
            mask[i, past_width + width - n :] = 1
            positions[i, width - n :] = torch.arange(reused, reused + n)
        cache = _new_cache(self.model)
        if past_width:
            _fill_cache(cache, pasts, past_width)
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions,
            cache=cache, use_cache=True, logits_to_keep=1,
        )
        self.prefilled_tokens += sum(map(len, suffixes))
        self.reused_tokens += sum(n for n, _ in pasts)
        logits = out.logits[:, -1, :].float()
        next_pos = positions[:, -1] + 1
        if not rows:
            rows.jobs, rows.cache, rows.mask, rows.next_pos, rows.logits = list(jobs), cache, mask, next_pos, logits
            return
        rows.mask = _merge_masks(rows.mask, mask)
        _merge_caches(rows.cache, cache)
        rows.jobs.extend(jobs)
        rows.next_pos = torch.cat([rows.next_pos, next_pos])
        rows.logits = torch.cat([rows.logits, logits])

    def _share(self, jobs: list[GenerationJob]) -> None:
        """Prefill once, into the prefix cache, what several newcomers share beyond what it holds."""
        if len(jobs) < 2:
            return
        for prefix in shared_prefixes([job.prompt_ids for job in jobs], self.prefixes.min_reuse):
            cached = self.prefixes.longest(prefix)
            if len(prefix) - cached < self.prefixes.min_reuse or len(prefix) > self.prefixes.max_tokens:
                continue
            reused, layers = self.prefixes.match(prefix, count=False, leave_one=False)
            cache = _new_cache(self.model)
            if reused:
                _fill_cache(cache, [(reused, layers)], reused)
            new = torch.tensor([prefix[reused:]], dtype=torch.long)
            self.model(input_ids=new, position_ids=torch.arange(reused, len(prefix))[None],
                       attention_mask=torch.ones((1, len(prefix)), dtype=torch.long),
                       cache=cache, use_cache=True, logits_to_keep=1)
            self.prefilled_tokens += len(prefix) - reused
            self.prefixes.insert(prefix, [(layer.keys, layer.values) for layer in cache.layers])

    def _remember(self, rows: _Rows, i: int, job: GenerationJob) -> None:
        """Keep a finished row's keys and values (prompt and reply, minus the unfed last token)."""
        keep = rows.mask[i].bool()
        layers = [(layer.keys[i : i + 1, :, keep], layer.values[i : i + 1, :, keep]) for layer in rows.cache.layers]
        fed = job.prompt_ids + job.tokens[:-1]
        if layers and layers[0][0].shape[2] == len(fed):
            self.prefixes.insert(fed, layers)

    def _step(self, rows: _Rows) -> None:
        """Sample one token per row, retire finished rows, run one decoding pass for the rest."""
        tokens = sample(rows.logits, rows.jobs)
        keep: list[int] = []
        for i, (job, token) in enumerate(zip(rows.jobs, tokens.tolist())):
            job.tokens.append(token)
            if job.on_token is not None:
                job.on_token(job)
            if token in self.eos_ids:
                job.finish_reason = "stop"
            elif len(job.tokens) >= job.max_new_tokens:
                job.finish_reason = "length"
            else:
                keep.append(i)
                continue
            job.finished_at_step = self.steps
            self._remember(rows, i, job)
            if job.on_done:
                job.on_done(job, None)
        self.generated_tokens += len(tokens)
        if len(keep) < len(rows):
            if not keep:
                rows.__init__()
                return
            index = torch.tensor(keep, dtype=torch.long)
            rows.cache.batch_select_indices(index)
            rows.jobs = [rows.jobs[i] for i in keep]
            rows.mask, rows.next_pos, tokens = rows.mask[index], rows.next_pos[index], tokens[index]
        rows.mask = torch.cat([rows.mask, torch.ones((len(keep), 1), dtype=torch.long)], dim=1)
        out = self.model(
            input_ids=tokens[:, None], attention_mask=rows.mask, position_ids=rows.next_pos[:, None],
            cache=rows.cache, use_cache=True,
        )
        rows.next_pos = rows.next_pos + 1
        rows.logits = out.logits[:, -1, :].float()
        self.steps += 1


def sample(logits: torch.Tensor, jobs: list[GenerationJob]) -> torch.Tensor:
    """One token per row: greedy at temperature 0, else top-p sampling from each row's generator."""
    temps = torch.tensor([max(j.temperature, 1e-6) for j in jobs]).unsqueeze(1)
    probs = torch.softmax(logits / temps, dim=-1)
    if all(j.top_p >= 1.0 for j in jobs):
        order = None  # no nucleus cut: draw from the unsorted distribution, skipping the sort
        cumulative = probs.cumsum(dim=-1)
    else:
        probs, order = probs.sort(dim=-1, descending=True)
        cumulative = probs.cumsum(dim=-1)
        top_p = torch.tensor([j.top_p for j in jobs]).unsqueeze(1)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        probs = probs.masked_fill((cumulative - probs) >= top_p, 0.0)
        cumulative = probs.cumsum(dim=-1)
    draws = torch.cat([torch.rand(1, generator=j.generator) for j in jobs]).unsqueeze(1)
    picks = torch.searchsorted(cumulative, draws * cumulative[:, -1:]).clamp(max=logits.shape[-1] - 1)
    chosen = (picks if order is None else order.gather(1, picks)).squeeze(1)
    greedy = torch.tensor([j.temperature <= 0 for j in jobs])
    if greedy.any():
        chosen = torch.where(greedy, logits.argmax(dim=-1), chosen)
    return chosen


def _new_cache(model):
    from .kv_cache import growing_cache

    return growing_cache(model.config)


def _fill_cache(cache, pasts, width: int) -> None:
    """Seed an empty cache with each row's reused prefix, left-padded to `width`."""
    template = next(layers for n, layers in pasts if layers is not None)
    for index, (k0, v0) in enumerate(template):
        keys, values = [], []
        for reused, layers in pasts:
            if layers is None:
                k = k0.new_zeros((1, k0.shape[1], width, k0.shape[3]))
                v = v0.new_zeros((1, v0.shape[1], width, v0.shape[3]))
            else:
                k, v = _left_pad(layers[index][0], width, 2), _left_pad(layers[index][1], width, 2)
            keys.append(k)
            values.append(v)
        cache.update(torch.cat(keys), torch.cat(values), index)


def _merge_masks(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    width = max(old.shape[1], new.shape[1])
    return torch.cat([_left_pad(old, width), _left_pad(new, width)])


def _left_pad(t: torch.Tensor, width: int, dim: int = 1) -> torch.Tensor:
    missing = width - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([torch.zeros(shape, dtype=t.dtype), t], dim=dim)


def _merge_caches(into, other) -> None:
    """Append `other`'s rows to `into`, left-padding the shorter along the sequence axis."""
    for mine, theirs in zip(into.layers, other.layers):
        width = max(mine.keys.shape[2], theirs.keys.shape[2])
        mine.keys = torch.cat([_left_pad(mine.keys, width, 2), _left_pad(theirs.keys, width, 2)])
        mine.values = torch.cat([_left_pad(mine.values, width, 2), _left_pad(theirs.values, width, 2)])
