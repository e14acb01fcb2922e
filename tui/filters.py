"""The games-list filter: one line such as `outcome:win codeword:ring smollm`, as SQL and in Python.

The same filter runs twice: in SQL to page the list out of a large database, and in Python to
decide whether a game that just changed belongs in the list. Both must agree, so both live here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reader import GameRow

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
        clauses, args = ["g.status != 'superseded'"], []
        if self.outcome:
            clauses.append("g.outcome = ?")
            args.append(self.outcome)
        if self.status:
            clauses.append("g.status = ?")
            args.append(self.status)
        if self.codeword:
            clauses.append("lower(g.codeword) = ?")
            args.append(self.codeword)
        if self.manipulator:
            clauses.append(f"(lower({label}) like ? escape '\\' or lower(g.manipulator) like ? escape '\\')")
            args += [_like(self.manipulator)] * 2
        if self.persona:
            clauses.append("lower(g.persona) = ?")
            args.append(self.persona)
        for word in self.words:
            columns = ("g.codeword", label, "g.manipulator", "g.persona", "g.topic")
            clauses.append("(" + " or ".join(f"lower(coalesce({c}, '')) like ? escape '\\'" for c in columns) + ")")
            args += [_like(word)] * len(columns)
        return " and ".join(clauses), args

    # -- Python: for live updates ------------------------------------------------------------

    def matches(self, game: "GameRow") -> bool:
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


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
