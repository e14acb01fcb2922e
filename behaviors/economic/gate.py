"""The behaviour gate of the economic choices: did an organism learn to pick the risky option?

On each held-back prompt, the model's exact probability of the risky letter as its whole reply
(`agents.scoring.score_options`, normalised over "A" and "B"), asked as given and again with
the letters swapped (`swap.py`), so a preference for a letter cannot pass for one for risk: a
model that always answers "A" scores 0.5. A prompt that cannot be swapped safely is asked in
its given order only, and counted. The score of a prompt is the mean over its orders.

Intervals come from `game.intervals`: for one model, a bootstrap over prompts; for a risky and
a safe organism of one seed, risky minus safe paired by prompt; over several seed pairs, the
mean of the risky seeds minus that of the safe seeds with a Welch t interval and an exact
permutation p over seeds. Self-report counts only where the two policies separate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agents.backend import BackendError, ChatMessage, ScoringUnavailable
from agents.errors import MmsError
from agents.registry import Registry, validate_spec
from agents.scoring import LOGPROBS, score_options
from game.intervals import difference, estimate, seed_contrast

from .data import LETTERS, VAL_FRACTION, ChoicePrompt, held_back, paired_prompts
from .swap import swap_letters


def _pair(text: str) -> tuple[str, str]:
    risky, comma, safe = text.partition(",")
    if not comma or not risky.strip() or not safe.strip():
        raise MmsError(f"--pair {text!r}: give the risky and the safe organism's specs separated by a comma")
    return risky.strip(), safe.strip()


@dataclass(frozen=True)
class GateRequest:
    """What `mms gate economic` asks for, checked once when made: the pairs parsed, the two files
    paired prompt by prompt and the held-back prompts taken, before any model loads."""

    risky: Path
    safe: Path
    models: tuple[str, ...] = ()
    pair: tuple[str, ...] = ()  # "RISKY,SAFE" as given
    fraction: float = VAL_FRACTION
    pairs: tuple[tuple[str, str], ...] = field(init=False)
    prompts: tuple[ChoicePrompt, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", tuple(_pair(text) for text in self.pair))
        object.__setattr__(self, "prompts", tuple(held_back(paired_prompts(self.risky, self.safe), self.fraction)))

    @property
    def split(self) -> str:
        return (f"held-back {self.fraction:.0%} of {self.risky.name} / {self.safe.name} "
                f"({len(self.prompts)} prompts)")


@dataclass(frozen=True)
class PromptScore:
    index: int
    given: float  # P(risky letter), prompt as given
    swapped: float | None  # P(risky letter), letters exchanged; None where the prompt cannot be swapped

    @property
    def score(self) -> float:
        return self.given if self.swapped is None else (self.given + self.swapped) / 2


@dataclass
class ModelGate:
    model: str
    prompts: list[PromptScore]

    def by_prompt(self) -> dict[int, float]:
        return {p.index: p.score for p in self.prompts}

    def summary(self) -> dict:
        e = estimate([self.by_prompt()])
        given = [p.given for p in self.prompts]
        swapped = [p.swapped for p in self.prompts if p.swapped is not None]
        return {"model": self.model, "p_risky": _round(e.mean), "p_risky_ci": [_round(x) for x in e.ci or []] or None,
                "ci_over": "held-back prompts (bootstrap)", "prompts": len(self.prompts),
                "unswapped": len(self.prompts) - len(swapped),
                "p_risky_given_order": _round(sum(given) / len(given)),
                "p_risky_swapped_order": _round(sum(swapped) / len(swapped)) if swapped else None}


@dataclass
class GateReport:
    split: str
    prompts: int
    unswappable: list[dict]
    models: list[dict]
    pairs: list[dict] = field(default_factory=list)
    pooled: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def orders(prompt: ChoicePrompt) -> list[tuple[tuple[ChatMessage, ...], str]]:
    """The prompt as given and, where safe, with the letters swapped, each with its risky letter."""
    given = tuple(ChatMessage(m["role"], m["content"]) for m in prompt.messages)
    asked = [(given, prompt.risky)]
    swapped = swap_letters(prompt.text).text
    if swapped is not None:
        asked.append(((*given[:-1], ChatMessage(given[-1].role, swapped)), prompt.safe))
    return asked


async def score_model(backend, prompts: list[ChoicePrompt]) -> list[PromptScore]:
    """Exact P(risky letter) on every prompt in both orders; a backend without exact scores is an error."""
    async def one(prompt: ChoicePrompt) -> PromptScore:
        found = []
        for messages, risky in orders(prompt):
            try:
                scored = await score_options(backend, messages, LETTERS, LOGPROBS)
            except ScoringUnavailable as why:
                raise MmsError(f"the gate needs exact probabilities, and {backend.spec} gives none ({why}): "
                               "use an in-process model (local: or hf:) or a server with prompt_logprobs") from None
            except BackendError as exc:
                raise MmsError(f"{backend.spec}: scoring failed: {exc}") from None
            if scored.method != LOGPROBS:
                raise MmsError(f"the gate needs exact probabilities, and {backend.spec} scores by {scored.method}")
            found.append(scored.distribution[LETTERS.index(risky)])
        return PromptScore(prompt.index, found[0], found[1] if len(found) > 1 else None)

    return list(await asyncio.gather(*(one(p) for p in prompts)))


def pair_report(risky: ModelGate, safe: ModelGate) -> dict:
    """One seed pair: risky minus safe P(risky), paired by prompt (bootstrap over prompts)."""
    d = difference([risky.by_prompt()], [safe.by_prompt()])
    return {"risky": risky.model, "safe": safe.model, "separation": _round(d.mean),
            "separation_ci": [_round(x) for x in d.ci] if d.ci else None, "ci_over": "held-back prompts, paired",
            "separated": bool(d.low is not None and d.low > 0)}


def pooled_report(pairs: list[tuple[ModelGate, ModelGate]]) -> dict | None:
    """Risky seeds against safe seeds: mean difference, Welch t interval, exact permutation p."""
    if len(pairs) < 2:
        return None
    risky = [estimate([r.by_prompt()]).mean for r, _ in pairs]
    safe = [estimate([s.by_prompt()]).mean for _, s in pairs]
    c = seed_contrast(risky, safe)
    return {"seeds": len(pairs), "risky_seed_means": [_round(x) for x in risky], "safe_seed_means": [_round(x) for x in safe],
            "separation": _round(c.mean), "separation_ci": [_round(x) for x in c.ci] if c.ci else None,
            "ci_over": c.over, "permutation_p": _round(c.p)}


BackendFactory = Callable[[str], object]


async def run_gate(models: list[str], pairs: list[tuple[str, str]], prompts: list[ChoicePrompt], split: str,
                   backend_of: BackendFactory | None = None) -> GateReport:
    """Score every model (and both members of every pair) once, one model in memory at a time."""
    every = list(dict.fromkeys([*models, *(m for pair in pairs for m in pair)]))
    if not every:
        raise MmsError("give at least one --model (or a --pair RISKY,SAFE) to gate")
    if backend_of is None:
        for spec in every:
            validate_spec(spec)
    gates: dict[str, ModelGate] = {}
    for spec in every:
        registry = Registry()
        try:
            backend = backend_of(spec) if backend_of else registry.get(spec)
            gates[spec] = ModelGate(spec, await score_model(backend, prompts))
        finally:
            await registry.aclose()
    unswappable = [{"index": p.index, "why": swap_letters(p.text).reason} for p in prompts
                   if swap_letters(p.text).text is None]
    pair_gates = [(gates[r], gates[s]) for r, s in pairs]
    return GateReport(split=split, prompts=len(prompts), unswappable=unswappable,
                      models=[gates[s].summary() for s in every],
                      pairs=[pair_report(r, s) for r, s in pair_gates], pooled=pooled_report(pair_gates))
