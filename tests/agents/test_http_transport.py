"""agents/http_transport.py against a real loopback server: the three ways a body ends, keep-alive
reuse, the size limit, failures with their root cause, and a cancelled request's connection."""

import asyncio
import base64
import json
import shutil
import ssl
import subprocess
from urllib.parse import urlsplit

import pytest
from tests.helpers.http_loopback import Canned, LoopbackServer, as_json, completion

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


class ForwardProxy:
    """A forward proxy on 127.0.0.1, in the test's own loop: CONNECT opens a tunnel (or is refused
    with `refuse`), any other request goes on, as it came, to the host its absolute URL names; then
    bytes are piped both ways. `heads` holds the head of each connection's first request; with
    `capture`, a tunnel leads nowhere and `first_record` holds the first TLS record sent into it."""

    def __init__(self, refuse: int | None = None, capture: bool = False) -> None:
        self.refuse, self.capture = refuse, capture
        self.heads: list[str] = []
        self.first_record = b""
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *_):
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def connects(self) -> int:
        return sum(head.startswith("CONNECT ") for head in self.heads)

    async def _handle(self, reader, writer) -> None:
        self._tasks.add(asyncio.current_task())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head.decode("latin-1"))
            method, target, _ = head.split(b" ", 2)
            if method != b"CONNECT":
                parts = urlsplit(target.decode())
                host, port, first = parts.hostname, parts.port, head
            elif self.refuse:
                writer.write(b"HTTP/1.1 %d Go away\r\ncontent-length: 4\r\n\r\nnope" % self.refuse)
                return
            else:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if self.capture:
                    record = await reader.readexactly(5)
                    self.first_record = record + await reader.readexactly(int.from_bytes(record[3:5], "big"))
                    return
                (host, _, port), first = target.decode().rpartition(":"), b""
            upstream_reader, upstream = await asyncio.open_connection(host, int(port))
            upstream.write(first)
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _pipe(reader, writer) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_an_http_origin_is_asked_of_the_proxy_in_absolute_form_with_its_credentials(server, monkeypatch):
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@{proxy.address}")
        transport = HttpTransport()
        for _ in range(2):
            assert (await post(server, transport)).body == server.replies[0].body
        transport.close_idle()
    assert proxy.heads[0].startswith(f"POST {server.url}/chat/completions HTTP/1.1\r\n")
    assert len(proxy.heads) == 1 and server.connections == 1  # the second request on the same connection
    sent = server.seen[-1]
    assert (sent.headers["proxy-authorization"], sent.headers["x-key"], sent.json) == (_basic("user", "p@ss"), "v", {"model": "m"})


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost, .example.test,127.0.0.1", "*"])
async def test_no_proxy_hosts_are_reached_directly(server, monkeypatch, no_proxy):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert (await post(server)).status == 200


async def test_a_proxy_that_is_down_is_named_as_the_cause(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://user:hunter2@127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "example.test")
    with pytest.raises(ConnectionFailed) as info:
        await post(server)
    assert (info.value.reason, info.value.retry) == ("the proxy http://127.0.0.1:1: Connection refused", True)


async def test_an_https_origin_goes_through_a_connect_tunnel_that_starts_tls_for_the_origin(monkeypatch):
    async with ForwardProxy(capture=True) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@{proxy.address}")
        with pytest.raises(ConnectionFailed):  # the tunnel leads nowhere: only its first bytes matter here
            await HttpTransport().post_json("https://api.example.test/v1/chat/completions", {}, {})
    assert proxy.heads == [("CONNECT api.example.test:443 HTTP/1.1\r\nhost: api.example.test:443\r\n"
                            f"proxy-authorization: {_basic('user', 'pw')}\r\nuser-agent: mms\r\n\r\n")]
    record = proxy.first_record
    assert record[:1] == b"\x16" and record[5:6] == b"\x01"  # a TLS handshake record holding a ClientHello
    assert b"api.example.test" in record  # the origin's name (SNI), not the proxy's


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (its file, the server's TLS context)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=mms-test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


async def test_https_through_the_tunnel_end_to_end(certificate, monkeypatch):
    cert, server_tls = certificate
    seen = []

    async def answer(reader, writer):
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            seen.append(head.decode())
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY))
        writer.close()

    origin = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{origin.sockets[0].getsockname()[1]}/v1/chat/completions"
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@{proxy.address}")
        transport = HttpTransport(tls=ssl.create_default_context(cafile=cert))
        for _ in range(2):
            assert (await transport.post_json(url, {"model": "m"}, {"x-key": "v"})).body == BODY
        transport.close_idle()
    origin.close()
    assert proxy.connects == 1 and len(seen) == 2  # one tunnel, kept alive for the second request
    assert seen[0].startswith("POST /v1/chat/completions HTTP/1.1\r\n") and "x-key: v" in seen[0]
    assert "proxy-authorization" not in seen[0]  # the proxy's credentials stay with the proxy


@pytest.mark.parametrize("status, retry", [(407, False), (403, False), (502, True)])
async def test_a_proxy_that_refuses_the_tunnel_is_one_line_without_its_credentials(monkeypatch, status, retry):
    async with ForwardProxy(refuse=status) as proxy:
        monkeypatch.setenv("https_proxy", f"http://alice:hunter2@{proxy.address}")
        with pytest.raises(ConnectionFailed) as info:
            await HttpTransport().post_json("https://api.example.test/v1/chat/completions", {}, {})
    reason = info.value.reason
    assert reason.startswith(f"the proxy http://{proxy.address} refused the tunnel to api.example.test:443 with HTTP {status} ")
    assert ("set the proxy's user:password in https_proxy" in reason) == (status == 407)
    assert info.value.retry is retry and "hunter2" not in reason and "alice" not in reason and "\n" not in reason


async def test_an_http_origin_refused_by_its_proxy_names_the_proxy(server, monkeypatch):
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://alice:hunter2@{proxy.address}")
        server.replies = [Canned(b"", status=407)]
        with pytest.raises(ConnectionFailed, match=f"^the proxy http://{proxy.address} refused with HTTP 407 "
                                                   "Proxy Authentication Required; set the proxy's user:password in HTTP_PROXY$"):
            await post(server)


@pytest.mark.parametrize("variable, value", [("HTTPS_PROXY", "socks5://alice:hunter2@proxy.test:1080"),
                                             ("ALL_PROXY", "socks5h://alice:hunter2@proxy.test:1080"),
                                             ("HTTPS_PROXY", "https://proxy.test:3128"),
                                             ("HTTPS_PROXY", "http://proxy.test:99999")])
async def test_a_proxy_mms_cannot_use_is_one_line_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConnectionFailed) as info:
        await HttpTransport().post_json("https://api.example.test/v1/chat/completions", {}, {})
    shown = value.replace("alice:hunter2@", "")
    assert info.value.reason == (f"the proxy {variable}={shown!r} is not one mms can use: "
                                 "it takes http://[user:password@]host:port proxies only")
    assert info.value.retry is False
