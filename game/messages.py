"""One message of a game, as the referee judged it: what the graph produces, the recorder
stores and the watcher reads back (then with its row `id`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GameMessage:
    idx: int  # 0-based position in the game, guess included
    turn: int  # the speaker's own message number, 1-based
    speaker: str  # user | manipulator
    phase: str  # conversation | guess
    visible_text: str
    private_text: str  # the manipulator's monologue, never shown to the user
    raw_text: str  # exactly as generated
    mentions: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    id: int | None = None  # the stored row's id, once read back


@dataclass(frozen=True)
class TokenTotals:
    """Tokens a game used, per seat and per kind, summed as its messages are recorded."""

    manipulator: int = 0
    user: int = 0
    prompt: int = 0
    completion: int = 0

    def add(self, message: GameMessage) -> TokenTotals:
        both = message.prompt_tokens + message.completion_tokens
        return TokenTotals(
            self.manipulator + (both if message.speaker == "manipulator" else 0),
            self.user + (both if message.speaker == "user" else 0),
            self.prompt + message.prompt_tokens,
            self.completion + message.completion_tokens,
        )
