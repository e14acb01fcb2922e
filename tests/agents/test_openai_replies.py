"""What a server should not send, and calls that take too long, against a real loopback server.

Each ends as one BackendError reason on one line that names the server and says what was wrong,
retried only where another attempt could help, within the call's deadline and retry budget.
"""

import json
import math
import time

import openai  # noqa: F401 - imported here, so that no timed call pays for the import
import pytest
from tests.helpers.http_loopback import Canned, LoopbackServer, as_json, completion

from agents.backend import BackendError, CallLimits, ChatMessage, ChatRequest
from agents.errors import MmsError
from agents.openai_backend import OpenAIBackend

REQUEST = ChatRequest(messages=(ChatMessage("user", "Hi"),), max_tokens=8)
OK = json.dumps(completion()).encode()


@pytest.fixture
def server():
    loopback = LoopbackServer()
    yield loopback
    loopback.close()


def backend(server, notices=None, **options):
    options = {"max_retries": 2, "backoff_base": 0.001, "backoff_max": 0.01, **options}
    if notices is not None:
        options["notify"] = notices.append
    spec = f"openai:tiny@{server.url}"
    return OpenAIBackend.from_target(spec, spec.removeprefix("openai:"), **options)


async def call(server, *replies, **options):
    server.replies = list(replies)
    b = backend(server, **options)
    try:
        return await b.chat(REQUEST)
    finally:
        await b.aclose()


async def failure(server, *replies, **options) -> str:
    """The reason the call failed with, checked to be one line that starts with the server."""
    with pytest.raises(BackendError) as info:
        await call(server, *replies, **options)
    reason = str(info.value)
    assert reason.startswith(f"openai:tiny@{server.url}: ")
    assert not any(c in reason for c in "\r\n\x1b")
    return reason


def replace(old: bytes, new: bytes) -> Canned:
    assert old in OK
    return Canned(OK.replace(old, new))


# -- malformed replies: a wrong shape is not retried (the server would send it again) ----------

WRONG_SHAPE = {
    "event stream": (Canned(b"data: " + OK + b"\n\ndata: [DONE]\n\n", content_type="text/event-stream"),
                     "the reply is a stream of server-sent events, not one JSON object"),
    "html page": (Canned(b"<html><body>Welcome to nginx!</body></html>", content_type="text/html"),
                  ("the reply is HTML, not JSON (starts '<html><body>Welcome to nginx!</body></html>'): "
                   "is the address the server's API, usually ending in /v1?")),
    "plain text": (Canned(b"Internal Server Error", content_type="text/plain"),
                   "the reply is not JSON (content type text/plain; starts 'Internal Server Error')"),
    "json array": (as_json([completion()]), "the reply is a list of 1 item(s), not a JSON object"),
    "json string": (as_json("hello"), "the reply is the string 'hello', not a JSON object"),
    "error object": (as_json({"error": {"message": "model not loaded"}}),
                     "the server answered with an error: 'model not loaded'"),
    "no choices": (as_json(completion(choices=[])), "the server answered with no choices"),
    "empty choice": (as_json(completion(choices=[{}])), "choices[0] has no message"),
    "content a number": (as_json(completion(42)), "choices[0].message.content is the number 42, not text"),
    "content a list": (as_json(completion(["a", "b"])), "choices[0].message.content is a list of 2 item(s), not text"),
    "token counts as strings": (as_json(completion(usage={"prompt_tokens": "11", "completion_tokens": "3"})),
                                "usage.prompt_tokens is the string '11', not a count of tokens"),
    "negative token count": (as_json(completion(usage={"prompt_tokens": -1})),
                             "usage.prompt_tokens is the number -1, not a count of tokens"),
    "usage Infinity": (replace(b'"prompt_tokens": 11', b'"prompt_tokens": Infinity'),
                       "the reply holds Infinity, which JSON does not allow"),
    "usage NaN": (replace(b'"completion_tokens": 3', b'"completion_tokens": NaN'), "the reply holds NaN"),
    "usage 1e999": (replace(b'"completion_tokens": 3', b'"completion_tokens": 1e999'),
                    "the reply holds the number 1e999, too large for a float"),
    "deeply nested": (Canned(b"[" * 100_000 + b"]" * 100_000), "the reply is JSON nested too deeply to read"),
}


@pytest.mark.parametrize("case", WRONG_SHAPE)
async def test_a_reply_of_the_wrong_shape_fails_at_once_naming_the_server_and_the_fault(server, case):
    reply, said = WRONG_SHAPE[case]
    reason = await failure(server, reply)
    assert reason.startswith(f"openai:tiny@{server.url}: unusable reply: {said}")
    assert server.requests == 1


@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "undeclared length"])
async def test_a_reply_past_the_size_limit_is_refused_unread(server, monkeypatch, declared):
    monkeypatch.setenv("MMS_MAX_REPLY_BYTES", "1000")
    big = Canned(json.dumps(completion("x" * 5000)).encode(), declare_length=declared)
    reason = await failure(server, big)
    assert "over the 1,000-byte limit" in reason or "runs past the 1,000-byte limit" in reason
    assert "MMS_MAX_REPLY_BYTES" in reason and server.requests == 1
    assert (await call(server, as_json(completion("small")))).text == "small"


# -- a damaged body may come right on another attempt: retried like a 5xx -----------------------

DAMAGED = {
    "cut short": (Canned(OK[: len(OK) // 2]), "the reply is JSON cut short or damaged (Unterminated string"),
    "invalid utf-8": (replace(b"Hello", b"Hel\xff\xfelo"), "the reply is not UTF-8 (byte 0xff at offset"),
    "empty": (Canned(b""), "the reply is empty"),
}


@pytest.mark.parametrize("case", DAMAGED)
async def test_a_damaged_reply_is_retried_and_then_fails_with_its_reason(server, case):
    reply, said = DAMAGED[case]
    notices = []
    reason = await failure(server, reply, notices=notices)
    assert reason.startswith(f"openai:tiny@{server.url}: unusable reply after 3 attempts: {said}")
    assert server.requests == 3 and len(notices) == 2


@pytest.mark.parametrize("case", DAMAGED)
async def test_a_damaged_reply_then_a_good_one_succeeds(server, case):
    result = await call(server, DAMAGED[case][0], Canned(OK), notify=[].append)
    assert (result.text, result.usage.prompt_tokens, server.requests) == ("Hello!", 11, 2)


def logprob_reply(top: str, prompt: str = "null") -> Canned:
    """A completion with the first token's top logprobs and vLLM's prompt logprobs, written as raw
    JSON text so that they can hold what Python's json would not write."""
    logprobs = f'{{"content": [{{"token": "A", "logprob": -0.1, "top_logprobs": {top}}}]}}'
    text = OK.decode().replace('"finish_reason": "stop"', f'"finish_reason": "stop", "logprobs": {logprobs}')
    return Canned(text.replace('"id": "c1"', f'"prompt_logprobs": {prompt}, "id": "c1"').encode())


async def test_good_top_logprobs_are_read():
    scores = await _score(logprob_reply('[{"token": "A", "logprob": -0.1}, {"token": "B", "logprob": -2.5}]'),
                          "top_logprobs")
    assert scores.options == ("A", "B") and scores.best == "A" and scores.method == "top_logprobs"


@pytest.mark.parametrize("method,reply", [
    ("top_logprobs", logprob_reply('[{"token": "A", "logprob": NaN}]')),
    ("logprobs", logprob_reply("[]", prompt='[null, {"5": {"logprob": -Infinity}}]')),
])
async def test_non_finite_logprobs_are_refused(method, reply):
    with pytest.raises(BackendError, match=r"unusable reply: the reply holds (NaN|-Infinity), which JSON does not allow"):
        await _score(reply, method)


async def _score(reply: Canned, method: str):
    loopback = LoopbackServer()
    try:
        loopback.replies = [reply]
        b = backend(loopback)
        try:
            return await b.score([ChatMessage("user", "A or B?")], ["A", "B"], method=method)
        finally:
            await b.aclose()
    finally:
        loopback.close()


# -- a server's words shown on one line -------------------------------------------------------

async def test_server_error_text_cannot_forge_a_line(server):
    notices = []
    reason = await failure(server, as_json({"error": {"message": "boom\r\nerror: forged line\x1b[2J"}}, 500),
                           max_retries=1, notices=notices)
    assert reason.endswith("server error HTTP 500 after 2 attempts: boom\\r\\nerror: forged line\\x1b[2J")
    assert len(notices) == 1 and "\n" not in notices[0] and "boom\\r\\nerror" in notices[0]


# -- the deadline and the retry budget --------------------------------------------------------

async def test_a_server_that_drips_its_reply_fails_at_the_deadline(server):
    """The acceptance case: a reply that never stops arriving is cut off at the deadline, though
    every byte comes well within any per-read timeout."""
    started = time.perf_counter()
    reason = await failure(server, Canned(OK, drip_s=0.05), max_retries=0,
                           limits=CallLimits(timeout_s=0.5, budget_s=30))
    elapsed = time.perf_counter() - started
    assert reason.endswith("timed out after 1 attempt (no complete reply within 0.5 s; --call-timeout sets it)")
    assert 0.5 <= elapsed < len(OK) * 0.05  # cut off before the body's last byte (a bound load cannot trip)


async def test_the_retry_budget_cuts_an_attempt_short_and_then_stops(server):
    notices = []
    started = time.perf_counter()
    reason = await failure(server, Canned(OK, drip_s=0.05), max_retries=5, notices=notices,
                           limits=CallLimits(timeout_s=60, budget_s=0.6))
    assert time.perf_counter() - started < len(OK) * 0.05  # cut off before the body's last byte
    assert "timed out after 1 attempt (no complete reply within 0.6 s, what was left of the retry budget" in reason
    assert reason.endswith("not retried: the 0.6 s retry budget is spent (--retry-budget)")
    assert server.requests == 1 and notices == []


async def test_each_retry_is_announced_in_one_line(server):
    notices = []
    result = await call(server, as_json({"error": {"message": "busy"}}, 503), as_json({"error": {"message": "busy"}}, 503),
                        Canned(OK), notify=notices.append)
    assert result.text == "Hello!" and server.requests == 3
    assert [n.split("; retry ")[1].split(" in ")[0] for n in notices] == ["1 of 2", "2 of 2"]
    assert all(n.startswith(f"openai:tiny@{server.url}: server error HTTP 503: busy; retry ") for n in notices)


async def test_retry_notices_go_to_stderr_by_default(server, capsys):
    await call(server, as_json({"error": {"message": "busy"}}, 503), Canned(OK))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"openai:tiny@{server.url}: server error HTTP 503: busy; retry 1 of 2 in ")


async def test_a_retry_after_longer_than_the_budget_fails_at_once(server):
    notices = []
    started = time.perf_counter()
    reason = await failure(server, as_json({"error": {"message": "slow down"}}, 429, headers=(("retry-after", "86400"),)),
                           notices=notices)
    assert time.perf_counter() - started < 5 and server.requests == 1 and notices == []
    assert "rate limited (HTTP 429) after 1 attempt: slow down; not retried: the server asks to wait 86400 s " \
           "(Retry-After), more than the " in reason
    assert reason.endswith("s left of the 600 s retry budget (--retry-budget)")


async def test_a_retry_after_within_the_budget_is_still_honoured(server, monkeypatch):
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr("agents.openai_backend.asyncio.sleep", sleep)
    result = await call(server, as_json({"error": {}}, 429, headers=(("retry-after", "7"),)), Canned(OK),
                        notify=[].append)
    assert result.text == "Hello!" and waits == [7.0]


async def test_a_backoff_longer_than_the_budget_left_is_not_slept(server, monkeypatch):
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr("agents.openai_backend.asyncio.sleep", sleep)
    b = backend(server, notices=[], max_retries=3, limits=CallLimits(budget_s=1))
    b.delay = lambda attempt, headers=None: 5.0
    server.replies = [as_json({"error": {"message": "busy"}}, 503)]
    with pytest.raises(BackendError, match=r"server error HTTP 503 after 1 attempt: busy; not retried: "
                                           r"the 1 s retry budget is spent \(--retry-budget\)$"):
        await b.chat(REQUEST)
    await b.aclose()
    assert waits == [] and server.requests == 1


@pytest.mark.parametrize("timeout,budget", [(0, 10), (-1, 10), (math.nan, 10), (math.inf, 10), (10, 0), ("5", 10),
                                            (True, 10)])
def test_call_limits_must_be_positive_finite_seconds(timeout, budget):
    with pytest.raises(MmsError, match=r"^--(call-timeout|retry-budget) must be a positive number of seconds"):
        CallLimits(timeout, budget)
