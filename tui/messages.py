"""Messages shared between the app, its screens and its widgets."""

from __future__ import annotations

from textual.message import Message

from agents.human import HumanPrompt

from .reader import ListedGame, MessageRow


class GameDone(Message):
    """A game played by this app's worker has finished."""

    def __init__(self, key: str, outcome: str) -> None:
        super().__init__()
        self.key = key
        self.outcome = outcome


class PlayFinished(Message):
    """The app's worker has played every game (or failed: then `error` says why)."""

    def __init__(self, outcomes: dict[str, str], error: str | None = None) -> None:
        super().__init__()
        self.outcomes = outcomes
        self.error = error


class HumanPrompted(Message):
    """It is the person's turn in the user's seat."""

    def __init__(self, prompt: HumanPrompt) -> None:
        super().__init__()
        self.prompt = prompt


class UserNavigated(Message):
    """The person moved through the games list themselves (so follow mode lets go)."""


class WholeMessageRequested(Message):
    """The person asked to read all of a message that the transcript shows cut."""

    def __init__(self, message: MessageRow, game: ListedGame) -> None:
        super().__init__()
        self.message = message
        self.game = game
