"""The OpenAI backend against a real loopback server: request shape, retries, failures, the key, `n`."""

import asyncio

import pytest
from tests.helpers.http_loopback import Canned, LoopbackServer, as_json
from tests.helpers.http_loopback import completion as completion_body

from agents.backend import BackendError, CallLimits, ChatMessage, ChatRequest, MultiSampleBackend
from agents.errors import MmsError, SpecError
from agents.http_transport import Headers, shared_transport
from agents.openai_backend import OpenAIBackend, parse_openai_target
from agents.registry import validate_spec

KEY = "sk-test-SECRET-1234567890"

REQUEST = ChatRequest(
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Hi there")),
    max_tokens=24, temperature=0.7, top_p=0.9, seed=42,
)


def completion(text="Hello!", prompt_tokens=11, completion_tokens=3, finish_reason="stop"):
    return as_json(completion_body(text, choices=[{"index": 0, "finish_reason": finish_reason,
                                                   "message": {"role": "assistant", "content": text}}],
                                   usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                          "total_tokens": prompt_tokens + completion_tokens}))


def error(status, message="nope", headers=()):
    return as_json({"error": {"message": message, "type": "x", "code": None}}, status, headers=tuple(headers))


@pytest.fixture
def server():
    loopback = LoopbackServer()
    yield loopback
    loopback.close()


def backend(server, **options):
    """A backend for the loopback server (None: a server never called)."""
    options = {"max_retries": 3, "backoff_base": 0.001, "backoff_max": 0.01, "notify": [].append, **options}
    spec = f"openai:tiny@{server.url if server else 'http://fake.test/v1'}"
    return OpenAIBackend.from_target(spec, spec.removeprefix("openai:"), **options)


async def test_success_sends_the_request_and_reads_text_usage_and_finish_reason(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.replies = [completion("Hello!", 11, 3, "length")]
    b = backend(server)
    result = await b.chat(REQUEST)
    await b.aclose()
    assert (result.text, result.usage.prompt_tokens, result.usage.completion_tokens) == ("Hello!", 11, 3)
    assert result.finish_reason == "length" and result.latency_s >= 0
    sent = server.seen[-1]
    assert (sent.method, sent.path, sent.headers["content-type"]) == ("POST", "/v1/chat/completions", "application/json")
    body = sent.json
    assert body["model"] == "tiny"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (24, 0.7, 0.9, 42)
    assert sent.headers["authorization"] == f"Bearer {KEY}"


async def test_no_seed_is_not_sent_and_missing_usage_counts_zero(server):
    server.replies = [as_json({
        "id": "c", "object": "chat.completion", "created": 0, "model": "tiny",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None}}]})]
    result = await backend(server).chat(ChatRequest(messages=(ChatMessage("user", "x"),)))
    assert "seed" not in server.seen[-1].json
    assert (result.text, result.usage.total_tokens) == ("", 0)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_retryable_status_is_retried_then_succeeds(server, status):
    server.replies = [error(status), error(status), completion("Finally")]
    result = await backend(server).chat(REQUEST)
    assert result.text == "Finally"
    assert server.requests == 3


async def test_dropped_connection_is_retried(server):
    server.replies = [Canned(b"", drop=True), Canned(b"", drop=True), completion("ok")]
    assert (await backend(server).chat(REQUEST)).text == "ok"
    assert server.requests == 3


async def test_timeout_is_retried_and_then_reported(server):
    server.replies = [Canned(completion().body, drip_s=0.05)]
    with pytest.raises(BackendError, match=r"timed out after 2 attempts"):
        await backend(server, max_retries=1, limits=CallLimits(timeout_s=0.2)).chat(REQUEST)
    assert server.requests == 2


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_non_retryable_status_fails_at_once(server, status):
    server.replies = [error(status, "bad model"), completion()]
    with pytest.raises(BackendError, match=rf"HTTP {status}: bad model") as info:
        await backend(server).chat(REQUEST)
    assert server.requests == 1
    assert str(info.value).startswith(f"openai:tiny@{server.url}")


async def test_gives_up_after_max_retries_naming_attempts_and_server(server):
    server.replies = [error(503, "overloaded")]
    with pytest.raises(BackendError) as info:
        await backend(server, max_retries=2).chat(REQUEST)
    assert server.requests == 3
    message = str(info.value)
    assert "after 3 attempts" in message and "503" in message and "overloaded" in message
    assert server.url in message


async def test_server_text_with_braces_is_reported_verbatim(server):
    server.replies = [as_json({"detail": "bad {gateway} {0}"}, 502)]
    with pytest.raises(BackendError, match=r"server error HTTP 502 after 1 attempt: bad \{gateway\} \{0\}$"):
        await backend(server, max_retries=0).chat(REQUEST)


@pytest.mark.parametrize("body,said", [
    (b'{"error": {"message": "no such model", "type": "x"}}', "no such model"),
    (b'{"detail": [{"loc": ["body", "n"], "msg": "bad"}]}', "[{'loc': ['body', 'n'], 'msg': 'bad'}]"),
    (b'{"error": "plain words"}', "plain words"),
    (b"Bad Gateway\n", "Bad Gateway"),
    (b"", ""),
])
async def test_the_servers_own_words_are_quoted_as_the_sdk_read_them(server, body, said):
    server.replies = [Canned(body, 404, content_type="text/plain")]
    with pytest.raises(BackendError) as info:
        await backend(server).chat(REQUEST)
    assert str(info.value).endswith(f"the server refused the request with HTTP 404: {said}")


async def test_connection_refused_on_a_real_closed_port():
    b = OpenAIBackend.from_target("openai:x@http://127.0.0.1:1/v1", "x@http://127.0.0.1:1/v1",
                                  max_retries=2, backoff_base=0.001)
    with pytest.raises(BackendError) as info:
        await b.chat(REQUEST)
    await b.aclose()
    assert str(info.value) == ("openai:x@http://127.0.0.1:1/v1: connection failed after 3 attempts "
                               "(Connection refused) — is the server running?")



async def test_a_proxy_that_is_down_is_named_and_retried(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://alice:hunter2@127.0.0.1:1")
    with pytest.raises(BackendError) as info:
        await backend(server, max_retries=1).chat(REQUEST)
    assert str(info.value) == (f"openai:tiny@{server.url}: connection failed after 2 attempts "
                               "(the proxy http://127.0.0.1:1: Connection refused) — is the server running?")


async def test_a_proxy_that_refuses_the_credentials_fails_the_call_at_once(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://alice:hunter2@127.0.0.1:{server.port}")  # the server plays the proxy
    server.replies, notices = [Canned(b"", status=407)], []
    with pytest.raises(BackendError) as info:
        await backend(server, notify=notices.append).chat(REQUEST)
    assert str(info.value) == (f"openai:tiny@{server.url}: connection failed (the proxy http://127.0.0.1:{server.port} "
                               "refused with HTTP 407 Proxy Authentication Required; set the proxy's user:password in HTTP_PROXY)")
    assert (server.requests, notices) == (1, [])  # not retried: the credentials would be refused again
    assert server.seen[-1].path == f"{server.url}/chat/completions"


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "ALL_PROXY"])
async def test_a_socks_proxy_is_refused_before_any_game_and_fails_a_call_in_one_line(monkeypatch, variable):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv(variable, "socks5://alice:hunter2@proxy.test:1080")
    said = (f"the proxy {variable}='socks5://proxy.test:1080' is not one mms can use: "
            "it takes http://[user:password@]host:port proxies only")
    with pytest.raises(SpecError) as info:
        validate_spec("openai:gpt-4o-mini")
    assert str(info.value) == f"openai:gpt-4o-mini: {said}"
    notices = []
    with pytest.raises(BackendError) as info:
        await OpenAIBackend.from_target("openai:gpt-4o-mini", "gpt-4o-mini", notify=notices.append).chat(REQUEST)
    assert str(info.value) == f"openai:gpt-4o-mini at https://api.openai.com/v1: connection failed ({said})"
    assert notices == []  # not retried

async def test_api_key_never_appears_in_errors(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.replies = [error(401, f"Incorrect API key provided: {KEY}")]
    with pytest.raises(BackendError) as info:
        await backend(server).chat(REQUEST)
    assert KEY not in str(info.value) and "OPENAI_API_KEY" in str(info.value)
    assert server.seen[-1].headers["authorization"] == f"Bearer {KEY}"  # sent, and only there
    server.replies, notices = [error(500, f"echo {KEY}")], []
    with pytest.raises(BackendError) as info:
        await backend(server, max_retries=1, notify=notices.append).chat(REQUEST)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert len(notices) == 1 and KEY not in notices[0] and "echo ***" in notices[0]


async def test_retry_after_header_is_honoured(server):
    b = backend(server, backoff_base=1.0, backoff_max=30.0)
    assert b.delay(1, Headers({"retry-after": "7"})) == 7.0
    assert b.delay(1, Headers({"retry-after-ms": "250"})) == 0.25
    # Full jitter: never above the exponential cap, which is itself capped.
    assert all(0 <= b.delay(3) <= 4.0 for _ in range(200))
    assert all(0 <= b.delay(20) <= 30.0 for _ in range(200))


async def test_concurrency_is_capped(server, monkeypatch):
    """At most `max_requests` requests leave the backend at once, counted where they are sent
    (deterministic) and where they arrive."""
    sending, most = 0, 0
    b = backend(server, max_requests=2)
    transport = shared_transport()
    post = transport.post_json

    async def counted(*args):
        nonlocal sending, most
        sending += 1
        most = max(most, sending)
        try:
            return await post(*args)
        finally:
            sending -= 1

    monkeypatch.setattr(transport, "post_json", counted)
    server.hold()
    tasks = [asyncio.create_task(b.chat(REQUEST)) for _ in range(5)]
    await asyncio.to_thread(server.wait_for_held, 2)
    for _ in range(50):  # let any request that wrongly got past the gate be sent
        await asyncio.sleep(0)
    assert most == 2 and server.requests == 2
    server.release()
    await asyncio.gather(*tasks)
    assert server.requests == 5 and most == 2 and server.peak == 2 and all(t.result().text == "Hello!" for t in tasks)


def test_requests_in_flight_from_the_limits_else_the_environment_else_256(monkeypatch):
    monkeypatch.delenv("MMS_MAX_REQUESTS", raising=False)
    monkeypatch.delenv("MMS_OPENAI_CONCURRENCY", raising=False)
    assert backend(None).max_requests == 256
    monkeypatch.setenv("MMS_OPENAI_CONCURRENCY", "3")  # the old name is still read
    assert backend(None).max_requests == 3
    monkeypatch.setenv("MMS_MAX_REQUESTS", "7")  # the new one wins
    assert backend(None).max_requests == 7
    assert backend(None, limits=CallLimits(max_requests=9)).max_requests == 9
    assert backend(None, max_requests=5).max_requests == 5
    monkeypatch.setenv("MMS_MAX_REQUESTS", "many")
    with pytest.raises(MmsError, match="MMS_MAX_REQUESTS"):
        backend(None)
    monkeypatch.delenv("MMS_MAX_REQUESTS")
    monkeypatch.setenv("MMS_OPENAI_CONCURRENCY", "4097")
    with pytest.raises(MmsError, match="MMS_OPENAI_CONCURRENCY must be a whole number from 1 to 4096"):
        backend(None)


@pytest.mark.parametrize("target,expected", [
    ("gpt-4o-mini", ("gpt-4o-mini", ())),
    ("name@http://127.0.0.1:8000/v1", ("name", ("http://127.0.0.1:8000/v1",))),
    ("org/model@https://host.example/v1/", ("org/model", ("https://host.example/v1",))),
    ("org/model@rev@http://h:1/v1", ("org/model@rev", ("http://h:1/v1",))),
    ("/abs/path/model@http://127.0.0.1:9/v1", ("/abs/path/model", ("http://127.0.0.1:9/v1",))),
    ("m@http://a:8000/v1@https://b/v1/", ("m", ("http://a:8000/v1", "https://b/v1"))),
    ("org/m@rev@http://a/v1@http://user@httpbin:1/v1", ("org/m@rev", ("http://a/v1", "http://user@httpbin:1/v1"))),
])
def test_parse_target(target, expected):
    assert parse_openai_target(target) == expected


@pytest.mark.parametrize("target", ["@http://h/v1", "   ", "m@", "m@ftp://h/v1", "m@localhost:8000", "m@http://", "a b",
                                    "m@http://127.0.0.1:99999/v1", "m@http://h:0/v1", "m@http://h:abc/v1",
                                    "m@http://[::1/v1", "m@http://exa mple/v1"])
def test_parse_target_rejects_malformed(target):
    with pytest.raises(SpecError, match="openai"):
        parse_openai_target(target)


def test_validate_spec_uses_the_parser():
    validate_spec("openai:m@http://127.0.0.1:8000/v1")
    with pytest.raises(SpecError, match="http"):
        validate_spec("openai:m@127.0.0.1:8000")


def test_official_api_without_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MmsError, match="OPENAI_API_KEY"):
        OpenAIBackend.from_target("openai:gpt-4o-mini", "gpt-4o-mini")
    # A custom server needs no key.
    assert backend(None).base_url == "http://fake.test/v1"


async def test_custom_server_without_key_sends_a_placeholder(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    await backend(server).chat(REQUEST)
    assert server.seen[-1].headers["authorization"] == "Bearer not-needed"


# -- many samples of one prompt: the API's `n` -------------------------------------------------

def choices(*texts):
    return as_json(completion_body(choices=[{"index": i, "finish_reason": "stop", "message": {"role": "assistant",
                                                                                             "content": t}}
                                            for i, t in enumerate(texts)]))


def answer_n(seen):
    """A server that takes `n`: as many choices as asked, numbered."""
    return choices(*(f"reply {i}" for i in range(seen.json.get("n", 1))))


async def test_sample_asks_once_with_n_and_reads_every_choice(server):
    server.replies = [choices("one", "two", "three")]
    b = backend(server)
    assert isinstance(b, MultiSampleBackend)
    assert await b.sample(REQUEST, 3) == ["one", "two", "three"]
    body = server.seen[-1].json
    assert server.requests == 1 and body["n"] == 3 and body["seed"] == 42 and body["temperature"] == 0.7
    assert b.sampling_note() == "drawn with the API's n (one prompt, many completions)"


async def test_sample_asks_at_most_128_a_request(server):
    server.route = answer_n
    replies = await backend(server).sample(REQUEST, 300)
    assert sorted(s.json["n"] for s in server.seen) == [44, 128, 128] and len(replies) == 300
    assert len({s.json["seed"] for s in server.seen}) == 3  # each request its own seed


async def test_a_reply_with_fewer_choices_than_asked_is_an_error(server):
    server.replies = [choices("only one")]
    with pytest.raises(BackendError, match=r"asked for n=3 completions, the server sent 1$"):
        await backend(server).sample(REQUEST, 3)


@pytest.mark.parametrize("status", [400, 422])
async def test_a_server_that_refuses_n_is_sampled_by_separate_requests_remembered(server, status):
    def refuse_n(seen):
        return error(status, "n must be 1") if "n" in seen.json else completion(f"seed {seen.json['seed']}")

    server.route = refuse_n
    b = backend(server)
    first = await b.sample(REQUEST, 3)
    assert server.requests == 4 and len(set(first)) == 3  # the refused one, then 3 with seeds of their own
    assert b.sampling_note() == "drawn as separate requests: the server refuses the API's n"
    assert await b.sample(REQUEST, 3) == first and server.requests == 7  # not asked with n again; reproducible
    assert all("n" not in s.json for s in server.seen[4:])
