"""agents/http_transport.py against a real loopback server: the three ways a body ends, keep-alive
reuse, the size limit, failures with their root cause, and a cancelled request's connection."""

import asyncio
import json

import pytest
from http_loopback import Canned, LoopbackServer, as_json, completion

from agents.http_transport import ConnectionFailed, HttpTransport, shared_transport
from agents.openai_reply import MalformedReply

BODY = json.dumps(completion("x" * 300)).encode()


@pytest.fixture
def server():
    loopback = LoopbackServer(keep_alive=True)
    yield loopback
    loopback.close()


async def post(server, transport=None, payload=None):
    transport = transport or HttpTransport()
    return await transport.post_json(f"{server.url}/chat/completions", payload or {"model": "m"}, {"x-key": "v"})


@pytest.mark.parametrize("reply", [Canned(BODY), Canned(BODY, chunked=True), Canned(BODY, chunked=True, chunk=1),
                                   Canned(BODY, declare_length=False), Canned(BODY, drip_s=0.0005, chunked=True)],
                         ids=["content-length", "chunked", "one-byte chunks", "until close", "chunked, dripped"])
async def test_every_way_a_body_ends_is_read_whole(server, reply):
    server.replies = [reply]
    response = await post(server, payload={"model": "m", "text": "héllo"})
    assert (response.status, response.body, response.content_type) == (200, BODY, "application/json")
    assert response.headers["Content-Type"] == response.headers.get("CONTENT-TYPE") == "application/json"
    sent = server.seen[-1]
    assert (sent.method, sent.path, sent.headers["x-key"], sent.json) == ("POST", "/v1/chat/completions", "v",
                                                                          {"model": "m", "text": "héllo"})


async def test_connections_are_kept_alive_and_reused(server):
    transport = HttpTransport()
    for _ in range(3):
        assert (await post(server, transport)).body == server.replies[0].body
    assert server.requests == 3 and server.connections == 1
    await asyncio.gather(*(post(server, transport) for _ in range(4)))
    assert server.connections == 4  # three more opened for the four at once, the first reused


async def test_a_connection_the_server_closed_is_not_reused(server):
    transport = HttpTransport()
    server.replies = [Canned(BODY, declare_length=False), Canned(BODY)]  # the first ends by closing
    await post(server, transport)
    assert (await post(server, transport)).body == BODY and server.connections == 2


async def test_get_json(server):
    server.replies = [as_json({"data": [{"id": "m"}]})]
    response = await HttpTransport().get_json(f"{server.url}/models", {"authorization": "Bearer k"})
    assert json.loads(response.body) == {"data": [{"id": "m"}]}
    assert (server.seen[-1].method, server.seen[-1].path, server.seen[-1].body) == ("GET", "/v1/models", b"")


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_reply_past_the_limit_is_refused_as_it_streams(server, monkeypatch, chunked):
    monkeypatch.setenv("MMS_MAX_REPLY_BYTES", "100")
    server.replies = [Canned(BODY, chunked=chunked, chunk=30)]
    with pytest.raises(MalformedReply, match="runs past the 100-byte limit" if chunked else f"would be {len(BODY)} bytes, over the 100-byte"):
        await post(server)


async def test_a_refused_connection_says_why():
    with pytest.raises(ConnectionFailed) as info:
        await HttpTransport().post_json("http://127.0.0.1:1/v1/chat/completions", {}, {})
    assert info.value.reason == "Connection refused"


async def test_a_reply_cut_short_is_a_failed_connection(server):
    server.replies = [Canned(b"", drop=True)]
    with pytest.raises(ConnectionFailed, match="closed the connection before the reply was complete"):
        await post(server)


async def test_a_cancelled_request_drops_its_connection(server):
    transport = HttpTransport()
    server.hold()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await post(server, transport)
    server.release()
    assert (await post(server, transport)).status == 200 and server.connections == 2  # not the cancelled one


async def test_header_values_cannot_add_lines(server):
    with pytest.raises(ValueError, match="line break"):
        await HttpTransport().post_json(f"{server.url}/x", {}, {"authorization": "Bearer k\r\nx-evil: 1"})


async def test_one_transport_per_event_loop():
    assert shared_transport() is shared_transport()
    other = await asyncio.to_thread(asyncio.run, _transport())
    assert other is not shared_transport()


async def _transport():
    return shared_transport()
