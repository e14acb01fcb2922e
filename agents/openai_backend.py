"""`openai:<model>[@<base_url>]`: the OpenAI API or any OpenAI-compatible server.

One HTTP client per backend, shared by all concurrent games and capped by a semaphore, so a run
never opens more requests than the server (or the account's rate limit) can take. Retries are
ours alone (the SDK's are off): one failed call is retried with exponential backoff and full
jitter, honouring `Retry-After`, on what is worth retrying — rate limits, server errors,
timeouts, dropped or refused connections — and then fails the one game, never the run.
The SDK is given a plain `httpx` client: explicit pool limits, and `respx` can mock it in tests.
The API key is read from the environment when the client is made and is never kept, logged or
shown; server text that echoes it is scrubbed from error messages. `score` goes through the
same retry loop and semaphore: exactly, from `prompt_logprobs`, where the server has them
(vLLM), else from the first token's `top_logprobs` (agents/scoring.py says how they differ).

Time is bounded by `CallLimits`: each attempt has a deadline for the whole reply (a server that
drips bytes is cut off), and all attempts of one call share a retry budget; a wait the server
asks for that would not fit in what is left fails the call at once rather than sleeping. Each
retry is announced in one line on stderr. Every reply is read by agents/openai_reply.py, the one
boundary that checks its shape.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlparse

import httpx

from .backend import (
    BackendError,
    CallLimits,
    ChatMessage,
    ChatRequest,
    ChatResult,
    ScoringUnavailable,
)
from .errors import SpecError
from .openai_client import auth_hint, detail, make_client, one_line, require_key, scrub
from .openai_reply import MalformedReply, Reply, read_reply
from .scoring import LOGPROBS, TOP_K, TOP_LOGPROBS, OptionScores, match_top_logprobs, normalise, reply_logprob
from .settings import MAX_REPLY_BYTES, OPENAI_CONCURRENCY

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = {408, 429}  # and every 5xx


def parse_openai_target(target: str) -> tuple[str, str | None]:
    """`model` → (model, None) for the official API; `model@http(s)://host[:port]/path` → (model, url)."""
    model, sep, url = target.strip().partition("@http")
    url = "http" + url if sep else None
    if url is None and "@" in model:
        model, _, url = model.rpartition("@")
    form = "use openai:<model> or openai:<model>@http(s)://host:port/v1"
    if not model or any(c.isspace() for c in model):
        raise SpecError(f"openai spec {target!r} names no model: {form}")
    if url is not None:
        try:
            parsed = urlparse(url)
            httpx.URL(url)
        except (ValueError, httpx.InvalidURL) as exc:
            raise SpecError(f"openai spec {target!r}: the server address {url!r} is not a valid URL ({exc}): {form}") from None
        if parsed.scheme not in ("http", "https") or not parsed.hostname or any(c.isspace() for c in url):
            raise SpecError(f"openai spec {target!r}: the server address {url!r} is not an http(s):// URL: {form}")
        try:
            port = parsed.port
        except ValueError:
            port = 0
        if port == 0:
            raise SpecError(f"openai spec {target!r}: the port in {url!r} is not a number from 1 to 65535: {form}")
        url = url.rstrip("/")
    return model, url


class OpenAIBackend:
    def __init__(self, spec: str, model: str, base_url: str | None = None, *, max_concurrency: int | None = None,
                 max_retries: int = 5, backoff_base: float = 1.0, backoff_max: float = 30.0,
                 limits: CallLimits | None = None, notify: Callable[[str], None] | None = None):
        self.spec, self.model = spec, model
        self.base_url = base_url or OFFICIAL_BASE_URL
        self.where = spec if self.base_url in spec else f"{spec} at {self.base_url}"
        if base_url is None:
            require_key(spec)
        if max_concurrency is None:
            max_concurrency = OPENAI_CONCURRENCY.read()
        if max_concurrency < 1 or max_retries < 0:
            raise ValueError("max_concurrency must be >= 1 and max_retries >= 0")
        self.max_concurrency, self.max_retries = max_concurrency, max_retries
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.limits = limits or CallLimits()
        self.notify = notify or _to_stderr
        self._client = None
        self._gate: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._no_logprobs: str | None = None  # why this server cannot score, once it has shown it
        self._no_prompt_logprobs: str | None = None  # why it cannot score exactly, once it has shown it
        self._adapters: list[str] | None = None  # the LoRA adapters the server lists, once listed
        self._listing: asyncio.Lock | None = None

    @classmethod
    def from_target(cls, spec: str, target: str, **options) -> OpenAIBackend:
        model, base_url = parse_openai_target(target)
        return cls(spec, model, base_url, **options)

    def _ensure_client(self):
        """The SDK client and the gate belong to one event loop; a new loop gets new ones."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = make_client(base_url=self.base_url, timeout=self.limits.timeout_s,
                                       max_connections=self.max_concurrency)
            self._gate, self._loop = asyncio.Semaphore(self.max_concurrency), loop
            self._listing = asyncio.Lock()
        return self._client

    async def chat(self, request: ChatRequest) -> ChatResult:
        """One completion. `latency_s` is the time of the attempt that succeeded."""
        kwargs = dict(model=self.model, messages=[m.as_dict() for m in request.messages],
                      max_tokens=request.max_tokens, temperature=request.temperature, top_p=request.top_p)
        if request.seed is not None:
            kwargs["seed"] = request.seed
        reply, latency = await self._create(kwargs)
        return ChatResult(reply.text, reply.usage, latency, reply.finish_reason)

    async def score(self, messages: Sequence[ChatMessage], options: Sequence[str],
                    method: str | None = None) -> OptionScores:
        """Exact scores from `prompt_logprobs` where the server gives them, else first-token
        `top_logprobs` (`method` asks for one of the two: `logprobs` or `top_logprobs`); through
        the same retries and gate as `chat`.

        What the server cannot do is remembered and not asked again; `ScoringUnavailable` says
        why when it cannot do what was asked.
        """
        if method not in (None, LOGPROBS, TOP_LOGPROBS):
            raise ValueError(f"unknown scoring method {method!r}")
        if method != TOP_LOGPROBS:
            if not self._no_prompt_logprobs:
                try:
                    return await self._score_exact(messages, options)
                except ScoringUnavailable as why:
                    self._no_prompt_logprobs = str(why)
            if method == LOGPROBS:
                raise ScoringUnavailable(self._no_prompt_logprobs)
        return await self._score_top(messages, options)

    async def _prompt_logprobs(self, messages: list[dict], *, reply: bool):
        """The server's (token ids, logprobs, token texts) of the rendered chat."""
        extra = {"prompt_logprobs": 0}
        if reply:
            extra.update(add_generation_prompt=False, continue_final_message=False)
        kwargs = dict(model=self.model, messages=messages, max_tokens=1, temperature=0.0, extra_body=extra)
        try:
            reply, _ = await self._create(kwargs, refusal=True)
        except _Refused as refused:
            raise ScoringUnavailable(f"{self.where} refuses prompt_logprobs ({refused})") from None
        rows = reply.prompt_logprobs
        if not isinstance(rows, list) or len(rows) < 2 or rows[0] is not None:
            raise ScoringUnavailable(f"{self.where} returns no prompt_logprobs")
        tokens, logprobs, texts = [None], [None], [""]
        for row in rows[1:]:
            if not isinstance(row, dict) or len(row) != 1:
                raise ScoringUnavailable(f"{self.where} returns prompt_logprobs in a form mms does not read")
            (token, entry), = row.items()
            if not isinstance(entry, dict) or not isinstance(entry.get("logprob"), (int, float)):
                raise ScoringUnavailable(f"{self.where} returns prompt_logprobs in a form mms does not read")
            tokens.append(token)
            logprobs.append(float(entry["logprob"]))
            texts.append(str(entry.get("decoded_token", token)))
        return tokens, logprobs, texts

    async def _score_exact(self, messages: Sequence[ChatMessage], options: Sequence[str]) -> OptionScores:
        """Each option as the whole reply: one request for the prompt, one per option (the
        server's prefix cache makes the shared prompt cheap)."""
        await self._check_no_adapters()
        chat = [m.as_dict() for m in messages]
        prefix, _, _ = await self._prompt_logprobs(chat, reply=False)  # alone first: a server without them costs one call
        replies = await asyncio.gather(
            *(self._prompt_logprobs([*chat, {"role": "assistant", "content": o}], reply=True) for o in options))
        totals = []
        for option, (tokens, logprobs, texts) in zip(options, replies):
            total = reply_logprob(prefix[1:], tokens[1:], logprobs[1:], texts[1:])
            if total is None:
                raise ScoringUnavailable(f"{self.where}: the chat template's tokens do not split cleanly "
                                         f"before the reply {option!r}")
            totals.append(total)
        return OptionScores(tuple(options), tuple(totals), normalise(totals), LOGPROBS)

    async def _check_no_adapters(self) -> None:
        """Refuse exact scoring on a server that serves LoRA adapters: vLLM 0.32 (seen on its CPU
        build) kills its engine on the first prompt_logprobs request when LoRA is enabled, so
        such a server is scored by top_logprobs instead. The models are listed once; concurrent
        callers wait for that one listing."""
        if self.base_url == OFFICIAL_BASE_URL:
            return
        client = self._ensure_client()
        async with self._listing:
            if self._adapters is None:
                try:
                    async with self._gate, asyncio.timeout(self.limits.timeout_s):
                        listed = await client.models.list()
                    self._adapters = [m.id for m in listed.data if (m.model_extra or {}).get("parent")]
                except Exception:  # noqa: BLE001 - no listing: the scoring request itself will say what is wrong
                    self._adapters = []
        if self._adapters:
            raise ScoringUnavailable(f"{self.where} serves LoRA adapters ({', '.join(self._adapters)}), and vLLM "
                                     "crashes on prompt_logprobs with LoRA enabled; scored by top_logprobs instead")

    async def _score_top(self, messages: Sequence[ChatMessage], options: Sequence[str]) -> OptionScores:
        if self._no_logprobs:
            raise ScoringUnavailable(self._no_logprobs)
        kwargs = dict(model=self.model, messages=[m.as_dict() for m in messages], max_tokens=1,
                      temperature=1.0, logprobs=True, top_logprobs=TOP_K)
        try:
            reply, _ = await self._create(kwargs, refusal=True)
        except _Refused as refused:
            self._no_logprobs = f"{self.where} refuses logprobs requests ({refused})"
            raise ScoringUnavailable(self._no_logprobs) from None
        if not reply.top_logprobs:
            self._no_logprobs = f"{self.where} returns no logprobs"
            raise ScoringUnavailable(self._no_logprobs)
        scored = match_top_logprobs(list(reply.top_logprobs), options)
        if scored is None:
            raise ScoringUnavailable(f"the top {TOP_K} first tokens put too little mass on the options")
        return scored

    async def _create(self, kwargs: dict, *, refusal: bool = False) -> tuple[Reply, float]:
        """One chat completion with our retries: (the checked reply, latency of the attempt that
        succeeded), within `self.limits`.

        With `refusal`, an HTTP 400 or 422 raises `_Refused` (the server does not take these fields)
        instead of failing the call.
        """
        client = self._ensure_client()
        attempts, spent = self.max_retries + 1, 0.0
        for attempt in range(1, attempts + 1):
            deadline = min(self.limits.timeout_s, self.limits.budget_s - spent)
            try:
                async with self._gate:
                    start = time.perf_counter()
                    try:
                        async with asyncio.timeout(deadline):
                            body, content_type = await self._read_body(client, kwargs)
                        return read_reply(body, content_type), time.perf_counter() - start
                    finally:
                        spent += time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001 - `_retryable` raises again what is not worth a retry
                what, rest, headers = self._retryable(exc, deadline, refusal)
            failed = f"{what} after {attempt} {'attempt' if attempt == 1 else 'attempts'}{rest}"
            if attempt == attempts:
                raise self._error(failed)
            wait = self._wait(failed, attempt, headers, self.limits.budget_s - spent)
            self.notify(one_line(scrub(f"{self.where}: {what}{rest}; retry {attempt} of {self.max_retries} in {wait:.1f} s")))
            await asyncio.sleep(wait)
            spent += wait
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _read_body(client, kwargs: dict) -> tuple[bytes, str]:
        """The reply's bytes, read as they come and refused past MMS_MAX_REPLY_BYTES (a server could
        otherwise send until memory runs out), and its content type."""
        limit = MAX_REPLY_BYTES.read()
        async with client.chat.completions.with_streaming_response.create(**kwargs) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MalformedReply(f"the reply would be {int(declared):,} bytes, over the {limit:,}-byte limit "
                                     f"(raise it with {MAX_REPLY_BYTES.name}=<bytes>)")
            chunks, size = [], 0
            async for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise MalformedReply(f"the reply runs past the {limit:,}-byte limit "
                                         f"(raise it with {MAX_REPLY_BYTES.name}=<bytes>)")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")

    def _retryable(self, exc: Exception, deadline: float, refusal: bool):
        """(what failed, the detail, the response's headers or None) for a failure worth another
        attempt; any other failure is raised, as a `BackendError` where it is the server's."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            if refusal and code in (400, 422):
                raise _Refused(f"HTTP {code}: {detail(exc)}") from None
            if code not in RETRY_STATUS and code < 500:
                raise self._error(f"the server refused the request with HTTP {code}: {detail(exc)}{auth_hint(code)}") from None
            what = "rate limited (HTTP 429)" if code == 429 else f"server error HTTP {code}"
            return what, f": {detail(exc)}", exc.response.headers
        if isinstance(exc, TimeoutError):
            cut = "" if deadline == self.limits.timeout_s else ", what was left of the retry budget"
            return "timed out", f" (no complete reply within {_seconds(deadline)} s{cut}; --call-timeout sets it)", None
        if isinstance(exc, openai.APITimeoutError):
            return "timed out", f" (no answer within {_seconds(self.limits.timeout_s)} s)", None
        if isinstance(exc, openai.APIConnectionError):
            return "connection failed", f" ({_root_cause(exc)}) — is the server running?", None
        if isinstance(exc, MalformedReply):
            if not exc.retry:
                raise self._error(f"unusable reply: {exc}") from None
            return "unusable reply", f": {exc}", None
        if isinstance(exc, openai.OpenAIError):
            raise self._error(f"unusable response: {type(exc).__name__}: {exc}") from None
        raise exc

    def _wait(self, failed: str, attempt: int, headers, left: float) -> float:
        """Seconds to wait before the next attempt; `BackendError` when the retry budget has not that long left."""
        asked = _retry_after(headers) if headers is not None else None
        if asked is not None and asked > left:
            raise self._error(f"{failed}; not retried: the server asks to wait {_seconds(asked)} s (Retry-After), "
                              f"more than the {_seconds(left)} s left of the {_seconds(self.limits.budget_s)} s "
                              "retry budget (--retry-budget)")
        wait = self.delay(attempt, headers)
        if wait >= left:
            raise self._error(f"{failed}; not retried: the {_seconds(self.limits.budget_s)} s retry budget is spent "
                              "(--retry-budget)")
        return wait

    def delay(self, attempt: int, headers=None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): Retry-After, else full jitter."""
        wait = _retry_after(headers) if headers is not None else None
        if wait is not None:
            return min(wait, max(self.backoff_max, 60.0))
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def _error(self, reason: str) -> BackendError:
        return BackendError(one_line(scrub(f"{self.where}: {reason}")))

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.close()


class _Refused(Exception):
    """The server rejected the request's fields (HTTP 400 or 422)."""


def _to_stderr(line: str) -> None:
    """A retry notice: one line on whatever stderr is now (a progress bar redirects it above itself)."""
    print(line, file=sys.stderr, flush=True)


def _seconds(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") if value >= 1 else f"{value:.2g}"


def _root_cause(exc: BaseException) -> str:
    """The innermost cause, e.g. 'Connection refused' rather than the SDK's 'Connection error.'."""
    reason, seen = str(exc), set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        errno = getattr(exc, "errno", None)
        if isinstance(exc, OSError) and errno:
            return os.strerror(errno) if errno > 0 else exc.strerror or str(exc)  # < 0: a failed DNS lookup
        reason = str(exc) or type(exc).__name__
        exc = exc.__cause__ or exc.__context__
    return reason


def _retry_after(headers) -> float | None:
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
