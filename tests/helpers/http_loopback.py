"""A real HTTP server on 127.0.0.1 that answers with canned bytes, for what a mock transport
cannot show: a body cut short, bytes that are not UTF-8, a server that drips its reply, a
server that goes away and comes back (replicas), how many requests it holds at once.

It runs its own event loop in a thread, so async tests and CLI runs (which start their own loop)
can both talk to it. Each request gets the next canned reply (the last one repeats), or what
`route` answers for it; every request is recorded (`seen`). With `keep_alive` a connection serves
request after request. `hold()` keeps every reply back until `release()`; `wait_for_held(n)`
blocks until n requests are held at once; `stop()` closes the port and drops the requests in
flight; `start()` listens on the same port again.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Canned:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    drip_s: float = 0.0  # > 0: the body is sent one byte at a time, this long apart
    delay_s: float = 0.0  # the server's time to answer, as a model's
    declare_length: bool = True  # False: no content-length, the body ends when the connection closes
    chunked: bool = False  # the body in chunks of `chunk` bytes (transfer-encoding: chunked)
    chunk: int = 7
    drop: bool = False  # close the connection without any reply


@dataclass(frozen=True)
class Seen:
    """One request as the server got it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-case
    body: bytes
    connection: int  # which connection it came on, numbered from 0

    @property
    def json(self):
        return json.loads(self.body)


def completion(text="Hello!", **fields) -> dict:
    """A well-formed chat completion, with `fields` replacing its top-level entries."""
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "tiny",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}, **fields}


def as_json(obj, status: int = 200, **options) -> Canned:
    return Canned(json.dumps(obj).encode(), status, **options)


class LoopbackServer:
    def __init__(self, keep_alive: bool = False) -> None:
        self.replies: list[Canned] = [as_json(completion())]
        self.route: Callable[[Seen], Canned] | None = None
        self.keep_alive = keep_alive
        self.requests = 0
        self.connections = 0
        self.seen: list[Seen] = []
        self.held = self.peak = 0  # requests read and not yet answered: now, and the most at once
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._open = self._call(self._make_event())
        self._open.set()
        self._handlers: set[asyncio.Task] = set()
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    @staticmethod
    async def _make_event() -> asyncio.Event:
        return asyncio.Event()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def hold(self) -> None:
        """Keep every reply back (counted in `held`) until `release`."""
        self._loop.call_soon_threadsafe(self._open.clear)

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._open.set)

    def wait_for_held(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` requests are held at once; AssertionError after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(f"{self.held} requests held, not {count}, after {timeout} s")

    def stop(self) -> None:
        """Close the port (connections are refused) and drop the requests in flight."""
        async def stop():
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

        self._call(stop())

    def start(self) -> None:
        """Listen on the same port again, after `stop`."""
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", self.port))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.add(asyncio.current_task())
        connection, self.connections = self.connections, self.connections + 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed a kept-alive connection
                lines = head.decode("latin-1").split("\r\n")
                headers = {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                method, path, _ = lines[0].split(" ", 2)
                seen = Seen(method, path, headers, body, connection)
                self.seen.append(seen)
                reply = self.route(seen) if self.route else self.replies[min(self.requests, len(self.replies) - 1)]
                self.requests += 1
                self._count(+1)
                try:
                    await self._open.wait()
                    if reply.delay_s:
                        await asyncio.sleep(reply.delay_s)
                finally:
                    self._count(-1)
                if reply.drop:
                    return
                await self._reply(writer, reply)
                if not (self.keep_alive and reply.declare_length):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: what the deadline tests want
        except asyncio.CancelledError:
            pass  # `stop`: the connection is dropped without a reply
        finally:
            writer.close()
            self._handlers.discard(asyncio.current_task())

    def _count(self, step: int) -> None:
        with self._changed:
            self.held += step
            self.peak = max(self.peak, self.held)
            self._changed.notify_all()

    async def _reply(self, writer: asyncio.StreamWriter, reply: Canned) -> None:
        extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
        if reply.chunked:
            length = "transfer-encoding: chunked\r\n"
        else:
            length = f"content-length: {len(reply.body)}\r\n" if reply.declare_length else ""
        close = "" if self.keep_alive and reply.declare_length else "connection: close\r\n"
        writer.write(f"HTTP/1.1 {reply.status} X\r\ncontent-type: {reply.content_type}\r\n"
                     f"{length}{extra}{close}\r\n".encode())
        body = reply.body
        if reply.chunked:
            pieces = [body[i:i + reply.chunk] for i in range(0, len(body), reply.chunk)]
            body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
        if reply.drip_s:
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(reply.drip_s)
        else:
            writer.write(body)
            await writer.drain()

    def close(self) -> None:
        async def stop():
            self._server.close()
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        self._call(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
