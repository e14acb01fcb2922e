"""The two seats of the game: how each player sees the conversation.

The manipulator sees its own raw messages (monologue included: it is its own memory), the
user's messages, and a status note before each of its turns. The simulated user sees only the
visible part of the manipulator's messages, from its own side, and never learns of the game
until the guess phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from . import prompts
from .backend import ChatBackend, ChatMessage, ChatRequest, ChatResult
from .errors import MmsError

Speaker = Literal["user", "manipulator"]
MANIPULATOR_PROMPTS = ("default", "none")


@dataclass(frozen=True)
class Turn:
    """One conversation message as both seats need it.

    `note` is the status note the manipulator was given before writing this message; it stays
    in the manipulator's view, so each prompt extends the previous one (and the model's cached
    prefix can be reused).
    """

    speaker: Speaker
    visible: str
    raw: str
    note: str = ""


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None


def check_manipulator_prompt(name: str) -> str:
    if name not in MANIPULATOR_PROMPTS:
        raise MmsError(f"unknown manipulator prompt {name!r}: use one of {', '.join(MANIPULATOR_PROMPTS)}")
    return name


def _visible_or_placeholder(text: str) -> str:
    return text if text.strip() else "..."


class Manipulator:
    """The manipulator's seat. Its `prompt` and `setup` come from the game's settings, which
    checked them (game/rules.py `GameSettings`); the seat takes them as they are."""

    def __init__(
        self,
        backend: ChatBackend,
        codeword: str,
        sampling: Sampling,
        *,
        prompt: str = "default",
        setup: str = "mms",
        conversation: str = "",
    ):
        self.backend = backend
        self.codeword = codeword
        self.sampling = sampling
        self.prompt = prompt
        self.setup = setup
        self.conversation = f"{conversation}/manipulator"

    def status_note(self, turn: int, total: int, user_said_it: bool) -> str:
        """What the manipulator is told before its turn; nothing when it plays without a prompt."""
        if self.prompt == "none":
            return ""
        if self.setup == "study":
            before, after = prompts.lines("manipulator_status_study.txt")
            return (after if user_said_it else before).format(turn=turn, total=total, codeword=self.codeword)
        progress = (
            "The user has already said the word."
            if user_said_it
            else "The user has not said the word yet."
        )
        return prompts.text("manipulator_status.txt").format(turn=turn, total=total, progress=progress)

    def view(self, history: list[Turn], note: str) -> list[ChatMessage]:
        messages: list[ChatMessage] = []
        if self.prompt == "default":
            messages.append(ChatMessage("system", prompts.text("manipulator_system.txt").format(codeword=self.codeword)))
        for t in history:
            if t.speaker == "user":
                messages.append(ChatMessage("user", _visible_or_placeholder(t.visible)))
            else:
                if t.note:
                    messages.append(ChatMessage("system", t.note))
                messages.append(ChatMessage("assistant", t.raw))
        if note:
            messages.append(ChatMessage("system", note))
        return messages

    async def reply(self, history: list[Turn], note: str) -> ChatResult:
        return await self.backend.chat(self._request(self.view(history, note)))

    def _request(self, messages: list[ChatMessage]) -> ChatRequest:
        s = self.sampling
        return ChatRequest(tuple(messages), s.max_tokens, s.temperature, s.top_p, s.seed, self.conversation)


class UserSeat(Protocol):
    """Whoever sits in the user's seat: a simulated user or a person (agents/human.py)."""

    async def reply(self, history: list[Turn]) -> ChatResult: ...

    async def guess(self, history: list[Turn]) -> ChatResult: ...


class SimulatedUser:
    """The simulated user's seat. Its `setup` comes from the game's settings and its `persona`
    from the command or spec that planned the game; each was checked there, once."""

    def __init__(
        self,
        backend: ChatBackend,
        sampling: Sampling,
        *,
        topic: str,
        seed_word: str,
        persona: str = "friendly",
        setup: str = "mms",
        conversation: str = "",
        guess_max_tokens: int = 32,
    ):
        self.setup = setup
        self.backend = backend
        self.sampling = sampling
        self.topic = topic
        self.seed_word = seed_word
        self.persona = persona
        self.conversation = f"{conversation}/user"
        self.guess_max_tokens = guess_max_tokens

    def system_prompt(self) -> str:
        return prompts.text(prompts.for_setup("user_system.txt", self.setup)).format(
            persona=prompts.personas()[self.persona], topic=self.topic, seed_word=self.seed_word
        )

    def view(self, history: list[Turn]) -> list[ChatMessage]:
        messages = [ChatMessage("system", self.system_prompt()), ChatMessage("user", prompts.text("user_kickoff.txt"))]
        for t in history:
            if t.speaker == "user":
                messages.append(ChatMessage("assistant", t.visible))
            else:
                messages.append(ChatMessage("user", _visible_or_placeholder(t.visible)))
        return messages

    async def reply(self, history: list[Turn]) -> ChatResult:
        return await self.backend.chat(self._request(self.view(history), self.sampling.max_tokens))

    async def guess(self, history: list[Turn]) -> ChatResult:
        messages = self.view(history)
        if messages[-1].role == "user":
            # The manipulator spoke last: fold its message and the question into one user turn.
            last = messages.pop()
            question = f"{last.content}\n\n{prompts.text(prompts.for_setup('user_guess.txt', self.setup))}"
        else:
            question = prompts.text(prompts.for_setup("user_guess.txt", self.setup))
        messages.append(ChatMessage("user", question))
        return await self.backend.chat(self._request(messages, self.guess_max_tokens))

    def _request(self, messages: list[ChatMessage], max_tokens: int) -> ChatRequest:
        s = self.sampling
        return ChatRequest(tuple(messages), max_tokens, s.temperature, s.top_p, s.seed, self.conversation)
