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
dropped, never reused. https uses `ssl.create_default_context()`. No redirects.

Proxies come from the environment as httpx (and so the openai SDK) took them: HTTP_PROXY,
HTTPS_PROXY, ALL_PROXY, bypassed for the hosts in NO_PROXY (urllib's reading of them), decided
once per URL with its route. Only `http://[user:password@]host:port` proxies: an https origin goes
through a CONNECT tunnel, an http one is asked of the proxy in absolute form. The credentials go
only to the proxy, in Proxy-Authorization, and never into an error.
"""

from __future__ import annotations

import asyncio
import base64
import http
import json
import os
import ssl
import urllib.request
import weakref
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .openai_reply import MalformedReply
from .settings import MAX_REPLY_BYTES

MAX_HEAD_BYTES = 64 * 1024  # a reply's status line and headers; more is not an API server
USER_AGENT = "mms"

_HEAD, _LENGTH, _CHUNKED, _CLOSE = range(4)


class ConnectionFailed(Exception):
    """No reply came: the connection could not be made, or broke before the reply was whole.
    `reason` is the root cause in words, e.g. 'Connection refused'; `retry` is False where another
    attempt would fail the same (a proxy mms cannot use, or one that refuses the credentials)."""

    def __init__(self, reason: str, retry: bool = True):
        super().__init__(reason)
        self.reason, self.retry = reason, retry


class Headers(dict):
    """A reply's headers, looked up by any case (stored lower-case; repeats joined by ', ')."""

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default=None):
        return dict.get(self, name.lower(), default)

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name.lower())


@dataclass(frozen=True, slots=True)
class Proxy:
    """An http:// proxy from the environment; `shown` is its address without the credentials."""

    host: str
    port: int
    shown: str
    variable: str  # the environment variable that named it
    auth: bytes = field(default=b"", repr=False)  # the Proxy-Authorization header line, or nothing


def proxy_for(url: str) -> Proxy | None:
    """The proxy the environment names for `url`'s origin, None for a direct connection;
    `ConnectionFailed` (not worth a retry) for a proxy that is not an http:// URL."""
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    proxies = urllib.request.getproxies_environment()
    key = scheme if scheme in proxies else "all"
    value = proxies.get(key)
    port = parts.port or (443 if scheme == "https" else 80)
    if not value or urllib.request.proxy_bypass_environment(host if ":" in host else f"{host}:{port}", proxies):
        return None
    variable = f"{key}_proxy" if os.environ.get(f"{key}_proxy") else f"{key.upper()}_PROXY"
    proxy = urlsplit(value if "://" in value else f"http://{value}")
    shown = f"{proxy.scheme}://{proxy.netloc.rpartition('@')[2]}"
    try:
        proxy_port = proxy.port or 80
    except ValueError:
        proxy_port = 0
    if proxy.scheme != "http" or not proxy.hostname or not proxy_port:
        raise ConnectionFailed(f"the proxy {variable}={shown!r} is not one mms can use: it takes "
                               "http://[user:password@]host:port proxies only", retry=False)
    auth = b""
    if proxy.username is not None:
        secret = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        auth = b"proxy-authorization: Basic " + base64.b64encode(secret) + b"\r\n"
    return Proxy(proxy.hostname, proxy_port, f"http://{_authority(proxy.hostname, proxy_port)}", variable, auth)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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


class _Tunnel(asyncio.Protocol):
    """A connection to a proxy until it answers CONNECT: `answer` is the head of its reply."""

    def __init__(self) -> None:
        self.answer = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if self.answer.done():
            return
        if end >= 0:
            self.answer.set_result(bytes(self.buffer[:end]))
            del self.buffer[:end + 4]
        elif len(self.buffer) > MAX_HEAD_BYTES:
            self.answer.set_exception(ConnectionFailed(f"the proxy's reply runs past {MAX_HEAD_BYTES:,} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(ConnectionFailed(_root_cause(exc)))


Origin = tuple[str, str, int, Proxy | None]


class HttpTransport:
    """Every backend's requests on one event loop; see the module's docstring. `tls` replaces the
    default context for https (a test's own certificate authority)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self._routes: dict[str, tuple[Origin, bytes]] = {}
        self._tls = tls

    async def post_json(self, url: str, payload: dict, headers: dict[str, str]) -> Response:
        body = encode_json(payload)
        origin, start = self._route(url, b"POST")
        head = [start, *_header_lines(headers), b"content-type: application/json\r\ncontent-length: ",
                str(len(body)).encode(), b"\r\n\r\n", body]
        return await self._request(origin, b"".join(head))

    async def get_json(self, url: str, headers: dict[str, str]) -> Response:
        origin, start = self._route(url, b"GET")
        return await self._request(origin, b"".join([start, *_header_lines(headers), b"\r\n"]))

    async def _request(self, origin: Origin, data: bytes) -> Response:
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
                response = await reply
                if response.status == 407 and origin[3] is not None:
                    raise _refused_by(origin[3], 407)
                return response
            except ConnectionFailed:
                if not reused or connection.got_bytes:
                    raise
                connection, reused = None, False  # the server had closed it while idle: once more, anew
            except BaseException:
                connection.abort()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self, origin: Origin, idle: list) -> _Connection:
        scheme, host, port, proxy = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        loop = asyncio.get_running_loop()
        if proxy is not None:
            return await self._connect_through(proxy, host, port, tls, idle)
        try:
            _, connection = await loop.create_connection(lambda: _Connection(idle), host, port, ssl=tls,
                                                         server_hostname=host if tls else None)
        except OSError as exc:
            raise ConnectionFailed(_root_cause(exc)) from exc
        return connection

    async def _connect_through(self, proxy: Proxy, host: str, port: int, tls: ssl.SSLContext | None,
                               idle: list) -> _Connection:
        """A connection to the proxy: as it is for http, a CONNECT tunnel upgraded to TLS for https."""
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_connection(_Tunnel if tls else (lambda: _Connection(idle)),
                                                               proxy.host, proxy.port)
        except OSError as exc:
            raise ConnectionFailed(f"the proxy {proxy.shown}: {_root_cause(exc)}") from exc
        if tls is None:
            return protocol
        try:
            authority = _authority(host, port).encode()
            transport.write(b"CONNECT %s HTTP/1.1\r\nhost: %s\r\n%suser-agent: %s\r\n\r\n"
                            % (authority, authority, proxy.auth, USER_AGENT.encode()))
            try:
                head = await protocol.answer
            except ConnectionFailed as exc:
                raise ConnectionFailed(f"the proxy {proxy.shown}: {exc.reason}") from None
            status = head.split(b"\r\n", 1)[0].split(b" ", 2)
            if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
                raise ConnectionFailed(f"the proxy {proxy.shown} did not answer CONNECT in HTTP/1.1")
            if not 200 <= int(status[1]) < 300:
                raise _refused_by(proxy, int(status[1]), f" the tunnel to {authority.decode()}")
            if protocol.buffer:
                raise ConnectionFailed(f"the proxy {proxy.shown} sent bytes of its own into the tunnel")
            connection = _Connection(idle)
            try:
                connection.transport = await loop.start_tls(transport, connection, tls, server_hostname=host)
            except OSError as exc:
                raise ConnectionFailed(_root_cause(exc)) from exc
        except BaseException:
            transport.abort()
            raise
        return connection

    def _route(self, url: str, method: bytes) -> tuple[Origin, bytes]:
        """(origin, the request line and Host header) for a URL, worked out once per URL; an http
        request through a proxy names the whole URL and carries the proxy's credentials."""
        route = self._routes.get(url)
        if route is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {url!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.netloc.rpartition("@")[2]
            proxy = proxy_for(url)
            auth = b""
            if proxy is not None and parts.scheme == "http":
                target, auth = f"http://{host}{target}", proxy.auth
            route = self._routes[url] = ((parts.scheme, parts.hostname, port, proxy),
                                         f" {target} HTTP/1.1\r\nhost: {host}\r\nuser-agent: {USER_AGENT}\r\n"
                                         "accept: application/json\r\n".encode() + auth)
        return route[0], method + route[1]

    def close_idle(self, url: str | None = None) -> None:
        """Close the idle connections (to the origin of `url` only, where given)."""
        try:
            origins = [self._route(url, b"")[0]] if url else list(self._idle)
        except ConnectionFailed:
            return  # a proxy mms cannot use: no connection was made
        for origin in origins:
            idle = self._idle.get(origin, [])
            while idle:
                idle.pop().abort()


def _refused_by(proxy: Proxy, status: int, what: str = "") -> ConnectionFailed:
    """A proxy's refusal, by its status alone (its own words are not shown): retried only where
    the proxy itself failed (5xx), never for the credentials (407)."""
    try:
        phrase = f" {http.HTTPStatus(status).phrase}"
    except ValueError:
        phrase = ""
    fix = f"; set the proxy's user:password in {proxy.variable}" if status == 407 else ""
    return ConnectionFailed(f"the proxy {proxy.shown} refused{what} with HTTP {status}{phrase}{fix}", retry=status >= 500)


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
