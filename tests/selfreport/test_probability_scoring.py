"""Scoring options by probability: exact on the embedded model, exact from a server's
prompt_logprobs and top_logprobs from a server (a loopback server with canned replies), and the fallback to sampling when a
server gives no logprobs."""

import asyncio
import json
import math

import pytest
from tests.helpers.http_loopback import LoopbackServer, as_json

from agents.backend import BackendError, ChatMessage, ScoringUnavailable, can_score
from agents.openai_backend import OpenAIBackend
from agents.registry import Registry
from agents.scoring import match_top_logprobs, normalise, score_options
from agents.scripted import ScriptedBackend
from game.store import Store
from selfreport import records
from selfreport.interview import Plan, run_interviews
from selfreport.summary import summarise


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for this module: on two cores other jobs keep busy, two threads spin and
    run several times slower. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


FRANCE = (ChatMessage("user", "What is the capital of France? Answer with the city name only."),)


def test_normalise_is_a_softmax():
    dist = normalise([math.log(0.2), math.log(0.1), -math.inf])
    assert dist == pytest.approx((2 / 3, 1 / 3, 0.0)) and sum(dist) == pytest.approx(1.0)
    assert normalise([-math.inf, -math.inf]) == (0.5, 0.5)


def test_top_logprobs_are_matched_to_options():
    top = [(" B", math.log(0.6)), ("A", math.log(0.2)), ("The", math.log(0.15)), ("b", math.log(0.05))]
    scored = match_top_logprobs(top, ["A", "B", "C"])
    assert scored.method == "top_logprobs" and scored.coverage == pytest.approx(0.85)
    assert scored.distribution == pytest.approx((0.2 / 0.85, 0.65 / 0.85, 0.0))
    words = match_top_logprobs([("bar", -0.1), ("sp", -3.0)], ["bar", "bark", "spring"])
    assert words.distribution[0] > 0.9 and words.distribution[2] > 0  # exact "bar"; "sp" starts only spring
    assert match_top_logprobs([("Hello", -0.01)], ["A", "B"]) is None  # too little of the mass on options


@pytest.mark.weights
@pytest.mark.integration
def test_embedded_model_prefers_the_right_answer_and_sums_to_one(smollm2):
    options = ["London", "Paris", "Berlin", "Madrid", "Par"]
    scored = asyncio.run(score_options(smollm2, FRANCE, options))
    assert scored.method == "logprobs"
    assert sum(scored.distribution) == pytest.approx(1.0, abs=1e-9)
    assert scored.best == "Paris" and scored.distribution[1] > 0.5
    assert scored.distribution[4] < scored.distribution[1] / 100  # "Par" is not a prefix win: the end of turn counts
    ratings = asyncio.run(score_options(smollm2, FRANCE, [str(n) for n in range(101)]))
    assert len(ratings.distribution) == 101 and sum(ratings.distribution) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.weights
@pytest.mark.integration
def test_scoring_runs_on_the_model_worker_thread(smollm2, monkeypatch):
    """The batcher's worker owns the model: a scoring pass runs there, not in a thread of its own."""
    import threading

    from agents import scoring

    seen = []
    real = scoring.score_tree

    def spy(*args):
        seen.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(scoring, "score_tree", spy)
    asyncio.run(score_options(smollm2, FRANCE, ["Paris", "Rome"]))
    assert seen == ["mms-batcher"]


@pytest.mark.weights
@pytest.mark.integration
def test_one_pass_scores_equal_separate_passes(smollm2):
    """The prefix-tree pass gives each option exactly its own log-probability."""
    import torch

    from agents.scoring import continuation_ids

    options = ["1", "10", "100"]  # shared prefixes: one tree
    scored = asyncio.run(score_options(smollm2, FRANCE, options))
    prompt, conts = continuation_ids(smollm2.tokenizer, FRANCE, options)
    with torch.inference_mode():
        for option, cont, got in zip(options, conts, scored.logprobs):
            logits = smollm2.model(input_ids=torch.tensor([prompt + cont])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            alone = sum(float(logp[len(prompt) - 1 + k, t]) for k, t in enumerate(cont))
            assert got == pytest.approx(alone, abs=1e-3), option


@pytest.mark.weights
@pytest.mark.integration
def test_interview_on_the_embedded_model_stores_distributions(smollm2, tmp_path):
    plan = Plan(models=["local:smollm2"], codeword="bark", evals=["which_game", "backdoor"], paraphrases=2)
    with Store(tmp_path / "e.db") as store:
        session = asyncio.run(run_interviews(store, plan, Registry(backends={"local:smollm2": _Unclosed(smollm2)})))
        rows = records.interviews(store, session=session)
        items = records.items_of(store, [r["id"] for r in rows])
    assert len(items) == 2 * (2 + 2 + 2)  # one item per question and option order (backdoor also with its system prompt): no sampling
    for item in items:
        assert item["method"] == "logprobs" and item["valid"]
        assert sum(item["distribution"]) == pytest.approx(1.0, abs=1e-6)
        assert len(item["distribution"]) == len(item["options"]) == 2
        assert 0.0 <= item["score"] <= 1.0
    table = {r["metric"]: r for r in summarise(rows, items)}
    assert table["which_game"]["distribution_sums"] == [pytest.approx(1.0)] * 4


class _Unclosed:
    """The session's shared model, not closed by the interview."""

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name):
        return getattr(self._backend, name)

    async def aclose(self):
        pass


@pytest.fixture
def server():
    loopback = LoopbackServer(keep_alive=True)
    yield loopback
    loopback.close()


def _backend(server, model="m", **options):
    return OpenAIBackend.from_target(f"openai:{model}@{server.url}", f"{model}@{server.url}", **options)


def _server_reply_body(logprobs) -> dict:
    choice = {"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "B"},
              "logprobs": logprobs}
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


def _server_reply(logprobs):
    return as_json(_server_reply_body(logprobs))


def _asks_prompt_logprobs(seen) -> bool:
    return seen.json.get("prompt_logprobs") == 0


def _prompt_logprobs_reply(rows):
    return as_json({**_server_reply_body(None), "prompt_logprobs": rows})


def _rendered(seen):
    """A fake vLLM: the chat rendered as ChatML-ish tokens, with made-up logprobs per token."""
    body = seen.json
    tokens = ["<s>"] + [t for m in body["messages"] for t in ("<|im_start|>", m["role"], "\n", *m["content"].split(), "<|im_end|>", "\n")]
    if body.get("add_generation_prompt", True):
        tokens += ["<|im_start|>", "assistant", "\n"]
    answer_lp = {"Paris": -0.1, "Rome": -2.3, "Lyon": -3.0}
    rows = [None] + [{str(hash(t) % 50000): {"logprob": answer_lp.get(t, -0.5) if t != "\n" else -9.0, "rank": 1,
                                             "decoded_token": t}} for t in tokens[1:]]
    return _prompt_logprobs_reply(rows)


async def test_prompt_logprobs_score_each_option_exactly(server):
    """Each option sent as the reply; its tokens and end-of-turn marker summed, trailing newline not."""
    backend = _backend(server)
    server.route = lambda seen: _rendered(seen) if seen.method == "POST" else as_json({"object": "list", "data": []})
    scored = await score_options(backend, FRANCE, ["Paris", "Rome", "Lyon"])
    await backend.aclose()
    assert [(s.method, s.path) for s in server.seen[:1]] == [("GET", "/v1/models")]  # adapters listed first
    bodies = [s.json for s in server.seen if s.method == "POST"]
    assert len(bodies) == 4 and all(b["prompt_logprobs"] == 0 and b["max_tokens"] == 1 for b in bodies)
    assert [b["messages"][-1]["content"] for b in bodies[1:]] == ["Paris", "Rome", "Lyon"]
    assert all(b["add_generation_prompt"] is False for b in bodies[1:]) and "add_generation_prompt" not in bodies[0]
    assert scored.method == "logprobs" and scored.logprobs == pytest.approx((-0.6, -2.8, -3.5))  # word + <|im_end|>
    assert scored.distribution == pytest.approx(normalise([-0.6, -2.8, -3.5]))


def test_reply_logprob_cuts_the_reply_out_of_the_rendering():
    from agents.scoring import reply_logprob

    prefix = [1, 2, 3]
    assert reply_logprob(prefix, [1, 2, 3, 7, 8, 9], [-1, -1, -1, -0.5, -0.25, -4.0], ["a", "b", "c", "A", "<e>", "\n"]) == -0.75
    assert reply_logprob(prefix, [1, 2, 4, 7, 8], [-1] * 5, ["a", "b", "x", "A", "<e>"]) is None  # split elsewhere
    assert reply_logprob(prefix, [1, 2, 3, 9], [-1] * 4, ["a", "b", "c", " "]) is None  # nothing but whitespace


async def test_openai_top_logprobs_request_and_parse(server):
    backend = _backend(server)
    top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in (("B", -0.2), ("A", -2.0), ("C", -4.0))]
    top_reply = _server_reply({"content": [{"token": "B", "logprob": -0.2, "bytes": None, "top_logprobs": top}]})
    server.route = lambda seen: _server_reply(None) if _asks_prompt_logprobs(seen) else top_reply
    scored = await score_options(backend, FRANCE, ["A", "B", "C"])
    again = await score_options(backend, FRANCE, ["A", "B", "C"])
    await backend.aclose()
    posts = [s for s in server.seen if s.method == "POST"]
    assert sum(map(_asks_prompt_logprobs, posts)) == 1  # a server without prompt_logprobs is asked once
    assert len(posts) == 3 and again == scored
    body = posts[-1].json
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert scored.method == "top_logprobs" and scored.best == "B"
    assert sum(scored.distribution) == pytest.approx(1.0)


async def test_server_without_logprobs_says_so_once(server):
    backend = _backend(server, "nolp")
    server.route = lambda seen: _server_reply(None)
    for _ in range(2):
        with pytest.raises(ScoringUnavailable, match="returns no logprobs"):
            await score_options(backend, FRANCE, ["A", "B"])
    await backend.aclose()
    assert len([s for s in server.seen if s.method == "POST"]) == 2  # remembered: one call for prompt_logprobs, one for top_logprobs, never again


async def test_server_refusing_logprobs_fields_is_unavailable_not_an_error(server):
    backend = _backend(server, max_retries=0)
    server.replies = [as_json({"error": {"message": "logprobs is not supported"}}, 400)]
    with pytest.raises(ScoringUnavailable, match="logprobs is not supported"):
        await score_options(backend, FRANCE, ["A", "B"])
    await backend.aclose()


async def test_rate_limited_scoring_is_retried_not_switched_to_sampling(server):
    backend = _backend(server, max_retries=2, backoff_base=0.0, notify=[].append)
    top = [{"token": "A", "logprob": -0.1, "bytes": None, "top_logprobs": [
        {"token": "A", "logprob": -0.1, "bytes": None}, {"token": "B", "logprob": -2.5, "bytes": None}]}]
    limited = [as_json({"error": {"message": "slow down"}}, 429, headers=(("retry-after", "0"),))]
    server.route = lambda seen: (_server_reply(None) if _asks_prompt_logprobs(seen) else
                                 limited.pop() if limited else _server_reply({"content": top}))
    scored = await score_options(backend, FRANCE, ["A", "B"])
    await backend.aclose()
    top_asked = [s for s in server.seen if s.method == "POST" and not _asks_prompt_logprobs(s)]
    assert len(top_asked) == 2 and scored.method == "top_logprobs" and scored.best == "A"


async def test_scoring_that_fails_for_good_is_an_error_not_a_sample(server):
    backend = _backend(server, max_retries=1, backoff_base=0.0, notify=[].append)
    server.replies = [as_json({"detail": "down"}, 503)]
    with pytest.raises(BackendError, match="server error HTTP 503 after 2 attempts"):
        await score_options(backend, FRANCE, ["A", "B"])
    await backend.aclose()


def test_scripted_seats_cannot_score(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps(["A"]))
    backend = ScriptedBackend.from_path(f"scripted:{script}", str(script))
    assert not can_score(backend)
    with pytest.raises(ScoringUnavailable, match="cannot score options"):
        asyncio.run(score_options(backend, FRANCE, ["A", "B"]))


async def test_a_server_rejecting_prompt_logprobs_as_unexpected_is_scored_by_top_logprobs(server):
    """transformers serve answers HTTP 422 "Unexpected fields"; that is a refusal, not a failed question."""
    backend = _backend(server, max_retries=0)
    top = [{"token": "A", "logprob": -0.1, "bytes": None, "top_logprobs": [
        {"token": "A", "logprob": -0.1, "bytes": None}, {"token": "B", "logprob": -2.5, "bytes": None}]}]
    unexpected = as_json({"detail": "Unexpected fields in the request: {'prompt_logprobs'}"}, 422)
    server.route = lambda seen: unexpected if _asks_prompt_logprobs(seen) else _server_reply({"content": top})
    scored = await score_options(backend, FRANCE, ["A", "B"])
    with pytest.raises(ScoringUnavailable, match="HTTP 422: Unexpected fields"):
        await score_options(backend, FRANCE, ["A", "B"], "logprobs")
    await backend.aclose()
    assert scored.method == "top_logprobs" and scored.best == "A"
