"""`human`: a person in the user's seat, behind the same chat protocol as any model.

The game asks the seat for a reply (`chat`); this backend turns the request into what the person
may see — the conversation from the user's side, which holds only the visible part of the
manipulator's messages, never its monologue or its status notes — hands that to whoever listens
(the terminal UI), and waits for the person's text on a queue the UI feeds. A request that ends
with the guess question is a guess prompt; a bare one-word answer is a valid guess.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from . import prompts
from .backend import ChatRequest, ChatResult, Usage

HUMAN_SPEC = "human"


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


class HumanBackend:
    """The user's seat played by a person. Only ever one conversation at a time."""

    spec = HUMAN_SPEC

    def __init__(self, on_prompt: Callable[[HumanPrompt], None] | None = None):
        self.on_prompt = on_prompt
        self.pending: HumanPrompt | None = None
        self._answers: asyncio.Queue[str] = asyncio.Queue()

    async def chat(self, request: ChatRequest) -> ChatResult:
        prompt = read_prompt(request)
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


def read_prompt(request: ChatRequest) -> HumanPrompt:
    """The person's view of a request: the conversation so far and, at the end, the guess question.

    The user seat's view is [system, kickoff, then its own messages as `assistant` and the
    manipulator's visible messages as `user`]; system prompt and kickoff are instructions for a
    model, not for a person.
    """
    question = prompts.text("user_guess.txt")
    lines: list[HumanLine] = []
    kind: Literal["reply", "guess"] = "reply"
    body = [m for m in request.messages if m.role != "system"]
    if body and body[0].role == "user" and body[0].content == prompts.text("user_kickoff.txt"):
        body = body[1:]
    for i, message in enumerate(body):
        text = message.content
        if i == len(body) - 1 and message.role == "user" and text.endswith(question):
            kind, text = "guess", text[: -len(question)].rstrip()
        if text:
            lines.append(HumanLine("you" if message.role == "assistant" else "assistant", text))
    number = sum(1 for line in lines if line.speaker == "you") + 1
    return HumanPrompt(kind, tuple(lines), question if kind == "guess" else "", number)
