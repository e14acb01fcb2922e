"""`openai:<model>[@<base_url>[@<base_url>…]]`: the OpenAI API, or any OpenAI-compatible server,
or several replicas of one model.

Requests go through agents/http_transport.py (not the openai SDK, whose per-request CPU would cap a
run at ~150 messages a second): one transport per event loop, shared by every backend.
agents/servers.py picks the replica for each attempt and caps the requests in flight per server
URL (`--max-requests`), so a run never opens more requests than the server (or the account's rate
limit) can take. Retries are ours: one failed call is retried with exponential backoff and full
jitter, honouring `Retry-After`, on what is worth retrying — rate limits, server errors, timeouts,
dropped or refused connections — and then fails the one game, never the run. Such a failure sets
its replica aside, and where another replica is in service the retry goes there at once, without
a backoff. The API key is read from the environment per backend and event loop, sent only in the
Authorization header, and never logged or shown; server text that echoes it is scrubbed from
error messages. `score` goes through the same retry loop and request slots: exactly, from
`prompt_logprobs`, where the server has them
(vLLM), else from the first token's `top_logprobs` (agents/scoring.py says how they differ).
`sample` draws many replies to one prompt with the API's `n` where the server takes it.

Time is bounded by `CallLimits`: each attempt has a deadline for the whole reply (a server that
drips bytes is cut off), and all attempts of one call share a retry budget; a wait the server
asks for that would not fit in what is left fails the call at once rather than sleeping. Each
retry is announced in one line on stderr. Every reply is read by agents/openai_reply.py, the one
boundary that checks its shape.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
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
    OptionScores,
    ScoringUnavailable,
)
from .errors import SpecError
from .http_transport import ConnectionFailed, HttpTransport, proxy_for, shared_transport
from .openai_client import KEY_ENV, auth_hint, body_detail, one_line, require_key, scrub
from .openai_reply import MalformedReply, Reply, read_reply
from .scoring import LOGPROBS, TOP_K, TOP_LOGPROBS, match_top_logprobs, normalise, reply_logprob
from .servers import Replica, ServerSet, server_key
from .settings import MAX_REQUESTS

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = {408, 429}  # and every 5xx
REFUSAL_STATUS = (400, 422)  # a server that does not take a request's fields
N_CHUNK = 128  # completions asked of one request with the API's `n`
SPEC_FORM = "use openai:<model>, openai:<model>@http(s)://host:port/v1, or for replicas openai:<model>@URL1@URL2"
REPLICA_SEPARATOR = re.compile(r"@(?=https?://)")
REPLICA_COMMA = re.compile(r",\s*https?://")


def parse_openai_target(target: str) -> tuple[str, tuple[str, ...]]:
    """`model` → (model, ()) for the official API; `model@http(s)://host[:port]/path` → (model, (url,));
    `model@URL1@URL2…` → (model, the URLs): replicas serving one model."""
    model, sep, urls = target.strip().partition("@http")
    urls = "http" + urls if sep else None
    if urls is None and "@" in model:
        model, _, urls = model.rpartition("@")
    if not model or any(c.isspace() for c in model):
        raise SpecError(f"openai spec {target!r} names no model: {SPEC_FORM}")
    if urls is None:
        return model, ()
    if REPLICA_COMMA.search(urls):
        raise SpecError(f"openai spec {target!r}: separate the replicas' addresses with @, not a comma "
                        f"(a comma already separates specs in --pair and --crossover): {SPEC_FORM}")
    parsed = tuple(_base_url(target, url) for url in REPLICA_SEPARATOR.split(urls))
    seen: dict[str, str] = {}
    for url in parsed:
        first = seen.setdefault(server_key(url), url)
        if first is not url:
            raise SpecError(f"openai spec {target!r} names one server twice: {first!r} and {url!r}; list each replica once")
    return model, parsed


def check_proxies(spec: str, base_urls: Sequence[str]) -> None:
    """Refuse, before any game starts, a proxy from the environment that mms cannot use."""
    for url in base_urls:
        try:
            proxy_for(url)
        except ConnectionFailed as exc:
            raise SpecError(f"{spec}: {exc.reason}") from None


def _base_url(target: str, url: str) -> str:
    try:
        parsed = urlparse(url)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise SpecError(f"openai spec {target!r}: the server address {url!r} is not a valid URL ({exc}): {SPEC_FORM}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname or any(c.isspace() for c in url):
        raise SpecError(f"openai spec {target!r}: the server address {url!r} is not an http(s):// URL: {SPEC_FORM}")
    try:
        port = parsed.port
    except ValueError:
        port = 0
    if port == 0:
        raise SpecError(f"openai spec {target!r}: the port in {url!r} is not a number from 1 to 65535: {SPEC_FORM}")
    if "@" in parsed.path:
        raise SpecError(f"openai spec {target!r}: the server address {url!r} has an @ in its path; "
                        f"write each replica's address in full, with http(s)://: {SPEC_FORM}")
    return url.rstrip("/")


class OpenAIBackend:
    def __init__(self, spec: str, model: str, base_url: str | Sequence[str] | None = None, *,
                 max_requests: int | None = None, max_retries: int = 5, backoff_base: float = 1.0,
                 backoff_max: float = 30.0, limits: CallLimits | None = None,
                 notify: Callable[[str], None] | None = None):
        self.spec, self.model = spec, model
        base_urls = (base_url,) if isinstance(base_url, str) else tuple(base_url or ())
        if not base_urls:
            require_key(spec)
        self.base_urls = base_urls or (OFFICIAL_BASE_URL,)
        self.base_url = self.base_urls[0]
        self.where = spec if all(url in spec for url in self.base_urls) else f"{spec} at {' and '.join(self.base_urls)}"
        self.limits = limits or CallLimits()
        if max_requests is None:
            max_requests = self.limits.requests_per_server()
        if not MAX_REQUESTS.low <= max_requests <= MAX_REQUESTS.high or max_retries < 0:
            raise ValueError(f"max_requests must be from {MAX_REQUESTS.low} to {MAX_REQUESTS.high} and max_retries >= 0")
        self.max_requests, self.max_retries = max_requests, max_retries
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.notify = notify or _to_stderr
        self._transport: HttpTransport | None = None
        self._headers: dict[str, str] = {}
        self._servers = ServerSet(self.base_urls, max_requests)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._no_logprobs: str | None = None  # why this server cannot score, once it has shown it
        self._no_prompt_logprobs: str | None = None  # why it cannot score exactly, once it has shown it
        self._adapters: list[str] | None = None  # the LoRA adapters the server lists, once listed
        self._listing: asyncio.Lock | None = None
        self._no_n: str | None = None  # why this server takes no `n`, once it has shown it

    @classmethod
    def from_target(cls, spec: str, target: str, **options) -> OpenAIBackend:
        model, base_urls = parse_openai_target(target)
        return cls(spec, model, base_urls, **options)

    def _ensure_transport(self) -> HttpTransport:
        """The transport and the key's header belong to one event loop; a new loop gets new ones
        (and agents/servers.py new request slots)."""
        loop = asyncio.get_running_loop()
        if self._transport is None or self._loop is not loop:
            self._transport, self._loop = shared_transport(), loop
            self._listing = asyncio.Lock()
            key = (os.environ.get(KEY_ENV) or "").strip() or "not-needed"  # a local server needs none
            self._headers = {"authorization": f"Bearer {key}"}
        return self._transport

    def _payload(self, request: ChatRequest, seed: int | None) -> dict:
        payload = {"model": self.model, "messages": [m.as_dict() for m in request.messages],
                   "max_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p}
        if seed is not None:
            payload["seed"] = seed
        return payload

    def _at(self, replica: Replica) -> str:
        """The spec, and for replicas which one: what every message about an attempt starts with."""
        return self.where if len(self.base_urls) == 1 else f"{self.where} (replica {replica.base_url})"

    async def chat(self, request: ChatRequest) -> ChatResult:
        """One completion. `latency_s` is the time of the attempt that succeeded."""
        reply, latency = await self._create(self._payload(request, request.seed))
        return ChatResult(reply.text, reply.usage, latency, reply.finish_reason)

    async def sample(self, request: ChatRequest, n: int) -> list[str]:
        """`n` replies to one request: with the API's `n` (one prompt, many completions, at most
        N_CHUNK a request) where the server takes it, else `n` requests with seeds drawn from the
        request's. A server that refuses `n` (HTTP 400/422) is remembered and not asked again."""
        if n < 1:
            return []
        if self._no_n is None:
            chunks = [min(N_CHUNK, n - start) for start in range(0, n, N_CHUNK)]
            try:
                first = await self._create_n(request, chunks[0], 0)  # alone: a refusal costs one request
            except _Refused as refused:
                self._no_n = f"{self.where} refuses n ({refused})"
            else:
                rest = await asyncio.gather(*(self._create_n(request, size, i) for i, size in enumerate(chunks[1:], 1)))
                return [text for texts in (first, *rest) for text in texts]
        seeds = [None if request.seed is None else random.Random(f"{request.seed}:{k}").randrange(2**31) for k in range(n)]
        replies = await asyncio.gather(*(self._create(self._payload(request, seed)) for seed in seeds))
        return [reply.text for reply, _ in replies]

    async def _create_n(self, request: ChatRequest, n: int, chunk: int) -> list[str]:
        seed = request.seed if request.seed is None or chunk == 0 else random.Random(f"{request.seed}:n{chunk}").randrange(2**31)
        reply, _ = await self._create({**self._payload(request, seed), "n": n}, refusal=True)
        if len(reply.texts) != n:
            raise self._error(f"unusable reply: asked for n={n} completions, the server sent {len(reply.texts)}")
        return list(reply.texts)

    def sampling_note(self) -> str:
        """How `sample` draws its replies from this server, for the items' notes."""
        if self._no_n:
            return "drawn as separate requests: the server refuses the API's n"
        return "drawn with the API's n (one prompt, many completions)"

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
        payload = {"model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0}
        if reply:
            payload.update(add_generation_prompt=False, continue_final_message=False)
        try:
            reply, _ = await self._create(payload, refusal=True)
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
        transport = self._ensure_transport()
        async with self._listing:
            if self._adapters is None:
                try:
                    async with self._servers.acquire() as replica, asyncio.timeout(self.limits.timeout_s):
                        listed = await transport.get_json(f"{replica.base_url}/models", self._headers)
                    models = json.loads(listed.body)["data"] if listed.status == 200 else []
                    self._adapters = [str(m["id"]) for m in models if isinstance(m, dict) and m.get("parent")]
                except Exception:  # noqa: BLE001 - no listing: the scoring request itself will say what is wrong
                    self._adapters = []
        if self._adapters:
            raise ScoringUnavailable(f"{self.where} serves LoRA adapters ({', '.join(self._adapters)}), and vLLM "
                                     "crashes on prompt_logprobs with LoRA enabled; scored by top_logprobs instead")

    async def _score_top(self, messages: Sequence[ChatMessage], options: Sequence[str]) -> OptionScores:
        if self._no_logprobs:
            raise ScoringUnavailable(self._no_logprobs)
        payload = {"model": self.model, "messages": [m.as_dict() for m in messages], "max_tokens": 1,
                   "temperature": 1.0, "logprobs": True, "top_logprobs": TOP_K}
        try:
            reply, _ = await self._create(payload, refusal=True)
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

    async def _create(self, payload: dict, *, refusal: bool = False) -> tuple[Reply, float]:
        """One chat completion with our retries: (the checked reply, latency of the attempt that
        succeeded), within `self.limits`.

        With `refusal`, an HTTP 400 or 422 raises `_Refused` (the server does not take these fields)
        instead of failing the call.
        """
        transport = self._ensure_transport()
        attempts, spent, replica = self.max_retries + 1, 0.0, None
        for attempt in range(1, attempts + 1):
            deadline = min(self.limits.timeout_s, self.limits.budget_s - spent)
            try:
                async with self._servers.acquire(avoid=replica) as replica:
                    start = time.perf_counter()
                    try:
                        async with asyncio.timeout(deadline):
                            response = await transport.post_json(f"{replica.base_url}/chat/completions",
                                                                 payload, self._headers)
                        if response.status >= 400:
                            raise _StatusError(response)
                        return read_reply(response.body, response.content_type), time.perf_counter() - start
                    finally:
                        spent += time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001 - `_retryable` raises again what is not worth a retry
                what, rest, headers = self._retryable(exc, deadline, refusal, replica)
            where = self._at(replica)
            elsewhere = self._servers.set_aside(replica)
            failed = f"{what} after {attempt} {'attempt' if attempt == 1 else 'attempts'}{rest}"
            if attempt == attempts:
                raise self._error(failed, where)
            if elsewhere and spent < self.limits.budget_s:
                self.notify(one_line(scrub(f"{where}: {what}{rest}; retry {attempt} of {self.max_retries} "
                                           "at once on another replica")))
                continue
            wait = self._wait(failed, attempt, headers, self.limits.budget_s - spent, where)
            self.notify(one_line(scrub(f"{where}: {what}{rest}; retry {attempt} of {self.max_retries} in {wait:.1f} s")))
            await asyncio.sleep(wait)
            spent += wait
        raise AssertionError("unreachable")  # pragma: no cover

    def _retryable(self, exc: Exception, deadline: float, refusal: bool, replica: Replica):
        """(what failed, the detail, the response's headers or None) for a failure worth another
        attempt; any other failure is raised, as a `BackendError` naming the replica where it is the server's."""
        where = self._at(replica)
        if isinstance(exc, _StatusError):
            code, said = exc.status, exc.detail
            if refusal and code in REFUSAL_STATUS:
                raise _Refused(f"HTTP {code}: {said}") from None
            if code not in RETRY_STATUS and code < 500:
                raise self._error(f"the server refused the request with HTTP {code}: {said}{auth_hint(code)}", where) from None
            what = "rate limited (HTTP 429)" if code == 429 else f"server error HTTP {code}"
            return what, f": {said}", exc.headers
        if isinstance(exc, TimeoutError):
            cut = "" if deadline == self.limits.timeout_s else ", what was left of the retry budget"
            return "timed out", f" (no complete reply within {_seconds(deadline)} s{cut}; --call-timeout sets it)", None
        if isinstance(exc, ConnectionFailed):
            if not exc.retry:
                raise self._error(f"connection failed ({exc.reason})", where) from None
            return "connection failed", f" ({exc.reason}) — is the server running?", None
        if isinstance(exc, MalformedReply):
            if not exc.retry:
                raise self._error(f"unusable reply: {exc}", where) from None
            return "unusable reply", f": {exc}", None
        raise exc

    def _wait(self, failed: str, attempt: int, headers, left: float, where: str) -> float:
        """Seconds to wait before the next attempt; `BackendError` when the retry budget has not that long left."""
        asked = _retry_after(headers) if headers is not None else None
        if asked is not None and asked > left:
            raise self._error(f"{failed}; not retried: the server asks to wait {_seconds(asked)} s (Retry-After), "
                              f"more than the {_seconds(left)} s left of the {_seconds(self.limits.budget_s)} s "
                              "retry budget (--retry-budget)", where)
        wait = self.delay(attempt, headers)
        if wait >= left:
            raise self._error(f"{failed}; not retried: the {_seconds(self.limits.budget_s)} s retry budget is spent "
                              "(--retry-budget)", where)
        return wait

    def delay(self, attempt: int, headers=None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): Retry-After, else full jitter."""
        wait = _retry_after(headers) if headers is not None else None
        if wait is not None:
            return min(wait, max(self.backoff_max, 60.0))
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def _error(self, reason: str, where: str | None = None) -> BackendError:
        return BackendError(one_line(scrub(f"{where or self.where}: {reason}")))

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None and self._loop is asyncio.get_running_loop():
            for url in self.base_urls:
                transport.close_idle(url)


class _Refused(Exception):
    """The server rejected the request's fields (HTTP 400 or 422)."""


class _StatusError(Exception):
    """An HTTP error status: its code, headers (for Retry-After) and the server's own words."""

    def __init__(self, response) -> None:
        super().__init__(response.status)
        self.status, self.headers = response.status, response.headers
        self.detail = body_detail(response.status, response.body)


def _to_stderr(line: str) -> None:
    """A retry notice: one line on whatever stderr is now (a progress bar redirects it above itself)."""
    print(line, file=sys.stderr, flush=True)


def _seconds(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") if value >= 1 else f"{value:.2g}"


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
