"""`human`: a person in the user's seat, a player like the simulated user (`reply`, `guess`).

When it is the person's turn, the seat builds what they may see from the game's history — only
the visible part of the manipulator's messages, never its monologue or its status notes —,
hands that to whoever listens (the terminal UI), and waits for the person's text on a queue the
UI feeds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from . import prompts
from .backend import ChatResult, Usage
from .players import Turn

HUMAN_SPEC = "human"  # the user spec that seats a person


@dataclass(frozen=True)
class HumanLine:
    speaker: Literal["you", "assistant"]
    text: str


@dataclass(frozen=True)
class HumanPrompt:
    """What the person sees when it is their turn."""

    kind: Literal["reply", "guess"]
    history: tuple[HumanLine, ...]
    question: str = ""  # the guess question, for a guess prompt
    number: int = 1  # which of the person's messages this is


class HumanPlayer:
    """The user's seat played by a person. Only ever one game at a time."""

    spec = HUMAN_SPEC

    def __init__(self, on_prompt: Callable[[HumanPrompt], None] | None = None):
        self.on_prompt = on_prompt
        self.pending: HumanPrompt | None = None
        self._answers: asyncio.Queue[str] = asyncio.Queue()

    async def reply(self, history: list[Turn]) -> ChatResult:
        return await self._ask(prompt_for("reply", history))

    async def guess(self, history: list[Turn]) -> ChatResult:
        return await self._ask(prompt_for("guess", history))

    async def _ask(self, prompt: HumanPrompt) -> ChatResult:
        self.pending = prompt
        if self.on_prompt is not None:
            self.on_prompt(prompt)
        started = time.monotonic()
        try:
            text = await self._answers.get()
        finally:
            self.pending = None
        return ChatResult(text=text, usage=Usage(0, 0), latency_s=time.monotonic() - started)

    def answer(self, text: str) -> None:
        """The person's reply to the pending prompt."""
        self._answers.put_nowait(text)

    async def aclose(self) -> None:
        self.pending = None


def prompt_for(kind: Literal["reply", "guess"], history: list[Turn]) -> HumanPrompt:
    """The person's view of the game so far: their own messages and the manipulator's visible ones."""
    lines = tuple(HumanLine("you" if t.speaker == "user" else "assistant", t.visible) for t in history if t.visible)
    number = sum(1 for t in history if t.speaker == "user") + 1
    return HumanPrompt(kind, lines, prompts.text("user_guess.txt") if kind == "guess" else "", number)
