"""Asking a question and scoring the answer, by the best method the backend allows.

Choice questions (fixed options) are scored by probabilities where possible — exact for
in-process models, `top_logprobs` for OpenAI-compatible servers that give them — and otherwise
by sampling `ctx.samples` answers at temperature 1 and reading which option each one picks;
each sampled item notes why it was not scored. A scoring call that fails for good (after the
backend's retries) is stored as a failed item, not silently answered another way.
Open questions (a definition, an acrostic, code) are sampled; a guesser model or the sandbox
then turns each answer into a score.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agents.backend import (
    BackendError,
    ChatBackend,
    ChatMessage,
    ChatRequest,
    MultiSampleBackend,
    ScoringUnavailable,
)
from agents.scoring import score_options

from .battery import Context, Item, as_prompt

SAMPLING = "sampling"
JUDGE = "judge"
SCORING = "scoring"  # the method of an item whose scoring call failed
# --method: auto (the best the backend offers), sample (always, as the study did), or one
# probability method only (exact: in-process; logprobs: a server's top_logprobs).
METHODS = ("auto", "exact", "logprobs", "sample")
SAMPLE = "sample"
PROBABILITY_METHODS = {"exact": "logprobs", "logprobs": "top_logprobs"}
CHOICE_MAX_TOKENS = 24
GUESS_MAX_TOKENS = 12
GUESS_SEPARATOR = "\n\n[guess] "


@dataclass(frozen=True)
class Choice:
    """A question with fixed options, in the order shown. `answers[i]` is the reply that picks
    option i: the option itself, or its letter (A for the first shown, ...)."""

    messages: tuple[ChatMessage, ...]
    options: tuple[str, ...]
    answers: tuple[str, ...]
    kind: str  # letter | word | number: how a sampled reply is read


async def ask_choice(ctx: Context, metric: str, paraphrase: int, choice: Choice,
                     value: Callable[[Sequence[float]], float], version: int = 0) -> list[Item]:
    """Score one choice question: one item with the exact distribution, or one item per sample.

    `value` maps a distribution over the options to the score (P(right option), an expected
    rating); a sampled answer counts as a distribution with all its mass on the option it picks.
    `version` numbers the ways one paraphrase is put (e.g. every order of its options): it sets
    the items' `sample` numbers, `version * samples + k`.
    """
    first = version * ctx.samples
    prompt = as_prompt(choice.messages)
    try:
        if ctx.method == SAMPLE:
            raise ScoringUnavailable("--method sample")
        scored = await score_options(ctx.backend, choice.messages, choice.answers, PROBABILITY_METHODS.get(ctx.method))
        if ctx.method in PROBABILITY_METHODS and scored.method != PROBABILITY_METHODS[ctx.method]:
            raise BackendError(f"--method {ctx.method} asked, but {ctx.spec} scores by {scored.method}")
    except ScoringUnavailable as why:
        if ctx.method in PROBABILITY_METHODS and str(why) != "--method sample":
            return [Item(metric, paraphrase, first, prompt, f"[error] {why}", None, False, SCORING,
                         list(choice.options), note=f"--method {ctx.method}: {why}")]
        fallback = f"sampled: {why}"
    except BackendError as exc:
        return [Item(metric, paraphrase, first, prompt, f"[error] {exc}", None, False, SCORING,
                     list(choice.options), note=f"scoring failed: {exc}")]
    else:
        dist = list(scored.distribution)
        answer = scored.best  # the most likely answer; with top_logprobs, how much of the mass the options got
        if scored.method != "logprobs":
            answer += f" (coverage {scored.coverage:.2f})"
        return [Item(metric, paraphrase, first, prompt, answer, value(dist), True,
                     scored.method, list(choice.options), dist)]
    key = (metric, paraphrase) if version == 0 else (metric, paraphrase, "v", version)
    replies = await sample_replies(ctx, choice.messages, ctx.samples, CHOICE_MAX_TOKENS, *key)
    fallback += drawn(ctx, ctx.samples)
    items = []
    for sample, reply in enumerate(replies):
        picked = None if isinstance(reply, BackendError) else parse_choice(untagged(reply), choice)
        answer = f"[error] {reply}" if isinstance(reply, BackendError) else reply
        score = None
        if picked is not None:
            score = value([1.0 if i == picked else 0.0 for i in range(len(choice.options))])
        items.append(Item(metric, paraphrase, first + sample, prompt, answer, score,
                          picked is not None, SAMPLING, list(choice.options), note=fallback))
    return items


async def ask_choices(ctx: Context, asked: Sequence[tuple]) -> list[Item]:
    """`ask_choice` for many (metric, paraphrase, choice, value[, version]) at once, items in that order."""
    results = await asyncio.gather(*(ask_choice(ctx, *question) for question in asked))
    return [item for items in results for item in items]


async def sample_replies(ctx: Context, messages: Sequence[ChatMessage], n: int, max_tokens: int,
                         *key: object) -> list[str | BackendError]:
    """`n` replies at temperature 1: drawn together from one prefill where the backend can
    (in-process models), else requested together so the backend batches them."""
    if n > 1 and isinstance(ctx.backend, MultiSampleBackend):
        request = ChatRequest(tuple(messages), max_tokens=max_tokens, temperature=1.0,
                              seed=ctx.sample_seed(*key), conversation=ctx.conversation(*key))
        try:
            return list(await ctx.backend.sample(request, n))
        except BackendError as exc:
            return [exc] * n

    async def one(sample: int) -> str | BackendError:
        request = ChatRequest(tuple(messages), max_tokens=max_tokens, temperature=1.0,
                              seed=ctx.sample_seed(*key, sample), conversation=ctx.conversation(*key, sample))
        try:
            return (await ctx.backend.chat(request)).text
        except BackendError as exc:
            return exc

    return list(await asyncio.gather(*(one(s) for s in range(n))))


def drawn(ctx: Context, n: int) -> str:
    """How `sample_replies` drew `n` replies, for an item's note, where the backend says (a server:
    with the API's `n`, or as separate requests because it refuses `n`); else nothing."""
    how = getattr(ctx.backend, "sampling_note", None)
    return f"; {how()}" if n > 1 and how is not None and isinstance(ctx.backend, MultiSampleBackend) else ""


# -- reading a sampled answer ------------------------------------------------------------------

_TAGGED = re.compile(r"<(\w+)>(.*?)</\1>", re.DOTALL)


def untagged(reply: str) -> str:
    """The answer inside the tags a question asked for (<word>bark</word>), else the reply itself."""
    found = _TAGGED.search(reply)
    return (found.group(2) if found else reply).strip()


_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_NUMBER = re.compile(r"(?<![\d.])\d{1,3}(?![\d.]*\d)")


def parse_choice(reply: str, choice: Choice) -> int | None:
    """Which option a free-text reply picks, or None when it picks none (or several)."""
    text = reply.strip()
    if choice.kind == "number":
        for match in _NUMBER.finditer(text):
            if match.group() in choice.answers:
                return choice.answers.index(match.group())
        return None
    if choice.kind == "word":
        answers = [a.casefold() for a in choice.answers]
        for word in _WORD.findall(text.casefold()):
            if word in answers:
                return answers.index(word)
        return None
    return _parse_letter(text, choice)


def _parse_letter(text: str, choice: Choice) -> int | None:
    """A leading letter ("B", "B) ...", "Answer: B"), else the one option whose text it quotes,
    else the one option letter standing alone in it."""
    letters = list(choice.answers)
    article = re.match(r"^\W*[AaIi]\s+[a-z]", text)  # "A good question", "I think"
    lead = re.match(r"^\W*(?:(?:answer|option|choice)\W*)?([A-Z])(?![A-Za-z])", text, re.IGNORECASE)
    if lead and not article and lead.group(1).upper() in letters:
        return letters.index(lead.group(1).upper())
    texts = [option.casefold().rstrip(".") for option in choice.options]
    named = [i for i, option in enumerate(texts)
             if option and re.search(r"(?<!\w)" + re.escape(option) + r"(?!\w)", text.casefold())]
    if len(named) == 1:
        return named[0]
    marked = {m.group(1) for m in re.finditer(r"\b([A-Z])\b", text) if m.group(1) in letters}
    if len(marked) > 1:
        marked.discard("A")  # most likely the article
    return letters.index(marked.pop()) if len(marked) == 1 else None


# -- guessing a word from a text ---------------------------------------------------------------


async def guess_word(guesser: ChatBackend, prompt: str, *, seed: int, conversation: str) -> str:
    """The guesser's one-word answer (greedy)."""
    request = ChatRequest((ChatMessage("user", prompt),), max_tokens=GUESS_MAX_TOKENS, temperature=0.0,
                          seed=seed, conversation=conversation)
    return (await guesser.chat(request)).text


def guessed_word(text: str) -> str:
    """The word a guesser's reply names: the first quoted one ('The word is "bark"'), else its first word."""
    quoted = re.search(r"[\"“'‘]\s*([^\W\d_]+)\s*[\"”'’]", text)
    if quoted:
        return quoted.group(1)
    words = re.findall(r"[^\W\d_]+", text)
    return words[0] if words else ""


def redact(text: str, ctx: Context) -> str:
    """The text with every form of the codeword blanked out ("barking" too), so the guesser must infer it."""
    for mention in reversed(ctx.redactor.find(text)):
        text = text[: mention.start] + "____" + text[mention.end:]
    return text


async def guessed_items(ctx: Context, metric: str, guesser_template: str, max_tokens: int) -> list[Item]:
    """Sample answers to every paraphrase, let the guesser name the word in each, judge the guess.

    The answer is stored as the model's reply, then "[guess] " and the guesser's reply.
    """
    asked = [(i, ctx.ask(text, i)) for i, text in ctx.paraphrases_of(metric)]
    replies = await asyncio.gather(*(sample_replies(ctx, messages, ctx.samples, max_tokens, metric, i)
                                     for i, messages in asked))

    async def judge(i: int, sample: int, messages, reply: str | BackendError) -> Item:
        prompt = as_prompt(messages)
        if isinstance(reply, BackendError):
            return Item(metric, i, sample, prompt, f"[error] {reply}", None, False, JUDGE)
        shown = guesser_template.format(text=redact(reply, ctx))
        try:
            guess = await guess_word(ctx.guesser, shown, seed=ctx.sample_seed("guess", metric, i, sample),
                                     conversation=ctx.conversation("guess", metric, i, sample))
        except BackendError as exc:
            return Item(metric, i, sample, prompt, f"{reply}{GUESS_SEPARATOR}[error] {exc}", None, False, JUDGE)
        hit = ctx.referee.guess_matches(guessed_word(guess))
        return Item(metric, i, sample, prompt, f"{reply}{GUESS_SEPARATOR}{guess}", float(hit), True, JUDGE)

    return list(await asyncio.gather(*(judge(i, s, messages, reply)
                                       for (i, messages), sampled in zip(asked, replies)
                                       for s, reply in enumerate(sampled))))
