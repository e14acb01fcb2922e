"""One reusable chat-backend double for tests.

`Double` answers each request with `reply(request)` (a function of the request), or passes it
to an `inner` backend, and keeps every request it saw. `before(request)` runs first on each
call: a place to fail (raise `BackendError`) or to look at the world mid-game. A double given
`limit` calls raises `Exhausted` on the next one — loudly, and it remembers that it did, so a
test can assert no double was over-used even when a game turned the error into an outcome.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.backend import ChatRequest, ChatResult, Usage


class Exhausted(AssertionError):
    """A double was called more often than the test allowed."""


class Double:
    def __init__(self, spec: str | None = None, *, reply: Callable[[ChatRequest], str] | None = None, inner=None,
                 before: Callable[[ChatRequest], None] | None = None, limit: int | None = None):
        if (reply is None) == (inner is None):
            raise ValueError("give a double either reply= or inner=")
        self.spec = spec or getattr(inner, "spec", "double")
        self.reply, self.inner, self.before, self.limit = reply, inner, before, limit
        self.requests: list[ChatRequest] = []
        self.exhausted = False

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        if self.limit is not None and len(self.requests) > self.limit:
            self.exhausted = True
            raise Exhausted(f"{self.spec}: call {len(self.requests)}, but the test allows {self.limit}")
        if self.before is not None:
            self.before(request)
        if self.inner is not None:
            return await self.inner.chat(request)
        text = self.reply(request)
        return ChatResult(text=text, usage=Usage(0, len(text.split())))

    async def aclose(self) -> None:
        pass


def replies(*texts: str) -> Callable[[ChatRequest], str]:
    """Replies in order, one per call (a `limit` of len(texts) makes running out loud)."""
    queue = list(texts)
    return lambda request: queue.pop(0)
