"""Writes a game to the store as the graph plays it: each message the moment it is judged, the
first mention when it happens, the verdict at the end.

The graph's nodes only transform the game state; the runner streams their updates here, so
every side effect of a game sits in this one place and a crash still loses at most the message
being generated.
"""

from __future__ import annotations

from typing import Any

from .messages import GameMessage, TokenTotals
from .store import Store


class GameRecorder:
    def __init__(self, store: Store, game_id: int):
        self.store, self.game_id = store, game_id
        self.tokens = TokenTotals()
        self.guess: str | None = None
        self.error: str | None = None
        self.outcome: str | None = None

    def update(self, node: str, update: dict[str, Any] | None) -> None:
        """One node's update to the game state (LangGraph's `updates` stream mode)."""
        if not update:
            return
        message: GameMessage | None = update.get("recorded")
        if message is not None:
            self.store.add_message(self.game_id, message)
            self.tokens = self.tokens.add(message)
        mention = update.get("first_mention")
        if mention:
            self.store.set_first_mention(self.game_id, mention["index"], mention["turn"], mention["speaker"])
        if "guess" in update:
            self.guess = update["guess"]
        if update.get("error"):
            self.error = update["error"]
        if update.get("outcome"):
            self.finish(update["outcome"])

    def finish(self, outcome: str, error: str | None = None) -> None:
        self.outcome = outcome
        self.error = error or self.error
        self.store.finish_game(self.game_id, outcome=outcome, guess=self.guess, error=self.error, tokens=self.tokens)
