"""Requests in flight per server URL, and replicas of one model (agents/servers.py), against real
HTTP servers on loopback: the limit is the server's, shared by every spec on it; requests spread
over replicas, a replica that goes away is retried around at once, and one that comes back rejoins."""

import asyncio

import pytest
from tests.helpers.http_loopback import LoopbackServer

from agents.backend import ChatMessage, ChatRequest
from agents.openai_backend import OpenAIBackend
from agents.servers import server_for, server_key

REQUEST = ChatRequest(messages=(ChatMessage("user", "Hi"),), max_tokens=8)


@pytest.fixture
def servers():
    pair = LoopbackServer(), LoopbackServer()
    yield pair
    for server in pair:
        server.close()


def backend(spec: str, notices: list[str] | None = None, **options) -> OpenAIBackend:
    options = {"max_retries": 1, "backoff_base": 2.0, "backoff_max": 2.0, **options}  # a backoff would show in the notices
    return OpenAIBackend.from_target(spec, spec.removeprefix("openai:"), notify=(notices if notices is not None else []).append,
                                     **options)


@pytest.mark.parametrize("a,b", [("http://LocalHost:80/v1/", "http://localhost/v1"),
                                 ("https://h.example/v1", "https://H.EXAMPLE:443/v1//"),
                                 ("http://[::1]:8000/v1", "http://[::1]:8000/v1/")])
def test_one_server_however_its_url_is_written(a, b):
    assert server_key(a) == server_key(b)


@pytest.mark.parametrize("a,b", [("http://h/v1", "https://h/v1"), ("http://h:8000/v1", "http://h:8001/v1"),
                                 ("http://h/v1", "http://h/v2")])
def test_different_servers_are_not_merged(a, b):
    assert server_key(a) != server_key(b)


async def test_the_limit_is_the_servers_shared_by_every_spec_on_it(servers):
    """A base model and its adapter on one server: 3 requests in flight between them, not 3 each."""
    server, _ = servers
    base, adapter = backend(f"openai:base@{server.url}", max_requests=3), backend(f"openai:bark@{server.url}/", max_requests=3)
    server.hold()
    tasks = [asyncio.create_task(b.chat(REQUEST)) for b in (base, adapter) for _ in range(3)]
    await asyncio.to_thread(server.wait_for_held, 3)
    assert len(server_for(server.url, 3).waiters) == 3  # the other three wait for a slot, none is on its way
    server.release()
    results = await asyncio.gather(*tasks)
    await base.aclose()
    await adapter.aclose()
    assert all(r.text == "Hello!" for r in results)
    assert server.requests == 6 and server.peak == 3


async def test_both_replicas_take_requests(servers):
    a, b = servers
    replicated = backend(f"openai:m@{a.url}@{b.url}")
    results = await asyncio.gather(*(replicated.chat(REQUEST) for _ in range(20)))
    await replicated.aclose()
    assert all(r.text == "Hello!" for r in results)
    assert a.requests + b.requests == 20 and a.requests >= 5 and b.requests >= 5


async def test_each_replica_has_its_own_limit(servers):
    a, b = servers
    replicated = backend(f"openai:m@{a.url}@{b.url}", max_requests=2)
    a.hold()
    b.hold()
    tasks = [asyncio.create_task(replicated.chat(REQUEST)) for _ in range(6)]
    await asyncio.to_thread(a.wait_for_held, 2)
    await asyncio.to_thread(b.wait_for_held, 2)
    a.release()
    b.release()
    assert all(r.text == "Hello!" for r in await asyncio.gather(*tasks))
    await replicated.aclose()
    assert (a.peak, b.peak) == (2, 2) and a.requests + b.requests == 6


async def test_a_replica_stopped_mid_run_loses_no_call(servers):
    """Calls in flight on the stopped replica, and those that come after, are answered by the
    other one; each retry goes there at once (a backoff would take a minute here)."""
    a, b = servers
    notices = []
    replicated = backend(f"openai:m@{a.url}@{b.url}", notices)
    a.hold()
    tasks = [asyncio.create_task(replicated.chat(REQUEST)) for _ in range(10)]
    await asyncio.to_thread(a.wait_for_held, 5)  # the least loaded: half of them on each
    a.stop()
    after = [asyncio.create_task(replicated.chat(REQUEST)) for _ in range(10)]
    results = await asyncio.gather(*tasks, *after)
    await replicated.aclose()
    assert len(results) == 20 and all(r.text == "Hello!" for r in results)
    assert a.requests == 5 and b.requests == 20  # every call answered once, by b
    assert len(notices) >= 5  # the 5 dropped, and any that met the closed port before a was set aside
    assert all(n.startswith(f"openai:m@{a.url}@{b.url} (replica {a.url}): ") and n.endswith("at once on another replica")
               for n in notices)


async def test_a_replica_that_comes_back_rejoins(servers, monkeypatch):
    monkeypatch.setattr("agents.servers.COOL_DOWN_S", 0.0)  # tried again at the next request
    a, b = servers
    notices = []
    replicated = backend(f"openai:m@{a.url}@{b.url}", notices)
    a.stop()
    for _ in range(4):
        assert (await replicated.chat(REQUEST)).text == "Hello!"
    assert (a.requests, b.requests) == (0, 4) and len(notices) == 4 and "connection failed" in notices[0]
    a.start()
    for _ in range(4):
        assert (await replicated.chat(REQUEST)).text == "Hello!"
    await replicated.aclose()
    assert a.requests >= 2 and a.requests + b.requests == 8  # answered its probe, then back in the rotation
    assert len(notices) == 4  # no failure since it came back


async def test_a_resting_replica_is_not_tried_before_its_cool_down(servers):
    a, b = servers
    notices = []
    replicated = backend(f"openai:m@{a.url}@{b.url}", notices)
    a.stop()
    for _ in range(6):
        assert (await replicated.chat(REQUEST)).text == "Hello!"
    await replicated.aclose()
    assert b.requests == 6 and len(notices) == 1  # only the first call met the stopped replica


async def test_when_every_replica_is_down_the_call_fails_naming_the_last_one(servers):
    a, b = servers
    notices = []
    replicated = backend(f"openai:m@{a.url}@{b.url}", notices, max_retries=1, backoff_base=0.001, backoff_max=0.001)
    a.stop()
    b.stop()
    with pytest.raises(Exception) as info:
        await replicated.chat(REQUEST)
    await replicated.aclose()
    reason = str(info.value)
    assert "\n" not in reason and reason.startswith(f"openai:m@{a.url}@{b.url} (replica http://127.0.0.1:")
    assert "connection failed after 2 attempts (Connection refused) — is the server running?" in reason
    assert len(notices) == 1 and "at once on another replica" in notices[0]


async def test_one_server_per_event_loop(servers):
    """Each `asyncio.run` (as each command makes) gets fresh counts."""
    server, _ = servers
    first = server_for(server.url, 3)
    assert server_for(server.url + "/", 9) is first and first.limit == 3

    async def other_loop():
        return server_for(server.url, 5)

    assert (await asyncio.to_thread(asyncio.run, other_loop())).limit == 5
