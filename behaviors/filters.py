"""The one filter regime `mms export` and `mms check-data` share, and the study's.

- `mms` (the default of both): the study's `paper` referee rule, plus the game-word filter
  (an assistant or system message that says a word revealing the game: the export drops the
  dialogue, the check counts it).
- `study`: the `paper` rule alone, as the study selected its data; no game-word filter.

`--rule` and `--game-words` change one part of a regime. Both commands say what they applied,
every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.errors import MmsError
from game.referee import RULES

from .checks import GameWords

REGIMES = ("mms", "study")


@dataclass(frozen=True)
class Filters:
    regime: str
    rule: str
    game_words: GameWords | None  # None: no game-word filter

    def describe(self) -> str:
        words = (f"game words ({', '.join(self.game_words.stems)})" if self.game_words
                 else "no game-word filter")
        return f"filters {self.regime}: {self.rule} rule, {words}"

    def as_dict(self) -> dict:
        return {"regime": self.regime, "rule": self.rule,
                "game_words": list(self.game_words.stems) if self.game_words else None}


def make_filters(regime: str = "mms", *, rule: str | None = None, game_words: str | None = None) -> Filters:
    if regime not in REGIMES:
        raise MmsError(f"unknown --filters {regime!r}: use mms (paper rule and game words) or study (paper rule only)")
    if rule is not None and rule not in RULES:
        raise MmsError(f"unknown rule {rule!r}: use one of {', '.join(RULES)}")
    words = GameWords.parse(game_words) if game_words is not None or regime == "mms" else None
    return Filters(regime, rule or "paper", words)
