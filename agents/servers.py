"""Where an `openai:` spec's requests go: one server, or several replicas of one model
(`openai:MODEL@URL1@URL2`), each holding at most `max_requests` requests in flight.

The limit belongs to the server, not the spec: every spec in the process that names the same
server (its URL normalised by `server_key`) draws from one count, per event loop — a base model
and its LoRA adapter served by one vLLM share it. A server's limit is the one asked by the first
spec that reaches it in a loop.

Each request goes to the least-loaded replica that answers (fewest in flight; ties rotate). A
replica whose attempt failed is set aside for `COOL_DOWN_S`; then one request at a time probes
it, and the first answer brings it back. While no replica is in service every replica is tried,
least loaded first, and the caller's own retries and backoff decide the pace, exactly as with a
single server. When every usable replica is full, a request waits for a free slot in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

COOL_DOWN_S = 2.0  # long enough to skip a dead server, short enough to notice one back quickly
DEFAULT_PORTS = {"http": 80, "https": 443}


def server_key(url: str) -> str:
    """The server a base URL names, however it is written: scheme, lower-case host, the port
    (its default filled in) and the path without a trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://{host}:{port}{parts.path.rstrip('/')}"


class Server:
    """One server in one event loop: its requests in flight, its limit, and whether it answers."""

    __slots__ = ("in_flight", "limit", "probing", "resting_until", "waiters")

    def __init__(self, limit: int) -> None:
        self.limit, self.in_flight = limit, 0
        self.resting_until: float | None = None  # set aside after a failed attempt, until then
        self.probing = False  # the one request that tries it after its rest is in flight
        self.waiters: OrderedDict[asyncio.Future, None] = OrderedDict()

    def release(self) -> None:
        self.in_flight -= 1
        self.wake()

    def wake(self) -> None:
        """Let the longest waiter look again (it may have been woken by another server already)."""
        while self.waiters:
            waiter, _ = self.waiters.popitem(last=False)
            if not waiter.done():
                waiter.set_result(None)
                return


class Replica:
    """A server as one spec writes it: requests go to `base_url`, the counts are the `server`'s."""

    __slots__ = ("base_url", "server")

    def __init__(self, base_url: str, server: Server) -> None:
        self.base_url, self.server = base_url, server


_SERVERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Server]] = weakref.WeakKeyDictionary()


def server_for(url: str, limit: int) -> Server:
    """The running loop's one `Server` for this URL, made with `limit` if it is the first to ask."""
    servers = _SERVERS.setdefault(asyncio.get_running_loop(), {})
    key = server_key(url)
    if key not in servers:
        servers[key] = Server(limit)
    return servers[key]


class ServerSet:
    """The replicas of one spec, and the choice of which takes the next request."""

    def __init__(self, base_urls: Sequence[str], max_requests: int) -> None:
        if not base_urls or max_requests < 1:
            raise ValueError("a server set needs at least one URL and max_requests >= 1")
        self.base_urls, self.max_requests = tuple(base_urls), max_requests
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replicas: tuple[Replica, ...] = ()
        self._turn = 0

    def __len__(self) -> int:
        return len(self.base_urls)

    def replicas(self) -> tuple[Replica, ...]:
        """This loop's replicas (a new loop, as each `asyncio.run` makes, gets fresh counts)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._replicas = tuple(Replica(url, server_for(url, self.max_requests)) for url in self.base_urls)
            self._loop = loop
        return self._replicas

    @contextlib.asynccontextmanager
    async def acquire(self, avoid: Replica | None = None) -> AsyncIterator[Replica]:
        """A slot on the replica that should take the next request, held for one attempt; an
        attempt that ends without an exception is an answer, which brings a resting replica back.
        A retry names the replica that just failed it as `avoid`: taken only when no other can be."""
        replica, probe = await self._take(avoid)
        server = replica.server
        try:
            yield replica
            server.resting_until = None
        finally:
            if probe:
                server.probing = False
            server.release()

    def set_aside(self, replica: Replica) -> bool:
        """Rest a replica whose attempt failed; True when another replica is in service to retry on
        at once (never with a single replica: then the caller backs off as before)."""
        replica.server.resting_until = time.monotonic() + COOL_DOWN_S
        return any(other.server.resting_until is None for other in self.replicas() if other is not replica)

    async def _take(self, avoid: Replica | None) -> tuple[Replica, bool]:
        replicas = self.replicas()
        while True:
            picked = self._pick(replicas, avoid)
            if picked is not None:
                replica, probe = picked
                replica.server.in_flight += 1
                if probe:
                    replica.server.probing = True
                return replica, probe
            waiter = asyncio.get_running_loop().create_future()
            for replica in replicas:
                replica.server.waiters[waiter] = None
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # woken, then cancelled: the wake-up is not lost
                    for replica in replicas:
                        replica.server.wake()
                raise
            finally:
                for replica in replicas:
                    replica.server.waiters.pop(waiter, None)

    def _pick(self, replicas: tuple[Replica, ...], avoid: Replica | None) -> tuple[Replica, bool] | None:
        """(replica, whether it is a probe), or None when every replica worth trying is full."""
        if len(replicas) == 1:
            server = replicas[0].server
            return (replicas[0], False) if server.in_flight < server.limit else None
        now, count = time.monotonic(), len(replicas)
        start, self._turn = self._turn, (self._turn + 1) % count
        best = fallback = None
        in_service = False
        for i in range(count):
            replica = replicas[(start + i) % count]
            server = replica.server
            if replica is avoid:
                continue
            if server.resting_until is None:
                in_service = True
                if server.in_flight < server.limit and (best is None or server.in_flight < best.server.in_flight):
                    best = replica
            elif server.in_flight < server.limit:
                if server.resting_until <= now and not server.probing:
                    return replica, True
                if fallback is None or server.in_flight < fallback.server.in_flight:
                    fallback = replica
        if best is not None:
            return best, False
        if in_service:
            return None
        if fallback is None and avoid is not None and avoid.server.in_flight < avoid.server.limit:
            fallback = avoid
        return (fallback, False) if fallback is not None else None
