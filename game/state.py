"""The game's state as LangGraph carries it, and the per-game context nodes read.

Nothing here knows the store: the state holds domain messages, and the recorder (fed the
graph's updates by the runner) writes them down.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, TypedDict

from agents.players import Manipulator, Turn, UserSeat

from .messages import GameMessage
from .referee import Referee


class Mention(TypedDict):
    index: int
    turn: int
    speaker: str


class GameState(TypedDict, total=False):
    """Append-only transcript plus what the referee and the guess found.

    `messages_per_player` and `stop_on_mention` sit in the state so routing stays a pure
    function of it.
    """

    messages: Annotated[list[Turn], operator.add]
    messages_per_player: int
    stop_on_mention: bool
    recorded: GameMessage  # the newest message, as the referee judged it: the recorder stores it
    first_mention: Mention | None
    guess: str | None
    guess_correct: bool | None
    outcome: str | None
    error: str | None


@dataclass
class GameContext:
    """Everything a game's nodes need that is not state: the players and the referee."""

    manipulator: Manipulator
    user: UserSeat
    referee: Referee
