"""Local LoRA fine-tuning with peft: packed rows, loss on assistant tokens, checkpoints, validation.

One adapter per seed (the seed sets the LoRA initialisation and the data order), saved with
`save_pretrained` into `<out>/seed<S>`, each run recorded in `training_runs` with its per-step
losses as it trains. A fixed 5% of the dialogues (the same for every seed) is held back and its
loss measured at the end. Long runs checkpoint every few steps into `<out>/seed<S>.checkpoint`;
`resume=True` continues from there with exactly the steps the run would have taken.

On a GPU (`device="auto"` finds one) the same loop runs under bfloat16 autocast; on the CPU in
float32. No `Trainer`: the loop (`train_loop`) is short and every step is visible.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents.errors import MmsError
from game.store import Store

from . import records
from .packed_model import register_packed_attention
from .packing import Pack, fill_ratio, pack_examples
from .train_loop import Checkpoints, LoopSettings, LoopState, fit, step_plan
from .training_data import file_sha256, load_chat_jsonl, tokenize_dialogues

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class LocalTrainConfig:
    epochs: int = 4
    lr: float = 2e-4
    batch_size: int = 2  # packed rows per optimiser step
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: str = "all-linear"
    max_steps: int | None = None  # stops there, cycling over the data as needed (overrides epochs)
    max_length: int = 2048  # tokens per packed row; a longer dialogue is cut at the end
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    val_fraction: float = 0.05
    eval_every: int = 0
    checkpoint_every: int = 20

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lora_r", "lora_alpha", "max_length"):
            if getattr(self, name) < 1:
                raise MmsError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise MmsError("--max-steps must be at least 1")
        if not self.lr > 0:
            raise MmsError("--lr must be positive")
        if not 0 <= self.val_fraction < 0.5:
            raise MmsError("--val-fraction must be in [0, 0.5)")
        if self.eval_every < 0 or self.checkpoint_every < 0:
            raise MmsError("--eval-every and --checkpoint-every must be 0 or more")

    def settings(self) -> LoopSettings:
        return LoopSettings(self.lr, self.weight_decay, self.max_grad_norm, self.checkpoint_every, self.eval_every)


@dataclass
class AdapterResult:
    run_id: int
    seed: int
    adapter_dir: Path
    model_id: str
    losses: list[dict[str, Any]] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0
    tokens_per_s: float = 0.0
    resumed_at: int | None = None

    @property
    def first_loss(self) -> float | None:
        return self.losses[0]["loss"] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1]["loss"] if self.losses else None

    @property
    def final_train_loss(self) -> float | None:
        """Mean loss of the last tenth of the steps (at least one): a single step's loss is noisy."""
        if not self.losses:
            return None
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return round(sum(e["loss"] for e in tail) / len(tail), 6)

    @property
    def val_loss(self) -> float | None:
        return self.validation[-1]["loss"] if self.validation else None


@dataclass
class LocalTrainResult:
    base: str
    base_dir: str
    data_path: str
    data_hash: str
    examples: int
    val_examples: int
    truncated: int
    trained_tokens: int
    steps: int
    device: str
    threads: int
    fill: float
    adapters: list[AdapterResult]


@dataclass(frozen=True)
class LocalTrainReport:
    """One `mms train local`: the training result and where it was recorded. `to_json()` is what
    --json prints, key for key: the adapters' figures as lists, one entry per seed."""

    result: LocalTrainResult
    db: Path

    def to_json(self) -> dict[str, Any]:
        r, adapters = self.result, self.result.adapters
        return {
            "method": "local", "base": r.base, "base_dir": r.base_dir, "data": r.data_path,
            "data_hash": r.data_hash, "examples": r.examples, "truncated": r.truncated,
            "trained_tokens": r.trained_tokens, "steps": r.steps, "db": str(self.db),
            "val_examples": r.val_examples, "device": r.device, "threads": r.threads,
            "fill": r.fill, "model_id": adapters[0].model_id,
            "seeds": [a.seed for a in adapters], "run_ids": [a.run_id for a in adapters],
            "adapters": [str(a.adapter_dir) for a in adapters], "model_ids": [a.model_id for a in adapters],
            "first_loss": [a.first_loss for a in adapters], "last_loss": [a.last_loss for a in adapters],
            "final_train_loss": [a.final_train_loss for a in adapters],
            "val_loss": [a.val_loss for a in adapters], "tokens": [a.tokens for a in adapters],
            "tokens_per_s": [round(a.tokens_per_s, 1) for a in adapters],
            "seconds": [round(a.seconds, 1) for a in adapters],
        }


class TrainingProgress(Protocol):
    def start(self, seed: int, total_steps: int, done: int) -> None: ...
    def step(self, seed: int, step: int, loss: float, tokens_per_s: float) -> None: ...


class _Silent:
    def start(self, seed: int, total_steps: int, done: int) -> None:
        pass

    def step(self, seed: int, step: int, loss: float, tokens_per_s: float) -> None:
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


def resolve_device(device: str) -> str:
    import torch

    if device not in DEVICES:
        raise MmsError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise MmsError("--device cuda: no CUDA GPU is visible to torch (use --device cpu or auto)")
    return device


def adapter_spec(base_dir: str, adapter_dir: Path) -> str:
    """The model spec that plays or interviews the fine-tuned model (agents/hf_backend.py)."""
    return f"hf:{base_dir}+{adapter_dir.resolve()}"


def adapter_dirs(out: Path, seeds: list[int], overwrite: bool) -> list[Path]:
    dirs = [out / f"seed{seed}" for seed in seeds]
    taken = [d for d in dirs if (d / "adapter_config.json").exists()]
    if taken and not overwrite:
        raise MmsError(f"{taken[0]} already holds an adapter: pick another --out or pass --overwrite")
    return dirs


def checkpoint_dir(adapter_dir: Path) -> Path:
    return adapter_dir.with_name(adapter_dir.name + ".checkpoint")


def split_validation(count: int, fraction: float) -> tuple[list[int], list[int]]:
    """Train and held-back indices; the held-back set depends only on the file's size, never on the seed."""
    held = set(random.Random(0).sample(range(count), int(count * fraction))) if fraction else set()
    return [i for i in range(count) if i not in held], sorted(held)


def train_local(store: Store, data_path: Path, base: str, out: Path, config: LocalTrainConfig, seeds: list[int], *,
                limit: int | None = None, overwrite: bool = False, resume: bool = False, threads: int | None = None,
                device: str = "auto", progress: TrainingProgress | None = None) -> LocalTrainResult:
    """Train one LoRA adapter per seed on a chat JSONL file; every run is recorded in the store.

    `threads` caps torch's intra-op threads for the run (default: torch's, one per core).
    """
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise MmsError("--threads must be at least 1")
        torch.set_num_threads(threads)
    try:
        return _train_local(store, data_path, base, out, config, seeds, limit, overwrite, resume,
                            resolve_device(device), progress or _Silent())
    finally:
        torch.set_num_threads(before)


def _train_local(store: Store, data_path: Path, base: str, out: Path, config: LocalTrainConfig, seeds: list[int],
                 limit: int | None, overwrite: bool, resume: bool, device: str,
                 progress: TrainingProgress) -> LocalTrainResult:
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
    train_ids, val_ids = split_validation(len(examples), config.val_fraction)
    train = [examples[i] for i in train_ids]
    validation = pack_examples([examples[i] for i in val_ids], config.max_length, random.Random(0))
    plan_of = {seed: step_plan(train, config.max_length, config.batch_size, seed, config.epochs, config.max_steps)
               for seed in seeds}
    first_plan = plan_of[seeds[0]]
    result = LocalTrainResult(
        base=base, base_dir=base_dir, data_path=str(Path(data_path).resolve()), data_hash=file_sha256(data_path),
        examples=len(train), val_examples=len(val_ids), truncated=sum(e.truncated for e in examples),
        trained_tokens=sum(e.trained_tokens for e in train), steps=len(first_plan), device=device,
        threads=torch.get_num_threads(), fill=round(fill_ratio([p for _, rows in first_plan for p in rows],
                                                               config.max_length), 4),
        adapters=[],
    )
    params = {**asdict(config), "limit": limit, "threads": result.threads, "device": device, "base_dir": base_dir,
              "examples": result.examples, "val_examples": result.val_examples, "truncated": result.truncated,
              "trained_tokens": result.trained_tokens, "steps": result.steps}
    for seed, adapter_dir in zip(seeds, dirs):
        result.adapters.append(_train_seed(store, result, params, config, plan_of[seed], validation, seed,
                                           adapter_dir, resume, progress))
    return result


def _fingerprint(result: LocalTrainResult, config: LocalTrainConfig, seed: int, limit: int | None) -> dict[str, Any]:
    """What must be equal for a checkpoint to continue this run (threads and device may differ)."""
    return {"data_hash": result.data_hash, "base": result.base, "config": asdict(config), "seed": seed, "limit": limit}


def _train_seed(store: Store, result: LocalTrainResult, params: dict[str, Any], config: LocalTrainConfig,
                plan: list[tuple[int, list[Pack]]], validation: list[Pack], seed: int, adapter_dir: Path,
                resume: bool, progress: TrainingProgress) -> AdapterResult:
    checkpoints = Checkpoints(checkpoint_dir(adapter_dir), _fingerprint(result, config, seed, params["limit"]))
    resuming = resume and checkpoints.exists()
    done = 0
    if resuming:
        saved = checkpoints.read()
        run_id, done = saved["extra"]["run_id"], saved["state"]["step"]
        records.update_run(store, run_id, status="running", finished_at=None, error=None)
    else:
        run_id = records.start_run(store, method="local", base_model=result.base, data_path=result.data_path,
                                         data_hash=result.data_hash, params=params, seed=seed)
    checkpoints.extra["run_id"] = run_id
    adapter = AdapterResult(run_id, seed, adapter_dir, adapter_spec(result.base_dir, adapter_dir))

    def on_step(state: LoopState, entry: dict[str, Any]) -> None:
        adapter.losses, adapter.validation = state.losses, state.validation
        records.update_run(store, run_id, losses=state.losses)
        progress.step(seed, state.step, entry["loss"], state.tokens_per_s)

    try:
        model = load_lora_model(result.base_dir, config, seed, result.device)
        progress.start(seed, result.steps, done)
        state = fit(model, plan, validation, config.settings(), result.device, checkpoints, on_step,
                    resume=resuming, autocast=_autocast(result.device))
        adapter.losses, adapter.validation = state.losses, state.validation
        adapter.seconds, adapter.tokens, adapter.tokens_per_s = state.seconds, state.tokens, state.tokens_per_s
        save_adapter(model, adapter_dir, {
            "run_id": run_id, "seed": seed, "base": result.base, "data_path": result.data_path,
            "data_hash": result.data_hash, "params": params, "losses": state.losses, "validation": state.validation,
            "tokens": state.tokens, "tokens_per_s": round(state.tokens_per_s, 1), "model_id": adapter.model_id,
        })
        checkpoints.remove()
    except KeyboardInterrupt:
        records.finish_run(store, run_id, "cancelled", losses=adapter.losses, error=_resume_hint(checkpoints))
        raise
    except Exception as exc:
        records.finish_run(store, run_id, "failed", losses=adapter.losses,
                                 error=f"{type(exc).__name__}: {exc}; {_resume_hint(checkpoints)}")
        if isinstance(exc, MmsError):
            raise
        raise MmsError(f"training seed {seed} failed: {type(exc).__name__}: {exc} (run {run_id} marked failed)") from exc
    records.finish_run(store, run_id, "succeeded", losses=adapter.losses,
                             adapter_path=str(adapter_dir.resolve()), model_id=adapter.model_id)
    return adapter


def _resume_hint(checkpoints: Checkpoints) -> str:
    if checkpoints.exists():
        return f"interrupted; the same command with --resume continues from {checkpoints.folder}"
    return "interrupted before the first checkpoint"


def _autocast(device: str):
    if device != "cuda":
        return None
    import functools

    import torch

    return functools.partial(torch.autocast, device_type="cuda", dtype=torch.bfloat16)


def load_lora_model(base_dir: str, config: LocalTrainConfig, seed: int, device: str = "cpu"):
    """The base model in float32 with fresh LoRA weights (initialised from `seed`) on every linear layer asked for."""
    import warnings

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32,
                                                 attn_implementation=register_packed_attention())
    targets = config.target_modules
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, task_type="CAUSAL_LM",
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()],
    )
    try:
        model = get_peft_model(model, lora)
    except ValueError as exc:
        raise MmsError(f"cannot put LoRA on --target-modules {targets!r}: {exc}") from None
    return model.to(device)


def save_adapter(model, adapter_dir: Path, provenance: dict[str, Any]) -> None:
    """`adapter_config.json` + weights via peft, and `mms_training.json` saying how they were made."""
    adapter_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(adapter_dir))
    (adapter_dir / "mms_training.json").write_text(json.dumps(provenance, indent=2, sort_keys=True), encoding="utf-8")

