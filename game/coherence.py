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
from itertools import groupby, pairwise
from operator import itemgetter
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
    tally = _Seat()
    for text in texts:
        tally.add(text, False)
    return tally.distinct_2()


class _Seat:
    """One seat's running figures: only the distinct bigrams are kept, never the texts."""

    __slots__ = ("messages", "repeated", "bigrams", "seen")

    def __init__(self) -> None:
        self.messages = self.repeated = self.bigrams = 0
        self.seen: set[tuple[str, str]] = set()

    def add(self, text: str, again: bool) -> None:
        pairs = list(pairwise(words(text)))
        self.messages += 1
        self.repeated += again
        self.bigrams += len(pairs)
        self.seen.update(pairs)

    def distinct_2(self) -> float | None:
        return len(self.seen) / self.bigrams if self.bigrams else None


def coherence(games: Iterable[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """Per seat: messages, the share that repeat an earlier message of their game, distinct-2.
    Games are read one at a time, so a stream of them costs memory only for distinct bigrams."""
    seats = {s: _Seat() for s in SEATS}
    for game in games:
        for (speaker, text), again in zip(game, repeats(game)):
            if speaker in seats:
                seats[speaker].add(text, again)
    out: dict[str, Any] = {}
    for seat, tally in seats.items():
        n = tally.messages
        out[f"{seat}_messages"] = n
        out[f"{seat}_repeat_rate"] = round(tally.repeated / n, 4) if n else None
        d2 = tally.distinct_2()
        out[f"{seat}_distinct2"] = round(d2, 4) if d2 is not None else None
    return out


def run_coherence(store, run_id: str | None = None) -> dict[str, Any]:
    """`coherence` over the conversation messages (guesses left out) of a run's counted games."""
    rows = store.read.conversation_texts(run_id)
    return coherence([(speaker, text) for _, speaker, text in game] for _, game in groupby(rows, key=itemgetter(0)))


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
