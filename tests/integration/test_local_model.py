"""The embedded SmolLM2 through the batching engine and through whole games."""

import asyncio
import json
import sqlite3
import threading

import pytest
from typer.testing import CliRunner

from agents.backend import ChatMessage, ChatRequest
from agents.batching import GenerationJob
from game.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.weights]


def request(text, *, seed=0, temperature=0.0, max_tokens=16):
    return ChatRequest((ChatMessage("user", text),), max_tokens=max_tokens, temperature=temperature, seed=seed)


def _job(smollm2, text: str, max_new_tokens: int, **hooks) -> GenerationJob:
    return GenerationJob(smollm2.prompt_ids(request(text)), max_new_tokens=max_new_tokens, temperature=0.0, **hooks)


def _run(smollm2, *jobs: GenerationJob, submit_first: int | None = None) -> None:
    """Run jobs on the batcher and wait for all; with `submit_first`, only that many are submitted
    here (the rest are submitted by the jobs' own hooks)."""
    done = threading.Semaphore(0)
    for job in jobs:
        job.on_done = lambda job, error: done.release()
    for job in jobs[:submit_first]:
        smollm2.batcher.submit(job)
    for _ in jobs:
        assert done.acquire(timeout=300)


def test_a_request_joins_a_running_batch_mid_flight_and_decodes_as_if_alone(smollm2):
    """Deterministic: the second request is submitted from the first one's third token, so it is
    admitted into the running batch (left-padded, merged into the cache) while the first decodes."""
    smollm2.load()
    texts = ("Tell me a long story about a dog who finds a ball.", "Name three fruits.")
    alone = [_job(smollm2, t, n) for t, n in zip(texts, (32, 12))]
    for job in alone:
        _run(smollm2, job)
    late = _job(smollm2, texts[1], 12)
    early = _job(smollm2, texts[0], 32,
                 on_token=lambda job: smollm2.batcher.submit(late) if len(job.tokens) == 3 else None)
    _run(smollm2, early, late, submit_first=1)
    assert len(early.tokens) > 4  # it was still decoding when the other joined
    assert early.admitted_at_step < late.admitted_at_step < early.finished_at_step
    assert (early.tokens, late.tokens) == (alone[0].tokens, alone[1].tokens)


def test_evicted_prefixes_change_nothing_but_the_work(smollm2):
    """With a prefix budget too small to keep a conversation, its next turn prefills everything
    and decodes exactly what a cached (or a fresh) turn decodes."""
    from agents.prefix_cache import PrefixCache

    smollm2.load()
    history = [ChatMessage("system", "You love gardens."), ChatMessage("user", "Tell me about roses.")]

    async def second_turn(conversation: str) -> tuple[str, int]:
        first = await smollm2.chat(ChatRequest(tuple(history), max_tokens=12, temperature=0.0, conversation=conversation))
        for k in range(3):  # other conversations fill the budget
            await smollm2.chat(ChatRequest((ChatMessage("user", f"Count to {k + 3}."),), max_tokens=12,
                                           temperature=0.0, conversation=f"{conversation}-other-{k}"))
        follow = (*history, ChatMessage("assistant", first.text), ChatMessage("user", "And tulips?"))
        before = smollm2.batcher.reused_tokens
        reply = await smollm2.chat(ChatRequest(follow, max_tokens=12, temperature=0.0, conversation=conversation))
        return reply.text, smollm2.batcher.reused_tokens - before

    kept = smollm2.batcher.prefixes
    try:
        smollm2.batcher.prefixes = PrefixCache(max_tokens=80)
        evicted, evicted_reuse = asyncio.run(second_turn("evicted"))
        smollm2.batcher.prefixes = PrefixCache(max_tokens=100_000)
        cached, cached_reuse = asyncio.run(second_turn("cached"))
    finally:
        smollm2.batcher.prefixes = kept
    assert evicted_reuse == 0 and cached_reuse > 20
    assert evicted == cached


def test_token_limit_and_usage(smollm2):
    result = asyncio.run(smollm2.chat(request("Write a long story about a dragon.", max_tokens=5)))
    assert result.usage.completion_tokens == 5 and result.finish_reason == "length"
    assert result.usage.prompt_tokens > 5 and result.latency_s > 0


def test_same_seed_same_sample(smollm2):
    async def twice():
        a = await smollm2.chat(request("Tell me a fun fact.", seed=42, temperature=1.0, max_tokens=12))
        b = await smollm2.chat(request("Tell me a fun fact.", seed=42, temperature=1.0, max_tokens=12))
        c = await smollm2.chat(request("Tell me a fun fact.", seed=43, temperature=1.0, max_tokens=12))
        return a.text, b.text, c.text

    a, b, c = asyncio.run(twice())
    assert a == b and a != c


def test_mms_play_on_the_embedded_model(tmp_path):
    db = tmp_path / "real.db"
    result = CliRunner().invoke(app, [
        "play", "--codeword", "ring", "--games", "2", "--concurrency", "2", "--messages-per-player", "2",
        "--manipulator-max-tokens", "48", "--user-max-tokens", "32", "--seed", "3", "--db", str(db), "--json",
    ])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["games"] == 2 and summary["error"] == 0
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from messages where phase = 'conversation'").fetchone()[0] == 8
    assert conn.execute("select count(*) from messages where completion_tokens > 0").fetchone()[0] >= 8


def test_a_prefix_shared_by_16_requests_is_prefilled_once_and_decodes_the_same(smollm2):
    """16 requests that share a long system prompt: it is computed once, not 16 times, and every
    greedy reply equals the reply of a run with no cache at all."""
    from agents.prefix_cache import PrefixCache

    system = ChatMessage("system", "You are a patient guide to the birds of northern Europe. " * 6)
    requests = [ChatRequest((system, ChatMessage("user", f"Tell me about bird number {k}.")), max_tokens=10,
                            temperature=0.0) for k in range(16)]
    shared = len(smollm2.prompt_ids(requests[0])) - 12

    async def all_at_once():
        return await asyncio.gather(*(smollm2.chat(r) for r in requests))

    kept = smollm2.batcher.prefixes
    try:
        smollm2.batcher.prefixes = PrefixCache(max_tokens=100_000)
        before = smollm2.batcher.counters()
        cached = [r.text for r in asyncio.run(all_at_once())]
        after = smollm2.batcher.counters()
        smollm2.batcher.prefixes = PrefixCache(max_tokens=0)  # nothing kept: every prompt prefilled whole
        uncached = [r.text for r in asyncio.run(all_at_once())]
        plain = smollm2.batcher.counters()
    finally:
        smollm2.batcher.prefixes = kept
    prefilled = after["prefilled_tokens"] - before["prefilled_tokens"]
    prompts = sum(len(smollm2.prompt_ids(r)) for r in requests)
    assert after["prefix_hits"] - before.get("prefix_hits", 0) >= 15
    assert prefilled <= prompts - 15 * shared  # the shared part once, not 16 times
    assert plain["prefilled_tokens"] - after["prefilled_tokens"] == prompts
    assert cached == uncached


def test_next_turn_reuses_the_cached_prefix_and_decodes_the_same(smollm2):
    """A conversation's second request prefills only its new tokens, with the same result."""
    history = [ChatMessage("system", "You love gardens."), ChatMessage("user", "Tell me about roses.")]

    async def turns():
        first = await smollm2.chat(ChatRequest(tuple(history), max_tokens=12, temperature=0.0, conversation="reuse"))
        follow = (*history, ChatMessage("assistant", first.text), ChatMessage("user", "And tulips?"))
        before = smollm2.batcher.reused_tokens
        cached = await smollm2.chat(ChatRequest(follow, max_tokens=12, temperature=0.0, conversation="reuse"))
        reused = smollm2.batcher.reused_tokens - before
        fresh = await smollm2.chat(ChatRequest(follow, max_tokens=12, temperature=0.0))
        return reused, cached.text, fresh.text

    reused, cached, fresh = asyncio.run(turns())
    assert reused > 20
    assert cached == fresh
