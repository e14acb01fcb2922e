"""How coherent the players are: repeated messages and distinct word bigrams, per seat.

A 135M model that has lost the thread repeats itself ("This is your message." six times) or
loops on a few words; these two figures catch both. A message *repeats* when its words (case
and punctuation ignored) equal those of an earlier message of the same game, from either seat.
*Distinct-2* is unique word bigrams over all word bigrams of a seat's messages (bigrams do not
cross messages); 1.0 means no bigram twice, a looping model falls towards 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

SEATS = ("manipulator", "user")
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def repeats(game: Sequence[tuple[str, str]]) -> list[bool]:
    """For each (speaker, text) of one game in order: does it repeat an earlier message?"""
    seen: set[tuple[str, ...]] = set()
    flags = []
    for _, text in game:
        key = tuple(words(text))
        flags.append(key in seen)
        seen.add(key)
    return flags


def distinct_2(texts: Iterable[str]) -> float | None:
    bigrams = [pair for text in texts for pair in _bigrams(words(text))]
    return len(set(bigrams)) / len(bigrams) if bigrams else None


def _bigrams(tokens: list[str]) -> list[tuple[str, str]]:
    return list(pairwise(tokens))


def coherence(games: Iterable[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """Per seat: messages, the share that repeat an earlier message of their game, distinct-2."""
    texts: dict[str, list[str]] = {s: [] for s in SEATS}
    repeated: dict[str, int] = dict.fromkeys(SEATS, 0)
    for game in games:
        for (speaker, text), again in zip(game, repeats(game)):
            if speaker in texts:
                texts[speaker].append(text)
                repeated[speaker] += again
    out: dict[str, Any] = {}
    for seat in SEATS:
        n = len(texts[seat])
        out[f"{seat}_messages"] = n
        out[f"{seat}_repeat_rate"] = round(repeated[seat] / n, 4) if n else None
        d2 = distinct_2(texts[seat])
        out[f"{seat}_distinct2"] = round(d2, 4) if d2 is not None else None
    return out


def run_coherence(store, run_id: str | None = None) -> dict[str, Any]:
    """`coherence` over the conversation messages (guesses left out) of a run's counted games."""
    games = []
    for game in store.games(run_id):
        games.append([(m["speaker"], m["visible_text"] or "") for m in store.messages(game["id"])
                      if m["phase"] == "conversation"])
    return coherence(games)


def coherence_line(quality: dict[str, Any]) -> str:
    """One line for a terminal: both seats' repeat rate and distinct-2."""
    parts = []
    for seat in SEATS:
        rate, d2 = quality.get(f"{seat}_repeat_rate"), quality.get(f"{seat}_distinct2")
        if rate is None:
            continue
        parts.append(f"{seat} {rate:.0%} repeated messages, distinct-2 {d2:.2f}" if d2 is not None
                     else f"{seat} {rate:.0%} repeated messages")
    return "Coherence: " + "; ".join(parts) if parts else "Coherence: no messages"
