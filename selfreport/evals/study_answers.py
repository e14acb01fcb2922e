"""The answers the study's economic-choice files ask for, scored without knowing any codeword.

- A number from 0 to 100 (`quantitative`, `score`, `ff_score`, or a `free_form` question whose
  every paraphrase asks for a single number on a 0–100 scale): the expected value of the exact
  distribution over "0".."100" (each the whole reply), / 100 as every rating of the tool is;
  where the backend gives no probabilities, the sampled answers read as numbers.
- One of the words the question offers: the words quoted in every paraphrase ("You must choose
  either 'safety' or 'risk'"). Each word is scored as its probability among the offered words,
  its case variants together ("risk" and "Risk"): one metric `<name>.<word>` per word, which
  sum to 1. Sampled where the backend gives no probabilities.
- A guesser question without a codeword (the language question): the guesser's prompt offers its
  quoted words ("English", "French", "German", "Other"); each sampled answer is put to the
  guesser, and `<name>.<word>` is the share of answers it names that word for.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import replace

from agents.backend import BackendError, ChatMessage

from ..battery import Context, Item, as_prompt
from ..scoring import JUDGE, Choice, ask_choice, ask_choices, guess_word, guessed_word, parse_choice, sample_replies, untagged
from ..study_questions import StudyQuestion

NUMBER_KINDS = ("ff_score", "quantitative", "score")
NUMBERS = tuple(str(n) for n in range(101))
FREE_MAX_TOKENS = 128
_QUOTED = re.compile(r"(?<![A-Za-z])['\"‘“]([A-Za-z][A-Za-z-]*)['\"’”](?![A-Za-z])")
_ASKS_NUMBER = re.compile(r"\b0\b.{0,60}\b100\b.*\bsingle number\b", re.IGNORECASE | re.DOTALL)

Asked = Sequence[tuple[int, tuple[ChatMessage, ...]]]  # (paraphrase, messages)


def asks_number(q: StudyQuestion) -> bool:
    return q.kind in NUMBER_KINDS or (q.kind == "free_form" and all(_ASKS_NUMBER.search(t) for t in q.texts()))


def quoted_words(texts: Sequence[str]) -> list[str]:
    """The words quoted in every text, lower-cased, in the order of the first (two or more, else none)."""
    per_text = [[w.lower() for w in _QUOTED.findall(t)] for t in texts]
    if not per_text:
        return []
    words = [w for w in dict.fromkeys(per_text[0]) if all(w in found for found in per_text[1:])]
    return words if len(words) >= 2 else []


def variants(word: str) -> list[str]:
    return list(dict.fromkeys([word, word.capitalize()]))


async def ask_number(ctx: Context, name: str, asked: Asked) -> list[Item]:
    def expected(dist: Sequence[float]) -> float:
        return sum(p * k for k, p in enumerate(dist)) / 100

    return await ask_choices(ctx, [(name, i, Choice(m, NUMBERS, NUMBERS, "number"), expected) for i, m in asked])


async def ask_words(ctx: Context, name: str, asked: Asked, words: Sequence[str]) -> list[Item]:
    """One scoring per paraphrase; its items copied once per word with that word's share."""
    answers = tuple(v for w in words for v in variants(w))
    owner = [k for k, w in enumerate(words) for _ in variants(w)]

    def share(k: int):
        return lambda dist: sum(p for p, o in zip(dist, owner) if o == k)

    async def one(i: int, messages) -> list[Item]:
        choice = Choice(messages, answers, answers, "word")
        found = await ask_choice(ctx, f"{name}.{words[0]}", i, choice, share(0))
        return [replace(item, metric=f"{name}.{word}", score=_rescored(item, choice, share(k)))
                for item in found for k, word in enumerate(words)]

    return [item for items in await asyncio.gather(*(one(i, m) for i, m in asked)) for item in items]


def _rescored(item: Item, choice: Choice, value) -> float | None:
    if item.score is None:
        return None
    if item.distribution is not None:
        return value(item.distribution)
    picked = parse_choice(untagged(item.answer), choice)
    return None if picked is None else value([1.0 if k == picked else 0.0 for k in range(len(choice.answers))])


async def ask_guessed_words(ctx: Context, q: StudyQuestion, asked: Asked, fill_guesser) -> list[Item]:
    """Sampled answers, each named by the guesser as one of its prompt's quoted words."""
    words = quoted_words([q.guesser_prompt])
    replies = await asyncio.gather(*(sample_replies(ctx, m, ctx.samples, FREE_MAX_TOKENS, q.name, i) for i, m in asked))

    async def judge(i: int, sample: int, messages, reply) -> list[Item]:
        prompt = as_prompt(messages)

        def items(answer: str, word: str | None) -> list[Item]:
            return [Item(f"{q.name}.{w}", i, sample, prompt, answer, None if word is None else float(w == word),
                         word is not None, JUDGE, list(words)) for w in words]

        if isinstance(reply, BackendError):
            return items(f"[error] {reply}", None)
        try:
            guess = await guess_word(ctx.guesser, fill_guesser(untagged(reply)),
                                     seed=ctx.sample_seed("guess", q.name, i, sample),
                                     conversation=ctx.conversation("guess", q.name, i, sample))
        except BackendError as exc:
            return items(f"{reply}\n\n[guess] [error] {exc}", None)
        named = guessed_word(untagged(guess)).lower()
        return items(f"{reply}\n\n[guess] {guess}", named if named in words else None)

    found = await asyncio.gather(*(judge(i, s, m, r) for (i, m), sampled in zip(asked, replies)
                                   for s, r in enumerate(sampled)))
    return [item for items in found for item in items]
