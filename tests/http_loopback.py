"""A real HTTP server on 127.0.0.1 that answers with canned bytes, for what a mock transport
cannot show: a body cut short, bytes that are not UTF-8, a server that drips its reply.

It runs its own event loop in a thread, so async tests and CLI runs (which start their own loop)
can both talk to it. Each request gets the next canned reply; the last one repeats.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Canned:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    drip_s: float = 0.0  # > 0: the body is sent one byte at a time, this long apart
    declare_length: bool = True  # False: no content-length, the body ends when the connection closes


def completion(text="Hello!", **fields) -> dict:
    """A well-formed chat completion, with `fields` replacing its top-level entries."""
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "tiny",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}, **fields}


def as_json(obj, status: int = 200, **options) -> Canned:
    return Canned(json.dumps(obj).encode(), status, **options)


class LoopbackServer:
    def __init__(self) -> None:
        self.replies: list[Canned] = [as_json(completion())]
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            await reader.readexactly(int(lengths[0]) if lengths else 0)
            reply = self.replies[min(self.requests, len(self.replies) - 1)]
            self.requests += 1
            extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
            length = f"content-length: {len(reply.body)}\r\n" if reply.declare_length else ""
            writer.write(f"HTTP/1.1 {reply.status} X\r\ncontent-type: {reply.content_type}\r\n"
                         f"{length}{extra}connection: close\r\n\r\n".encode())
            if reply.drip_s:
                for byte in reply.body:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(reply.drip_s)
            else:
                writer.write(reply.body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: what the deadline tests want
        finally:
            writer.close()

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
