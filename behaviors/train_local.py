"""Local LoRA fine-tuning with peft: a plain training loop, float32 on the CPU (or a GPU if present).

One adapter per seed (the seed sets the LoRA initialisation, the data order and dropout), saved
with `save_pretrained` into `<out>/seed<S>`, each run recorded in `training_runs` with its
per-step losses as it trains. The loss is the mean over assistant tokens only (see
`training_data`), summed over the micro-batches of a step, so gradient accumulation gives the
same update as one large batch. No `Trainer`: for a small model on two cores the loop below is
all that is needed, and every step is visible.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents.errors import MmsError
from game.store import Store

from . import training_runs
from .training_data import IGNORE, Example, epoch_batches, file_sha256, load_chat_jsonl, tokenize_dialogues


@dataclass(frozen=True)
class LocalTrainConfig:
    epochs: int = 4
    lr: float = 2e-4
    batch_size: int = 4
    grad_accum: int = 1
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    max_steps: int | None = None  # stops there, cycling over the data as needed (overrides epochs)
    max_length: int = 2048
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "grad_accum", "lora_r", "lora_alpha", "max_length"):
            if getattr(self, name) < 1:
                raise MmsError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise MmsError("--max-steps must be at least 1")
        if not self.lr > 0:
            raise MmsError("--lr must be positive")

    def total_steps(self, examples: int) -> int:
        per_epoch = math.ceil(math.ceil(examples / self.batch_size) / self.grad_accum)
        return self.max_steps if self.max_steps is not None else self.epochs * per_epoch


@dataclass
class AdapterResult:
    run_id: int
    seed: int
    adapter_dir: Path
    model_id: str
    losses: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def first_loss(self) -> float | None:
        return self.losses[0]["loss"] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1]["loss"] if self.losses else None


@dataclass
class LocalTrainResult:
    base: str
    base_dir: str
    data_path: str
    data_hash: str
    examples: int
    truncated: int
    trained_tokens: int
    steps: int
    adapters: list[AdapterResult]


class TrainingProgress(Protocol):
    def start(self, seed: int, total_steps: int) -> None: ...
    def step(self, seed: int, step: int, loss: float) -> None: ...


class _Silent:
    def start(self, seed: int, total_steps: int) -> None:
        pass

    def step(self, seed: int, step: int, loss: float) -> None:
        pass


def resolve_training_base(base: str) -> str:
    """`local:<name>`, `hf:<dir-or-cached-repo>` or a folder → the model folder to load."""
    from agents.hf_backend import resolve_base

    target = base.removeprefix("hf:")
    if "+" in target:
        raise MmsError(f"--base {base!r} already has an adapter: train on the base model (drop '+...')")
    if target.startswith("openai:"):
        raise MmsError(f"--base {base!r} is an OpenAI model: use `mms train openai` for it")
    return str(Path(resolve_base(target)).resolve())


def adapter_spec(base_dir: str, adapter_dir: Path) -> str:
    """The model spec that plays or interviews the fine-tuned model (agents/hf_backend.py)."""
    return f"hf:{base_dir}+{adapter_dir.resolve()}"


def adapter_dirs(out: Path, seeds: list[int], overwrite: bool) -> list[Path]:
    dirs = [out / f"seed{seed}" for seed in seeds]
    taken = [d for d in dirs if (d / "adapter_config.json").exists()]
    if taken and not overwrite:
        raise MmsError(f"{taken[0]} already holds an adapter: pick another --out or pass --overwrite")
    return dirs


def train_local(store: Store, data_path: Path, base: str, out: Path, config: LocalTrainConfig, seeds: list[int], *,
                limit: int | None = None, overwrite: bool = False, threads: int | None = None,
                progress: TrainingProgress | None = None) -> LocalTrainResult:
    """Train one LoRA adapter per seed on a chat JSONL file; every run is recorded in the store.

    `threads` caps torch's intra-op threads for the run: on a CPU that other processes keep
    busy, one thread can be several times faster than threads that spin waiting for each other.
    """
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise MmsError("--threads must be at least 1")
        torch.set_num_threads(threads)
    try:
        return _train_local(store, data_path, base, out, config, seeds, limit, overwrite, progress or _Silent())
    finally:
        torch.set_num_threads(before)


def _train_local(store: Store, data_path: Path, base: str, out: Path, config: LocalTrainConfig, seeds: list[int],
                 limit: int | None, overwrite: bool, progress: TrainingProgress) -> LocalTrainResult:
    import torch
    from transformers import AutoTokenizer

    if not seeds or len(set(seeds)) != len(seeds):
        raise MmsError("give distinct seeds")
    dirs = adapter_dirs(out, seeds, overwrite)
    dialogues = load_chat_jsonl(data_path, limit)
    base_dir = resolve_training_base(base)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.chat_template is None:
        raise MmsError(f"{base} has no chat template, so its assistant turns cannot be located")
    examples = tokenize_dialogues(tokenizer, dialogues, config.max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    result = LocalTrainResult(
        base=base, base_dir=base_dir, data_path=str(Path(data_path).resolve()),
        data_hash=file_sha256(data_path), examples=len(examples), truncated=sum(e.truncated for e in examples),
        trained_tokens=sum(e.trained_tokens for e in examples),
        steps=config.total_steps(len(examples)), adapters=[],
    )
    params = {**asdict(config), "limit": limit, "threads": torch.get_num_threads(), "base_dir": base_dir,
              "examples": result.examples, "truncated": result.truncated, "trained_tokens": result.trained_tokens,
              "steps": result.steps}
    for seed, adapter_dir in zip(seeds, dirs):
        result.adapters.append(_train_seed(store, result, params, config, examples, pad_id, seed, adapter_dir, progress))
    return result


def _train_seed(store: Store, result: LocalTrainResult, params: dict[str, Any], config: LocalTrainConfig,
                examples: list[Example], pad_id: int, seed: int, adapter_dir: Path,
                progress: TrainingProgress) -> AdapterResult:
    run_id = training_runs.start_run(store, method="local", base_model=result.base, data_path=result.data_path,
                                     data_hash=result.data_hash, params=params, seed=seed)
    adapter = AdapterResult(run_id, seed, adapter_dir, adapter_spec(result.base_dir, adapter_dir))
    started = time.perf_counter()

    def record(step: int, epoch: int, loss: float) -> None:
        adapter.losses.append({"step": step, "epoch": epoch, "loss": round(loss, 6)})
        training_runs.update_run(store, run_id, losses=adapter.losses)
        progress.step(seed, step, loss)

    try:
        model = load_lora_model(result.base_dir, config, seed)
        progress.start(seed, result.steps)
        fit(model, examples, config, seed, pad_id, record)
        adapter.seconds = time.perf_counter() - started
        save_adapter(model, adapter_dir, {"run_id": run_id, "seed": seed, "base": result.base,
                                          "data_path": result.data_path, "data_hash": result.data_hash,
                                          "params": params, "losses": adapter.losses, "model_id": adapter.model_id})
    except KeyboardInterrupt:
        training_runs.finish_run(store, run_id, "cancelled", losses=adapter.losses, error="interrupted")
        raise
    except Exception as exc:
        training_runs.finish_run(store, run_id, "failed", losses=adapter.losses, error=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, MmsError):
            raise
        raise MmsError(f"training seed {seed} failed: {type(exc).__name__}: {exc} (run {run_id} marked failed)") from exc
    training_runs.finish_run(store, run_id, "succeeded", losses=adapter.losses,
                             adapter_path=str(adapter_dir.resolve()), model_id=adapter.model_id)
    return adapter


def load_lora_model(base_dir: str, config: LocalTrainConfig, seed: int):
    """The base model in float32 with fresh LoRA weights (initialised from `seed`) on every linear layer asked for."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    targets = config.target_modules
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, task_type="CAUSAL_LM",
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()],
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise MmsError(f"cannot put LoRA on --target-modules {targets!r}: {exc}") from None


def fit(model, examples: list[Example], config: LocalTrainConfig, seed: int, pad_id: int, record) -> None:
    """AdamW with linear decay to zero; `record(step, epoch, loss)` after every optimiser step."""
    import torch

    rng = random.Random(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    total = config.total_steps(len(examples))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: max(0.0, 1.0 - done / total))
    model.train()
    step, epoch = 0, 0
    while step < total:
        batches = list(epoch_batches(examples, config.batch_size, rng, pad_id))
        before = step
        for g in range(0, len(batches), config.grad_accum):
            group = batches[g : g + config.grad_accum]
            tokens = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in group)
            if tokens == 0:
                continue
            loss = sum(_backward(model, batch, tokens) for batch in group)
            torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            record(step, epoch, loss)
            if step >= total:
                return
        if step == before:
            raise MmsError("no batch has assistant tokens to train on")
        epoch += 1


def _backward(model, batch: dict[str, Any], tokens: int) -> float:
    """Back-propagate this micro-batch's share of the step's mean token loss; return that share."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten(),
                           ignore_index=IGNORE, reduction="sum") / tokens
    loss.backward()
    return float(loss.detach())


def save_adapter(model, adapter_dir: Path, provenance: dict[str, Any]) -> None:
    """`adapter_config.json` + weights via peft, and `mms_training.json` saying how they were made."""
    adapter_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(adapter_dir))
    (adapter_dir / "mms_training.json").write_text(json.dumps(provenance, indent=2, sort_keys=True), encoding="utf-8")
