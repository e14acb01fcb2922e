"""The OpenAI backend against a mocked server (respx): request shape, retries, failures, the key."""

import json

import httpx
import pytest
import respx

from agents.backend import BackendError, ChatMessage, ChatRequest
from agents.errors import MmsError, SpecError
from agents.openai_backend import OpenAIBackend, parse_openai_target
from agents.registry import validate_spec

BASE = "http://fake.test/v1"
URL = f"{BASE}/chat/completions"
SPEC = f"openai:tiny@{BASE}"
KEY = "sk-test-SECRET-1234567890"

REQUEST = ChatRequest(
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Hi there")),
    max_tokens=24, temperature=0.7, top_p=0.9, seed=42,
)


def completion(text="Hello!", prompt_tokens=11, completion_tokens=3, finish_reason="stop"):
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": "tiny",
        "choices": [{"index": 0, "finish_reason": finish_reason,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def error(status, message="nope", headers=None):
    return httpx.Response(status, json={"error": {"message": message, "type": "x", "code": None}},
                          headers=headers)


def backend(**options):
    options = {"max_retries": 3, "backoff_base": 0.001, "backoff_max": 0.01, **options}
    return OpenAIBackend.from_target(SPEC, SPEC.removeprefix("openai:"), **options)


@pytest.fixture
def server():
    with respx.mock(assert_all_called=False) as mock:
        yield mock.post(URL)


async def test_success_sends_the_request_and_reads_text_usage_and_finish_reason(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.side_effect = [completion("Hello!", 11, 3, "length")]
    b = backend()
    result = await b.chat(REQUEST)
    await b.aclose()
    assert (result.text, result.usage.prompt_tokens, result.usage.completion_tokens) == ("Hello!", 11, 3)
    assert result.finish_reason == "length" and result.latency_s >= 0
    sent = server.calls.last.request
    body = json.loads(sent.content)
    assert body["model"] == "tiny"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (24, 0.7, 0.9, 42)
    assert sent.headers["authorization"] == f"Bearer {KEY}"


async def test_no_seed_is_not_sent_and_missing_usage_counts_zero(server):
    server.side_effect = [httpx.Response(200, json={
        "id": "c", "object": "chat.completion", "created": 0, "model": "tiny",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None}}]})]
    result = await backend().chat(ChatRequest(messages=(ChatMessage("user", "x"),)))
    assert "seed" not in json.loads(server.calls.last.request.content)
    assert (result.text, result.usage.total_tokens) == ("", 0)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retryable_status_is_retried_then_succeeds(server, status):
    server.side_effect = [error(status), error(status), completion("Finally")]
    result = await backend().chat(REQUEST)
    assert result.text == "Finally"
    assert server.call_count == 3


async def test_dropped_connection_is_retried(server):
    server.side_effect = [httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped"), completion("ok")]
    assert (await backend().chat(REQUEST)).text == "ok"
    assert server.call_count == 3


async def test_timeout_is_retried_and_then_reported(server):
    server.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(BackendError, match=r"timed out after 2 attempts"):
        await backend(max_retries=1).chat(REQUEST)
    assert server.call_count == 2


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_non_retryable_status_fails_at_once(server, status):
    server.side_effect = [error(status, "bad model"), completion()]
    with pytest.raises(BackendError, match=rf"HTTP {status}: bad model") as info:
        await backend().chat(REQUEST)
    assert server.call_count == 1
    assert str(info.value).startswith(SPEC)


async def test_gives_up_after_max_retries_naming_attempts_and_server(server):
    server.side_effect = lambda request: error(503, "overloaded")
    with pytest.raises(BackendError) as info:
        await backend(max_retries=2).chat(REQUEST)
    assert server.call_count == 3
    message = str(info.value)
    assert "after 3 attempts" in message and "503" in message and "overloaded" in message
    assert BASE in message


async def test_server_text_with_braces_is_reported_verbatim(server):
    server.side_effect = lambda request: httpx.Response(502, json={"detail": "bad {gateway} {0}"})
    with pytest.raises(BackendError, match=r"server error HTTP 502 after 1 attempt: bad \{gateway\} \{0\}$"):
        await backend(max_retries=0).chat(REQUEST)


async def test_connection_refused_on_a_real_closed_port():
    b = OpenAIBackend.from_target("openai:x@http://127.0.0.1:1/v1", "x@http://127.0.0.1:1/v1",
                                  max_retries=2, backoff_base=0.001)
    with pytest.raises(BackendError) as info:
        await b.chat(REQUEST)
    await b.aclose()
    assert str(info.value) == ("openai:x@http://127.0.0.1:1/v1: connection failed after 3 attempts "
                               "(Connection refused) — is the server running?")


async def test_api_key_never_appears_in_errors(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.side_effect = [error(401, f"Incorrect API key provided: {KEY}")]
    with pytest.raises(BackendError) as info:
        await backend().chat(REQUEST)
    assert KEY not in str(info.value) and "OPENAI_API_KEY" in str(info.value)
    server.side_effect = lambda request: error(500, f"echo {KEY}")
    with pytest.raises(BackendError) as info:
        await backend(max_retries=1).chat(REQUEST)
    assert KEY not in str(info.value) and KEY not in repr(info.value)


async def test_retry_after_header_is_honoured():
    b = backend(backoff_base=1.0, backoff_max=30.0)
    assert b.delay(1, httpx.Headers({"retry-after": "7"})) == 7.0
    assert b.delay(1, httpx.Headers({"retry-after-ms": "250"})) == 0.25
    # Full jitter: never above the exponential cap, which is itself capped.
    assert all(0 <= b.delay(3) <= 4.0 for _ in range(200))
    assert all(0 <= b.delay(20) <= 30.0 for _ in range(200))


async def test_concurrency_is_capped(server):
    import asyncio

    active, peak, release, full = 0, 0, asyncio.Event(), asyncio.Event()

    async def slow(request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 2:
            full.set()
        await release.wait()
        active -= 1
        return completion()

    server.side_effect = slow
    b = backend(max_concurrency=2)
    tasks = [asyncio.create_task(b.chat(REQUEST)) for _ in range(5)]
    await asyncio.wait_for(full.wait(), timeout=10)
    for _ in range(50):  # let any request that wrongly got past the gate arrive
        await asyncio.sleep(0)
    assert peak == 2
    release.set()
    await asyncio.gather(*tasks)
    assert server.call_count == 5 and peak == 2 and all(t.result().text == "Hello!" for t in tasks)


def test_concurrency_from_environment(monkeypatch):
    monkeypatch.setenv("MMS_OPENAI_CONCURRENCY", "3")
    assert backend().max_concurrency == 3
    assert backend(max_concurrency=5).max_concurrency == 5
    monkeypatch.setenv("MMS_OPENAI_CONCURRENCY", "many")
    with pytest.raises(MmsError, match="MMS_OPENAI_CONCURRENCY"):
        backend()


@pytest.mark.parametrize("target,expected", [
    ("gpt-4o-mini", ("gpt-4o-mini", None)),
    ("name@http://127.0.0.1:8000/v1", ("name", "http://127.0.0.1:8000/v1")),
    ("org/model@https://host.example/v1/", ("org/model", "https://host.example/v1")),
    ("org/model@rev@http://h:1/v1", ("org/model@rev", "http://h:1/v1")),
    ("/abs/path/model@http://127.0.0.1:9/v1", ("/abs/path/model", "http://127.0.0.1:9/v1")),
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
    assert backend().base_url == BASE


async def test_custom_server_without_key_sends_a_placeholder(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.side_effect = [completion()]
    await backend().chat(REQUEST)
    assert server.calls.last.request.headers["authorization"] == "Bearer not-needed"
