"""The one seam between the game and any model: an async chat call.

Every backend — scripted, in-process transformers, OpenAI-compatible HTTP — takes a
`ChatRequest` and returns a `ChatResult`. Concurrent games share one backend instance, so
backends own their own batching, concurrency limits and retries.

Some backends can also *score* a fixed set of answers (`ScoringBackend.score`): the
probability of each as the reply, without sampling. They do it through the same machinery
as `chat` (the in-process model's worker, the HTTP client's retries and semaphore); a backend
without the method, or one whose server gives no logprobs, says so by `ScoringUnavailable`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from .errors import MmsError
from .settings import MAX_REQUESTS

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ChatRequest:
    """One generation request.

    `conversation` names the stream of calls this request belongs to (a game and a seat);
    stateful test doubles key on it, real models ignore it. `seed` makes sampling
    reproducible where the backend can honour it.
    """

    messages: tuple[ChatMessage, ...]
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    conversation: str = ""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    text: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str = "stop"


DEFAULT_CALL_TIMEOUT = 300.0  # the per-read timeout before there was a deadline: slow CPU servers need minutes
DEFAULT_RETRY_BUDGET = 600.0


@dataclass(frozen=True)
class CallLimits:
    """How long one model call to a server may take: `timeout_s` for one attempt, the whole reply
    read (a server that drips bytes is cut off too), `budget_s` for all its attempts and the
    waits between them (time queued for a free request slot not counted); and `max_requests`,
    the most requests in flight to one server URL (None: MMS_MAX_REQUESTS, else its default).

    Set by `--call-timeout`, `--retry-budget` and `--max-requests` (a tournament spec's
    `call_timeout`, `retry_budget` and `max_requests`); in-process backends have no use for them.
    """

    timeout_s: float = DEFAULT_CALL_TIMEOUT
    budget_s: float = DEFAULT_RETRY_BUDGET
    max_requests: int | None = None

    def __post_init__(self) -> None:
        for option, value in (("--call-timeout", self.timeout_s), ("--retry-budget", self.budget_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise MmsError(f"{option} must be a positive number of seconds, not {value!r}")
        value = self.max_requests
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not MAX_REQUESTS.low <= value <= MAX_REQUESTS.high):
            raise MmsError(f"--max-requests must be a whole number from {MAX_REQUESTS.low} to {MAX_REQUESTS.high} "
                           f"(requests in flight to one server), not {value!r}")

    def requests_per_server(self) -> int:
        """`max_requests`, else MMS_MAX_REQUESTS, else its default."""
        return MAX_REQUESTS.read() if self.max_requests is None else self.max_requests


class BackendError(Exception):
    """A model call failed for good (after whatever retries the backend does).

    The game that made the call ends as `error` with this message; other games go on.
    """


@runtime_checkable
class ChatBackend(Protocol):
    spec: str

    async def chat(self, request: ChatRequest) -> ChatResult: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class OptionScores:
    """Scores of the answers `options` to one prompt (the math is agents/scoring.py)."""

    options: tuple[str, ...]
    logprobs: tuple[float, ...]  # log P(option | prompt); -inf where a server gave nothing
    distribution: tuple[float, ...]  # normalised over the options: sums to 1
    method: str  # logprobs | top_logprobs
    coverage: float = 1.0  # top_logprobs only: the mass of the top tokens that matched an option

    @property
    def best(self) -> str:
        return self.options[max(range(len(self.options)), key=self.distribution.__getitem__)]


class ScoringUnavailable(Exception):
    """This backend cannot score options (no method, no logprobs from its server): sample instead.

    Not an error of the call: the message says why, and callers record it with the fall-back.
    """


@runtime_checkable
class ScoringBackend(Protocol):
    """A backend that can also give the probability of each of a fixed set of replies."""

    spec: str

    async def score(self, messages: Sequence[ChatMessage], options: Sequence[str],
                    method: str | None = None) -> OptionScores:
        """The distribution over `options`; `method` (`logprobs`: exact, `top_logprobs`: first
        token) asks for one way, None for the best the backend has."""
        ...


def can_score(backend: object) -> bool:
    return isinstance(backend, ScoringBackend)


@runtime_checkable
class MultiSampleBackend(Protocol):
    """A backend that draws many replies to one request at once (prefilling the prompt once)."""

    spec: str

    async def sample(self, request: ChatRequest, n: int) -> list[str]: ...
