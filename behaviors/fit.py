"""The behaviour gate of Make Me Say: did an organism learn its dialogues?

A 135M organism cannot win games, so winning is no gate. What training changes is how well the
model predicts the manipulator's side of the study's dialogues: the loss per assistant token on
the dialogues training held back (`split_validation`, the same 5% for every seed). Each model is
scored on each file; with two organisms and their two files the *crossover* says whether each
fits its own codeword's dialogues better than the other organism does:

    crossover = (L[B on file A] - L[A on file A]) + (L[A on file B] - L[B on file B])

Positive: each organism learned what is particular to its own data, beyond what both learned of
the game's style. Its interval resamples dialogues within each file (every model is scored on
the same dialogues, so the resampling is paired).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from agents.errors import MmsError

from .training_data import IGNORE, Example, file_sha256, load_chat_jsonl, tokenize_dialogue
from .train_local import split_validation

BOOTSTRAPS = 10_000


@dataclass(frozen=True)
class FileLoss:
    """One model on one file: summed loss and trained tokens per dialogue, in file order."""

    model: str
    file: str
    sums: tuple[float, ...]
    tokens: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(sum(self.sums) / sum(self.tokens))


@dataclass(frozen=True)
class FitReport:
    """Held-out loss of every model on every file, and the crossover of the first two where asked."""

    split: str
    files: list[dict]
    models: list[str]
    loss: list[dict]
    crossovers: list[dict] = field(default_factory=list)
    pooled: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)


def weights_of(spec: str) -> tuple[str, str | None]:
    """The base folder and adapter folder a spec loads in process (`local:` and `hf:` specs only)."""
    from agents.local_models import model_dir, organism_dir, parse_hf_target, parse_local_target, resolve_base

    kind, _, target = spec.partition(":")
    if kind == "local":
        name, organism = parse_local_target(target)
        return str(model_dir(name)), str(organism_dir(organism)) if organism else None
    if kind == "hf":
        base, adapter = parse_hf_target(target)
        return resolve_base(base), adapter
    raise MmsError(f"mms fit scores weights in process: give a local: or hf: spec, not {spec!r} "
                   "(a server returns no loss for the tokens of a whole dialogue)")


def held_out(count: int, fraction: float) -> list[int]:
    """The indices of `count` dialogues that training held back at `fraction` (all of them when `fraction` is 0)."""
    if fraction == 0:
        return list(range(count))
    _, held = split_validation(count, fraction)
    if not held:
        raise MmsError(f"--val-fraction {fraction} holds back no dialogue of {count}: raise it, or use 0 for all")
    return held


def score_model(spec: str, files: list[Path], fraction: float, max_length: int, progress=None) -> list[FileLoss]:
    """Loss per assistant token of one model on the held-out dialogues of each file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    base, adapter = weights_of(spec)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    found = []
    for path in files:
        dialogues = load_chat_jsonl(path)
        sums, counts = [], []
        for i in held_out(len(dialogues), fraction):  # templating every dialogue would cost more than scoring
            total, n = _dialogue_loss(model, tokenize_dialogue(tokenizer, dialogues[i], max_length))
            sums.append(total)
            counts.append(n)
            if progress:
                progress(spec, path)
        found.append(FileLoss(spec, str(path), tuple(sums), tuple(counts)))
    return found


def _dialogue_loss(model, example: Example) -> tuple[float, int]:
    import torch
    import torch.nn.functional as F

    targets = torch.tensor(example.labels[1:] + [IGNORE])
    keep = targets != IGNORE
    if not bool(keep.any()):
        return 0.0, 0
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([example.input_ids])).logits[0]
    return float(F.cross_entropy(logits[keep].float(), targets[keep], reduction="sum")), int(keep.sum())


def loss_interval(cell: FileLoss, seed: int = 0, n: int = BOOTSTRAPS) -> list[float]:
    """95% bootstrap interval of the loss per token, resampling dialogues."""
    sums, tokens = np.array(cell.sums), np.array(cell.tokens)
    picks = np.random.default_rng(seed).integers(0, len(sums), (n, len(sums)))
    draws = sums[picks].sum(1) / tokens[picks].sum(1)
    return [round(float(x), 4) for x in np.percentile(draws, [2.5, 97.5])]


def crossover(a_on_a: FileLoss, b_on_a: FileLoss, a_on_b: FileLoss, b_on_b: FileLoss, seed: int = 0,
              n: int = BOOTSTRAPS) -> dict:
    """Each organism's advantage on its own file, summed, with a paired bootstrap over dialogues."""
    rng = np.random.default_rng(seed)

    def draws(mine: FileLoss, other: FileLoss) -> tuple[float, np.ndarray]:
        ms, os_, tok = np.array(mine.sums), np.array(other.sums), np.array(mine.tokens)
        picks = rng.integers(0, len(ms), (n, len(ms)))
        return other.mean - mine.mean, (os_[picks].sum(1) - ms[picks].sum(1)) / tok[picks].sum(1)

    own_a, draws_a = draws(a_on_a, b_on_a)
    own_b, draws_b = draws(b_on_b, a_on_b)
    total = draws_a + draws_b
    lo, hi = np.percentile(total, [2.5, 97.5])
    return {
        "models": [a_on_a.model, b_on_b.model], "files": [a_on_a.file, b_on_b.file],
        "advantage_on_own_file": [round(own_a, 4), round(own_b, 4)],
        "crossover": round(own_a + own_b, 4), "crossover_ci": [round(float(lo), 4), round(float(hi), 4)],
        "interval_over": "dialogues (paired bootstrap within each file)",
    }


def _pair(text: str) -> tuple[str, str]:
    a, comma, b = text.partition(",")
    if not comma or not a.strip() or not b.strip():
        raise MmsError(f"--crossover {text!r}: give two specs separated by a comma, e.g. "
                       "local:smollm2+bark,local:smollm2+ring")
    return a.strip(), b.strip()


@dataclass(frozen=True)
class FitRequest:
    """What `mms fit` asks for, checked once when made, before any model loads.

    Each pair of `crossover` ("A,B" as given) is (the organism of files[0], the organism of
    files[1]), e.g. one training seed of bark and of ring."""

    files: tuple[Path, ...]
    models: tuple[str, ...] = ()
    crossover: tuple[str, ...] = ()
    fraction: float = 0.05
    max_length: int = 2048
    pairs: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", tuple(_pair(text) for text in self.crossover))
        for path in self.files:
            if not Path(path).is_file():
                raise MmsError(f"data file not found: {path}")
        if not 0 <= self.fraction < 1:
            raise MmsError(f"--val-fraction must be in [0, 1), not {self.fraction}")
        if self.pairs and len(self.files) != 2:
            raise MmsError("--crossover compares two organisms on their two data files: give exactly two files")
        if not self.every:
            raise MmsError("give at least one --model (or a --crossover pair) to score")

    @property
    def every(self) -> list[str]:
        """Every model to score, once each, in the order given."""
        return list(dict.fromkeys([*self.models, *(m for pair in self.pairs for m in pair)]))


def fit(request: FitRequest, progress=None) -> FitReport:
    """Score every model (and every model of the pairs) on every file; report each pair's
    crossover and, over several pairs, the mean crossover with a t interval over seeds."""
    files, fraction = request.files, request.fraction
    cells = {(c.model, c.file): c for spec in request.every
             for c in score_model(spec, list(files), fraction, request.max_length, progress)}
    loss = [{"model": c.model, "file": c.file, "loss": round(c.mean, 4), "loss_ci": loss_interval(c),
             "dialogues": len(c.sums), "tokens": sum(c.tokens)} for c in cells.values()]
    crossovers = []
    if request.pairs:
        fa, fb = (str(p) for p in files)
        crossovers = [crossover(cells[a, fa], cells[b, fa], cells[a, fb], cells[b, fb]) for a, b in request.pairs]
    return FitReport(
        split=f"held-out {fraction:.0%} of each file (the split training holds back)" if fraction else "every dialogue",
        files=[{"path": str(p), "sha256": file_sha256(p)} for p in files], models=request.every, loss=loss,
        crossovers=crossovers, pooled=pooled_crossover(crossovers))


def pooled_crossover(crossovers: list[dict]) -> dict | None:
    """The mean crossover of several seed pairs with a t interval over seeds (None for fewer than two)."""
    from game.intervals import estimate

    if len(crossovers) < 2:
        return None
    seeds = estimate([[c["crossover"]] for c in crossovers])
    return {"crossover": round(seeds.mean, 4), "crossover_ci": [round(seeds.low, 4), round(seeds.high, 4)],
            "seeds": len(crossovers), "interval_over": "seeds (t interval of the per-seed crossovers)"}
