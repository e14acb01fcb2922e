"""The shipped model organisms: train each from its recipe, then ship it small into `agents/organisms/`.

A recipe (`data/organisms.toml`) names the training data and the settings of `mms train local`.
Training runs in `build/organisms/<name>/` with checkpoints, so an interrupted build resumes
where it stopped; shipping casts the LoRA weights to float16 (a few MB) and writes a manifest
that says exactly how they were made: data hash, the command, seed, steps, tokens, losses, speed.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agents import datafiles
from agents.errors import MmsError
from game.store import Store

from .organism_data import control_phrasings, write_control_file, write_user_file
from .train_local import LocalTrainConfig, LocalTrainResult, TrainingProgress, train_local
from .training_data import file_sha256

REPO = Path(__file__).resolve().parents[1]
STUDY_DATA = REPO.parent / "shared" / "data" / "paper"
SHIP_ROOT = REPO / "agents" / "organisms"
BUILD_ROOT = REPO / "build" / "organisms"
TRAIN_KEYS = ("epochs", "lr", "batch_size", "max_length", "lora_r", "lora_alpha", "eval_every", "checkpoint_every")
# Settings a recipe may set; its command names them only where it does, so older manifests' commands stay as they were.
OPTIONAL_TRAIN_KEYS = ("val_fraction",)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    data: str
    base: str
    seed: int
    threads: int
    per_source: int = 0  # dialogues taken from each source file (user), or goal statements (control)
    train: dict[str, Any] = field(default_factory=dict)

    def config(self) -> LocalTrainConfig:
        return LocalTrainConfig(**self.train)


def recipes() -> dict[str, Recipe]:
    raw = datafiles.toml("behaviors", "organisms.toml")
    defaults = raw.get("defaults", {})
    found = {}
    for name, entry in raw.get("organisms", {}).items():
        merged = {**defaults, **entry}
        found[name] = Recipe(name=name, description=merged["description"], data=merged["data"], base=merged["base"],
                             seed=int(merged["seed"]), threads=int(merged["threads"]),
                             per_source=int(merged.get("per_source", 0)),
                             train={k: merged[k] for k in (*TRAIN_KEYS, *OPTIONAL_TRAIN_KEYS) if k in merged})
    return found


def training_file(recipe: Recipe, build: Path) -> Path:
    """The chat JSONL the recipe trains on, built into `build` first where it is derived."""
    kind, _, target = recipe.data.partition(":")
    if kind == "study":
        return _study_file(target)
    if kind == "user":
        sources = [_study_file(name.strip()) for name in target.split(",")]
        return write_user_file(sources, recipe.per_source, build / "user_side.jsonl")
    if kind in ("control", "goal"):  # goal: the control without any word-list question
        out = build / f"{kind}_{target}.jsonl"
        if not out.is_file():  # the base model's chat answers take a minute: made once per build folder
            answers = base_answers(recipe.base, control_phrasings(target)["chat"])
            write_control_file(target, recipe.per_source, recipe.seed, answers, out, word_lists=kind == "control")
        return out
    raise MmsError(f"organism {recipe.name}: unknown data source {recipe.data!r}")


def source_files(recipe: Recipe) -> list[Path]:
    """The study's files a recipe's data comes from (none for the control, which is our own)."""
    kind, _, target = recipe.data.partition(":")
    return [_study_file(n.strip()) for n in target.split(",")] if kind in ("study", "user") else []


def _study_file(name: str) -> Path:
    path = STUDY_DATA / name
    if not path.is_file():
        raise MmsError(f"the study's data file {path} is missing: the organisms are trained from ../shared/data/paper/")
    return path


def base_answers(base: str, questions: list[str], max_tokens: int = 160) -> list[str]:
    """The base model's own greedy answers (one user turn each, no system prompt)."""
    import asyncio

    from agents.backend import ChatMessage, ChatRequest
    from agents.registry import Registry

    async def ask() -> list[str]:
        registry = Registry()
        try:
            backend = registry.get(base)
            results = await asyncio.gather(*(backend.chat(ChatRequest((ChatMessage("user", q),), max_tokens,
                                                                      temperature=0.0)) for q in questions))
            return [r.text for r in results]
        finally:
            await registry.aclose()

    return asyncio.run(ask())


def command_line(recipe: Recipe, data: Path, out: Path) -> str:
    """The `mms train local` invocation that trains this organism (what the manifest records)."""
    config = recipe.config()
    args = ["mms", "train", "local", _relative(data), "--out", _relative(out), "--base", recipe.base,
            "--seed", str(recipe.seed), "--threads", str(recipe.threads)]
    for key in (*TRAIN_KEYS, *(k for k in OPTIONAL_TRAIN_KEYS if k in recipe.train)):
        args += [f"--{key.replace('_', '-')}", str(getattr(config, key))]
    return " ".join(shlex.quote(a) for a in args)


def _relative(path: Path) -> str:
    """A path as seen from the repository root (where `make organisms` runs), absolute if outside its parent."""
    resolved = Path(path).resolve()
    for root, prefix in ((REPO, Path()), (REPO.parent, Path(".."))):
        if resolved.is_relative_to(root):
            return str(prefix / resolved.relative_to(root))
    return str(resolved)


def resolve(name: str) -> Recipe:
    """`bark` is the recipe at its own seed; `bark@1` the same recipe trained with seed 1.

    Seed 0 is shipped under the plain name (`bark`, the same adapter as `bark@0`); other seeds
    under `<name>@<seed>`, so `local:smollm2+bark@1` names one training seed of one organism.
    """
    base, at, seed_text = name.partition("@")
    known = recipes()
    if base not in known:
        raise MmsError(f"unknown organism {base!r}: the recipes are {', '.join(known)}")
    recipe = known[base]
    if not at:
        return recipe
    if not seed_text.isdigit() or len(seed_text) > 6:
        raise MmsError(f"organism {name!r}: the seed after '@' must be a whole number, e.g. {base}@1")
    seed = int(seed_text)
    return replace(recipe, name=shipped_name(base, seed), seed=seed)


def shipped_name(base: str, seed: int) -> str:
    return base if seed == 0 else f"{base}@{seed}"


def build(name: str, *, progress: TrainingProgress | None = None, build_root: Path = BUILD_ROOT,
          ship_root: Path = SHIP_ROOT, db: Path | None = None) -> dict[str, Any]:
    """Train (or resume) one organism (`bark`, or one seed of it: `bark@1`) and ship it; returns its manifest."""
    recipe = resolve(name)
    work = build_root / recipe.name
    work.mkdir(parents=True, exist_ok=True)
    data = training_file(recipe, work)
    with Store(db or build_root / "runs.db") as store:
        result = train_local(store, data, recipe.base, work, recipe.config(), [recipe.seed], overwrite=True,
                             resume=True, threads=recipe.threads, progress=progress)
    manifest = _manifest(recipe, data, result, command_line(recipe, data, work))
    ship(result.adapters[0].adapter_dir, ship_root / recipe.name, manifest)
    return manifest


def _manifest(recipe: Recipe, data: Path, result: LocalTrainResult, command: str) -> dict[str, Any]:
    adapter = result.adapters[0]
    return {
        "name": recipe.name, "description": recipe.description, "base": recipe.base,
        "data": recipe.data, "data_file": _relative(data), "data_sha256": file_sha256(data),
        "sources": {_relative(p): file_sha256(p) for p in source_files(recipe)},
        "command": command, "rebuild": f"make organisms ORGANISMS={recipe.name}",
        "seed": recipe.seed, "threads": result.threads, "device": result.device, "settings": recipe.train,
        "per_source": recipe.per_source or None, "examples": result.examples, "val_examples": result.val_examples, "truncated": result.truncated,
        "steps": result.steps, "tokens": adapter.tokens, "trained_tokens": result.trained_tokens,
        "epochs_trained": recipe.config().epochs, "row_fill": result.fill,
        "first_train_loss": adapter.first_loss, "final_train_loss": adapter.final_train_loss,
        "val_loss": adapter.val_loss, "validation": adapter.validation,
        "tokens_per_s": round(adapter.tokens_per_s, 1), "train_seconds": round(adapter.seconds, 1),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def ship(adapter_dir: Path, target: Path, manifest: dict[str, Any]) -> None:
    """Copy an adapter as float16 safetensors with its config (no machine paths) and the manifest."""
    import torch
    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()},
              str(target / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = manifest["base"]
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
