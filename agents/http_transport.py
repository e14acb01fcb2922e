"""A small HTTP/1.1 client for JSON APIs, on asyncio's protocols: the model servers' hot path.

Why our own: the openai SDK and httpx cost ~6 ms of CPU per chat completion between them (the
SDK's request transformation and response models, httpcore's pool bookkeeping, which grows with
the square of the connections); a game sends thousands a second. This client does only what a
JSON API needs, so a request costs tens of microseconds, the same at 16 or 1,024 in flight
(benchmarks/http_clients.py measures it against the SDK and httpx).

One `HttpTransport` per event loop (`shared_transport()`), shared by every backend: per origin a
stack of idle keep-alive connections (O(1) to take and give back), no cap of its own (callers
cap what they send). Replies with a content-length, chunked or ending at the close are read as
they arrive and refused past MMS_MAX_REPLY_BYTES. A failure to connect, or a connection that
breaks before the reply is whole, raises `ConnectionFailed` with the root cause in words; a
request on a kept-alive connection the server had already closed is sent once more on a new
one. The caller's `asyncio.timeout` bounds the whole call; a cancelled request's connection is
dropped, never reused. https uses `ssl.create_default_context()`. No proxies, no redirects.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit

from .openai_reply import MalformedReply
from .settings import MAX_REPLY_BYTES

MAX_HEAD_BYTES = 64 * 1024  # a reply's status line and headers; more is not an API server
USER_AGENT = "mms"

_HEAD, _LENGTH, _CHUNKED, _CLOSE = range(4)


class ConnectionFailed(Exception):
    """No reply came: the connection could not be made, or broke before the reply was whole.
    `reason` is the root cause in words, e.g. 'Connection refused'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Headers(dict):
    """A reply's headers, looked up by any case (stored lower-case; repeats joined by ', ')."""

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default=None):
        return dict.get(self, name.lower(), default)

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name.lower())


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Headers
    body: bytes
    content_type: str


def encode_json(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _root_cause(exc: BaseException | None) -> str:
    """Why a connection failed, in words ('Connection refused', a DNS lookup's or TLS's own words)."""
    if exc is None:
        return "the server closed the connection before the reply was complete"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    errno = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and errno:
        return os.strerror(errno) if errno > 0 else exc.strerror or str(exc)  # < 0: a failed DNS lookup
    return str(exc) or type(exc).__name__


def _too_big_declared(size: int, limit: int) -> MalformedReply:
    return MalformedReply(f"the reply would be {size:,} bytes, over the {limit:,}-byte limit "
                          f"(raise it with {MAX_REPLY_BYTES.name}=<bytes>)")


def _too_big(limit: int) -> MalformedReply:
    return MalformedReply(f"the reply runs past the {limit:,}-byte limit (raise it with {MAX_REPLY_BYTES.name}=<bytes>)")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, parses its reply as bytes arrive, then goes
    back on its origin's idle stack."""

    def __init__(self, idle: list) -> None:
        self.idle = idle
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reply: asyncio.Future | None = None
        self.buffer = bytearray()
        self.got_bytes = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, data: bytes, limit: int) -> asyncio.Future:
        self.reply = asyncio.get_running_loop().create_future()
        self.limit, self.state, self.got_bytes = limit, _HEAD, False
        self.transport.write(data)
        return self.reply

    def data_received(self, data: bytes) -> None:
        if self.reply is None or self.reply.done():
            self.abort()  # bytes nobody asked for: this connection cannot be trusted again
            return
        self.got_bytes = True
        self.buffer += data
        try:
            self._parse()
        except (MalformedReply, ConnectionFailed) as exc:
            self._settle(exception=exc)
            self.abort()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self.reply
        if reply is None or reply.done():
            return
        if self.state == _CLOSE and exc is None:
            self._finish(bytes(self.buffer))
        else:
            self._settle(exception=ConnectionFailed(_root_cause(exc)))

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _settle(self, result=None, exception: Exception | None = None) -> None:
        reply, self.reply = self.reply, None
        if reply is not None and not reply.done():
            if exception is not None:
                reply.set_exception(exception)
            else:
                reply.set_result(result)

    def _parse(self) -> None:
        buffer = self.buffer
        while self.state == _HEAD:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise ConnectionFailed(f"the reply's headers run past {MAX_HEAD_BYTES:,} bytes")
                return
            self._read_head(bytes(buffer[:end]))
            del buffer[:end + 4]
        if self.state == _LENGTH:
            if len(buffer) >= self.remaining:
                body = bytes(buffer[:self.remaining])
                if len(buffer) > self.remaining:
                    self.keep_alive = False  # more than was asked for: do not reuse
                buffer.clear()
                self._finish(body)
        elif self.state == _CHUNKED:
            self._read_chunks()
        elif len(buffer) > self.limit:
            raise _too_big(self.limit)

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
            raise ConnectionFailed(f"the server's reply is not HTTP/1.1 (starts {bytes(lines[0][:40])!r})")
        status = int(parts[1])
        if 100 <= status < 200:
            return  # an interim reply (100 Continue): the real one follows
        headers = Headers()
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key, text = name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")
            headers[key] = f"{dict.get(headers, key)}, {text}" if key in headers else text
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection and (parts[0] == b"HTTP/1.1" or "keep-alive" in connection)
        self.status, self.headers = status, headers
        length = headers.get("content-length")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state, self.chunks, self.size, self.chunk_left = _CHUNKED, [], 0, -1
        elif length is not None:
            if not length.isdigit():
                raise ConnectionFailed(f"the reply's content-length {length[:40]!r} is not a number")
            if int(length) > self.limit:
                raise _too_big_declared(int(length), self.limit)
            self.state, self.remaining = _LENGTH, int(length)
        elif status in (204, 304):
            self.state, self.remaining = _LENGTH, 0
        else:
            self.state, self.keep_alive = _CLOSE, False

    def _read_chunks(self) -> None:
        buffer = self.buffer
        while True:
            if self.chunk_left == -1:  # at a chunk's size line
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise ConnectionFailed("a chunk size line of the reply is too long")
                    return
                size = buffer[:end].split(b";", 1)[0].strip()
                try:
                    self.chunk_left = int(size, 16)
                except ValueError:
                    raise ConnectionFailed(f"the reply's chunk size {bytes(size[:20])!r} is not a number") from None
                del buffer[:end + 2]
                if self.chunk_left == 0:
                    self.chunk_left = -2
                elif self.size + self.chunk_left > self.limit:
                    raise _too_big(self.limit)
            if self.chunk_left == -2:  # after the last chunk: trailers, then a blank line
                if buffer.startswith(b"\r\n"):
                    del buffer[:2]
                else:
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    del buffer[:end + 4]
                if buffer:
                    self.keep_alive = False
                    buffer.clear()
                self._finish(b"".join(self.chunks))
                return
            if len(buffer) < self.chunk_left + 2:
                return
            self.chunks.append(bytes(buffer[:self.chunk_left]))
            self.size += self.chunk_left
            del buffer[:self.chunk_left + 2]
            self.chunk_left = -1

    def _finish(self, body: bytes) -> None:
        headers = self.headers
        response = Response(self.status, headers, body, headers.get("content-type", ""))
        self.state = _HEAD
        if self.keep_alive and not self.closed:
            self.idle.append(self)
        else:
            self.abort()
        self._settle(response)


class HttpTransport:
    """Every backend's requests on one event loop; see the module's docstring."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._routes: dict[str, tuple[tuple[str, str, int], bytes]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post_json(self, url: str, payload: dict, headers: dict[str, str]) -> Response:
        body = encode_json(payload)
        origin, start = self._route(url, b"POST")
        head = [start, *_header_lines(headers), b"content-type: application/json\r\ncontent-length: ",
                str(len(body)).encode(), b"\r\n\r\n", body]
        return await self._request(origin, b"".join(head))

    async def get_json(self, url: str, headers: dict[str, str]) -> Response:
        origin, start = self._route(url, b"GET")
        return await self._request(origin, b"".join([start, *_header_lines(headers), b"\r\n"]))

    async def _request(self, origin: tuple[str, str, int], data: bytes) -> Response:
        limit = MAX_REPLY_BYTES.read()
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle[origin] = []
        connection = None
        while idle:
            connection = idle.pop()
            if not connection.closed:
                break
            connection = None
        reused = connection is not None
        for _ in range(2):
            if connection is None:
                connection = await self._connect(origin, idle)
            reply = connection.send(data, limit)
            try:
                return await reply
            except ConnectionFailed:
                if not reused or connection.got_bytes:
                    raise
                connection, reused = None, False  # the server had closed it while idle: once more, anew
            except BaseException:
                connection.abort()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self, origin: tuple[str, str, int], idle: list) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(lambda: _Connection(idle), host, port, ssl=tls,
                                                         server_hostname=host if tls else None)
        except OSError as exc:
            raise ConnectionFailed(_root_cause(exc)) from exc
        return connection

    def _route(self, url: str, method: bytes) -> tuple[tuple[str, str, int], bytes]:
        """(origin, the request line and Host header) for a URL, worked out once per URL."""
        route = self._routes.get(url)
        if route is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {url!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.netloc.rpartition("@")[2]
            route = self._routes[url] = ((parts.scheme, parts.hostname, port),
                                         f" {target} HTTP/1.1\r\nhost: {host}\r\nuser-agent: {USER_AGENT}\r\n"
                                         "accept: application/json\r\n".encode())
        return route[0], method + route[1]

    def close_idle(self, url: str | None = None) -> None:
        """Close the idle connections (to the origin of `url` only, where given)."""
        origins = [self._route(url, b"")[0]] if url else list(self._idle)
        for origin in origins:
            idle = self._idle.get(origin, [])
            while idle:
                idle.pop().abort()


def _header_lines(headers: dict[str, str]) -> list[bytes]:
    lines = []
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n\0"):
            raise ValueError(f"the header {name.strip()[:40]!r} holds a line break")  # the value may be a key: not shown
        lines.append(f"{name}: {value}\r\n".encode())
    return lines


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HttpTransport] = weakref.WeakKeyDictionary()


def shared_transport() -> HttpTransport:
    """The running loop's transport: every backend on one loop shares its idle connections."""
    loop = asyncio.get_running_loop()
    transport = _SHARED.get(loop)
    if transport is None:
        transport = _SHARED[loop] = HttpTransport()
    return transport
