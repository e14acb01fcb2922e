"""In-process transformers models (`local:` and `hf:` specs), shared by all concurrent games.

The model loads lazily on the first request, in a worker thread, and then serves every game
through one `ContinuousBatcher`, whose worker thread alone runs the model: generations and
scoring passes (`score`) alike. `hf:<base>+<adapter_dir>` applies a LoRA adapter with peft.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .backend import BackendError, ChatMessage, ChatRequest, ChatResult, ScoringUnavailable, Usage
from .batching import ContinuousBatcher, GenerationJob, ModelTask
from .errors import SpecError
from .local_models import model_dir, organism_dir, parse_local_target, resolve_base
from .settings import DTYPE, MAX_BATCH


def local_backend(spec: str, target: str, **options) -> TransformersBackend:
    """`local:smollm2[+organism]`: the embedded model, with a shipped LoRA adapter if named."""
    name, organism = parse_local_target(target)
    return TransformersBackend(spec, model_dir(name), organism_dir(organism) if organism else None, **options)


class TransformersBackend:
    def __init__(self, spec: str, model: str | Path, adapter: str | Path | None = None, *, max_batch: int | None = None,
                 dtype: str | None = None):
        """`max_batch` and `dtype` default to MMS_MAX_BATCH and MMS_DTYPE, read here: a bad value
        fails making the backend, never loading the model in a game."""
        self.spec = spec
        self.model_ref = str(model)
        self.adapter = str(adapter) if adapter else None
        self.max_batch = MAX_BATCH.read() if max_batch is None else max_batch
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1: a batch of none never decodes")
        self.dtype = DTYPE.read() if dtype is None else dtype
        self._load_lock = threading.Lock()
        self.model = None
        self.tokenizer = None
        self.batcher: ContinuousBatcher | None = None

    # -- loading ----------------------------------------------------------------------------

    def load(self) -> None:
        with self._load_lock:
            if self.batcher is not None:
                return
            import warnings

            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the weights load in a second or two: no bar needed
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            path = resolve_base(self.model_ref)
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, self.dtype))
            if self.adapter:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter)
            model.eval()
            eos = {tokenizer.eos_token_id} | _ids(model.generation_config.eos_token_id)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos))
            context = getattr(model.config, "max_position_embeddings", 8192) or 8192
            self.model, self.tokenizer = model, tokenizer
            self.batcher = ContinuousBatcher(model, eos_ids=eos - {None}, pad_id=pad,
                                             max_batch=self.max_batch, max_context=context)

    async def _ensure_loaded(self) -> None:
        if self.batcher is None:
            try:
                await asyncio.to_thread(self.load)
            except SpecError:
                raise
            except Exception as exc:
                raise BackendError(f"{self.spec}: could not load the model: {exc}") from exc

    # -- the chat protocol -----------------------------------------------------------------

    def prompt_ids(self, request: ChatRequest) -> list[int]:
        ids = self.tokenizer.apply_chat_template(
            [m.as_dict() for m in request.messages], add_generation_prompt=True, tokenize=True
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return list(ids)

    async def chat(self, request: ChatRequest) -> ChatResult:
        await self._ensure_loaded()
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def finished(job: GenerationJob, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, done, job, error)

        job = GenerationJob(
            prompt_ids=self.prompt_ids(request),
            max_new_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            on_done=finished,
        )
        started = time.perf_counter()
        try:
            self.batcher.submit(job)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"{self.spec}: {exc}") from None
        try:
            await done
        except Exception as exc:
            raise BackendError(f"{self.spec}: generation failed: {type(exc).__name__}: {exc}") from exc
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=True).strip()
        return ChatResult(
            text=text,
            usage=Usage(len(job.prompt_ids), len(job.tokens)),
            latency_s=time.perf_counter() - started,
            finish_reason=job.finish_reason,
        )

    async def score(self, messages: Sequence[ChatMessage], options: Sequence[str], method: str | None = None):
        """Exact option probabilities, computed on the batcher's worker between decoding steps."""
        from .scoring import LOGPROBS, score_tree

        if method not in (None, LOGPROBS):
            raise ScoringUnavailable(f"{self.spec} scores exactly in-process; {method} is what servers give")

        await self._ensure_loaded()
        model, tokenizer = self.model, self.tokenizer
        return await self._on_worker(lambda: score_tree(model, tokenizer, messages, options), "scoring")

    async def sample(self, request: ChatRequest, n: int) -> list[str]:
        """`n` replies to one request, its prompt prefilled once (agents/multisample.py)."""
        from .multisample import sample_many

        await self._ensure_loaded()
        ids, model, eos = self.prompt_ids(request), self.model, self.batcher.eos_ids
        seed = request.seed if request.seed is not None else 0
        rows = await self._on_worker(lambda: sample_many(
            model, ids, n, max_new_tokens=request.max_tokens, eos_ids=eos, temperature=request.temperature,
            top_p=request.top_p, seed=seed), "sampling")
        return [self.tokenizer.decode(tokens, skip_special_tokens=True).strip() for tokens in rows]

    async def _on_worker(self, fn, what: str):
        """Run `fn` on the batcher's worker thread, which alone uses the model, and await its result."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def finished(result, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, done, result, error)

        try:
            self.batcher.run_task(ModelTask(fn, finished))
        except RuntimeError as exc:
            raise BackendError(f"{self.spec}: {exc}") from None
        try:
            return await done
        except Exception as exc:
            raise BackendError(f"{self.spec}: {what} failed: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self.batcher is not None:
            batcher, self.batcher = self.batcher, None
            await asyncio.to_thread(batcher.close)


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _ids(value) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    return set(value)
