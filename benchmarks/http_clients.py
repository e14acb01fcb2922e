"""CPU per chat-completion request of the HTTP layers the OpenAI backend could use (issue 24).

Starts an instant OpenAI-compatible server in its own process on loopback, then sends
`--requests` chat-completion POSTs at each concurrency with each client, and prints the
client process's CPU milliseconds per request (the server's CPU is not counted):

- `sdk`: the openai SDK as the backend used it (agents.openai_client.make_client, streamed body);
- `httpx`: a plain `httpx.AsyncClient` with limits sized to the concurrency, no SDK;
- `own`: agents.http_transport, the asyncio client the backend uses now;
- `aiohttp`: where it is installed.

    python benchmarks/http_clients.py [--requests 4000] [--concurrency 16,256,1024] [--runs 3] [--json]

On a loaded machine compare the clients within one run, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SERVER = r"""
import asyncio, json, sys
BODY = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "m", "choices": [{"index": 0,
    "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello there, how was your day?"}}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}).encode()
REPLY = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(BODY) + BODY

class Instant(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(REPLY)

async def main():
    server = await asyncio.get_running_loop().create_server(Instant, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

PAYLOAD = {"model": "m", "messages": [{"role": "system", "content": "You are playing a game. " * 20},
                                      {"role": "user", "content": "Hello, how are you today?"}],
           "max_tokens": 64, "temperature": 1.0, "top_p": 1.0, "seed": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(send, requests: int, concurrency: int) -> None:
    per, extra = divmod(requests, concurrency)

    async def worker(count: int) -> None:
        for _ in range(count):
            await send()

    await asyncio.gather(*(worker(per + (i < extra)) for i in range(concurrency)))


async def sdk(base: str, concurrency: int):
    from agents.openai_client import make_client

    client = make_client(base_url=base, timeout=60, max_connections=concurrency)

    async def send():
        async with client.chat.completions.with_streaming_response.create(**PAYLOAD) as response:
            body = b"".join([chunk async for chunk in response.iter_bytes()])
        json.loads(body)

    return send, client.close


async def plain_httpx(base: str, concurrency: int):
    import httpx

    client = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency,
                                                               max_keepalive_connections=concurrency))
    url = f"{base}/chat/completions"

    async def send():
        response = await client.post(url, content=json.dumps(PAYLOAD, separators=(",", ":")).encode(),
                                     headers={"content-type": "application/json", "authorization": "Bearer x"})
        json.loads(response.content)

    return send, client.aclose


async def own(base: str, concurrency: int):
    from agents.http_transport import HttpTransport

    transport = HttpTransport()
    url, headers = f"{base}/chat/completions", {"authorization": "Bearer x"}

    async def send():
        json.loads((await transport.post_json(url, PAYLOAD, headers)).body)

    async def close():
        transport.close_idle()

    return send, close


async def plain_aiohttp(base: str, concurrency: int):
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
    url = f"{base}/chat/completions"

    async def send():
        async with session.post(url, data=json.dumps(PAYLOAD, separators=(",", ":")).encode(),
                                headers={"content-type": "application/json", "authorization": "Bearer x"}) as response:
            json.loads(await response.read())

    return send, session.close


CLIENTS = {"sdk": sdk, "httpx": plain_httpx, "own": own, "aiohttp": plain_aiohttp}


async def measure(make, base: str, requests: int, concurrency: int) -> float:
    send, close = await make(base, concurrency)
    await drive(send, min(requests, 2 * concurrency), concurrency)  # warm: connections open, imports done
    started = time.process_time()
    await drive(send, requests, concurrency)
    spent = time.process_time() - started
    await close()
    return spent * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", default="16,256,1024")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", default="sdk,httpx,own,aiohttp")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clients = [c for c in args.clients.split(",") if c != "aiohttp" or _has("aiohttp")]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        base = f"http://127.0.0.1:{port}/v1"
        results = {}
        for concurrency in map(int, args.concurrency.split(",")):
            for client in clients:
                runs = [asyncio.run(measure(CLIENTS[client], base, args.requests, concurrency)) for _ in range(args.runs)]
                results.setdefault(client, {})[concurrency] = [round(r, 4) for r in runs]
                if not args.json:
                    print(f"{client:8} c={concurrency:5}  cpu ms/request: " + "  ".join(f"{r:.3f}" for r in runs), flush=True)
        if args.json:
            print(json.dumps({"requests": args.requests, "cpu_ms_per_request": results}))
    finally:
        server.terminate()
        server.wait()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    os.environ.setdefault("OPENAI_API_KEY", "x")
    main()
