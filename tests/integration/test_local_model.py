"""The embedded SmolLM2 through the batching engine and through whole games."""

import asyncio
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from agents.backend import ChatMessage, ChatRequest
from game.cli import app

pytestmark = pytest.mark.integration


def request(text, *, seed=0, temperature=0.0, max_tokens=16):
    return ChatRequest((ChatMessage("user", text),), max_tokens=max_tokens, temperature=temperature, seed=seed)


def test_batched_generation_equals_generation_alone(smollm2):
    """Rows admitted mid-flight, left-padded and merged into the cache, decode as if alone."""
    prompts = ["Name three fruits.", "What is the capital of France? Answer in one sentence, please.", "Say hi."]

    async def alone():
        return [(await smollm2.chat(request(p))).text for p in prompts]

    async def together():
        first = asyncio.create_task(smollm2.chat(request(prompts[0])))
        await asyncio.sleep(0)  # let the first request start before the others queue
        rest = [asyncio.create_task(smollm2.chat(request(p))) for p in prompts[1:]]
        return [r.text for r in await asyncio.gather(first, *rest)]

    solo = asyncio.run(alone())
    batched = asyncio.run(together())
    assert batched == solo
    assert all(solo)


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
