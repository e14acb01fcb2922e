"""The games-list filter: one line such as `outcome:win codeword:ring smollm`, as SQL and in Python.

The same filter runs twice: in SQL to page the list out of a large database, and in Python to
decide whether a game that just changed belongs in the list. Both must agree, so both live here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, fields
from typing import Any

from game.queries import Where
from game.rows import GameRow

KEYS = {"outcome": "outcome", "o": "outcome", "codeword": "codeword", "c": "codeword",
        "manipulator": "manipulator", "m": "manipulator", "status": "status", "s": "status",
        "persona": "persona", "p": "persona"}
STATUSES = ("running", "finished")
HELP = ("outcome:win  codeword:ring  manipulator:smol  status:running  persona:curious  "
        "(o: c: m: s: p: for short; other words match codeword, manipulator, persona or topic)")


class FilterError(ValueError):
    """A filter line that cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class GameFilter:
    outcome: str | None = None
    codeword: str | None = None
    manipulator: str | None = None
    status: str | None = None
    persona: str | None = None
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, line: str) -> "GameFilter":
        from game.rules import OUTCOMES

        try:
            tokens = shlex.split(line)
        except ValueError as exc:
            raise FilterError(f"cannot read the filter: {exc}") from None
        values: dict[str, Any] = {}
        words: list[str] = []
        for token in tokens:
            key, sep, value = token.partition(":")
            if not sep:
                words.append(token.casefold())
                continue
            if key.casefold() not in KEYS:
                raise FilterError(f"unknown filter {key!r}: use {HELP}")
            name = KEYS[key.casefold()]
            value = value.strip().casefold()
            if not value:
                raise FilterError(f"{name}: needs a value, e.g. {name}:{'win' if name == 'outcome' else 'x'}")
            if name == "outcome" and value not in OUTCOMES:
                raise FilterError(f"unknown outcome {value!r}: use one of {', '.join(OUTCOMES)}")
            if name == "status" and value not in STATUSES:
                raise FilterError(f"unknown status {value!r}: use one of {', '.join(STATUSES)}")
            values[name] = value
        return cls(**values, words=tuple(words))

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        parts = [f"{f.name}:{getattr(self, f.name)}" for f in fields(self) if f.name != "words" and getattr(self, f.name)]
        return " ".join(parts + list(self.words))

    # -- SQL: for paging ---------------------------------------------------------------------

    def sql(self, label: str = "g.manipulator_label") -> tuple[str, list[Any]]:
        """A where-clause over `games g` (superseded games are always left out)."""
        where = Where("g.status != 'superseded'").equal("g.outcome", self.outcome).equal("g.status", self.status)
        where.equal("g.codeword", self.codeword, fold=True)
        if self.manipulator:
            where.contains((label, "g.manipulator"), self.manipulator)
        where.equal("g.persona", self.persona, fold=True)
        for word in self.words:
            where.contains(("g.codeword", label, "g.manipulator", "g.persona", "g.topic"), word)
        return where.sql()

    # -- Python: for live updates ------------------------------------------------------------

    def matches(self, game: GameRow) -> bool:
        if game.status == "superseded":
            return False
        if self.outcome and game.outcome != self.outcome:
            return False
        if self.status and game.status != self.status:
            return False
        if self.codeword and game.codeword.casefold() != self.codeword:
            return False
        if self.manipulator and not (self.manipulator in game.manipulator_label.casefold()
                                     or self.manipulator in game.manipulator.casefold()):
            return False
        if self.persona and (game.persona or "").casefold() != self.persona:
            return False
        haystack = [game.codeword, game.manipulator_label, game.manipulator, game.persona or "", game.topic or ""]
        return all(any(word in h.casefold() for h in haystack) for word in self.words)

