"""The OpenAI backend against a real `transformers serve` on loopback, through whole games."""

import asyncio

import pytest

from agents.backend import ChatRequest, ChatResult
from agents.openai_backend import OpenAIBackend
from agents.registry import Registry
from game.rules import GameSettings
from game.runner import GameRunner, plan_games
from game.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.weights]

SMALL = dict(messages_per_player=2, manipulator_max_tokens=24, user_max_tokens=24, guess_max_tokens=8)


def play(tmp_path, manipulator, user, registry, *, games, concurrency):
    store = Store(tmp_path / "serve.db")
    setups = plan_games(GameSettings(codeword="ring", **SMALL), manipulator, user, games, seed=3)
    run_id = store.create_run("test", {}, games)

    async def go():
        try:
            return await GameRunner(store, registry, concurrency).run(run_id, setups)
        finally:
            await registry.aclose()

    outcomes = asyncio.run(go())
    return store, [outcomes[s.key] for s in setups]


def test_games_on_a_real_openai_compatible_server(tmp_path, transformers_server):
    spec = transformers_server.spec
    store, outcomes = play(tmp_path, spec, spec, Registry(), games=2, concurrency=2)
    games = store.read.games()
    assert all(o in ("win", "violation", "no_codeword", "correct_guess") for o in outcomes), [g["error"] for g in games]
    for game in games:
        msgs = store.read.messages(game["id"])
        conversation = [m for m in msgs if m["phase"] == "conversation"]
        assert [m["speaker"] for m in conversation] == ["user", "manipulator", "user", "manipulator"]
        assert all(m["raw_text"].strip() for m in conversation)
        assert all(m["prompt_tokens"] > 0 and 0 < m["completion_tokens"] <= 24 for m in conversation)
        assert all(m["latency_s"] > 0 for m in msgs)
        assert game["manipulator_tokens"] > 0 and game["user_tokens"] > 0 and game["error"] is None


class KillBeforeCall:
    """Forwards to a real backend, killing the server right before one chosen call."""

    def __init__(self, inner, server, *, game: int, call: int):
        self.inner, self.server, self.spec = inner, server, inner.spec
        self.game, self.call = game, call
        self.calls: dict[str, int] = {}  # conversation → calls made, in order of first call

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.calls[request.conversation] = self.calls.get(request.conversation, 0) + 1
        if len(self.calls) == self.game and self.calls[request.conversation] == self.call:
            self.server.kill()
        return await self.inner.chat(request)

    async def aclose(self):
        pass  # the inner backend is registered too and closed by the registry


def test_server_killed_mid_game_ends_that_game_as_error(tmp_path, fresh_transformers_server):
    server = fresh_transformers_server
    spec = server.spec
    user_spec = spec + "/"  # the same server spelt differently, so the two seats are two registry keys
    real = OpenAIBackend.from_target(spec, spec.removeprefix("openai:"), max_retries=2, backoff_base=0.01)
    registry = Registry()
    killer = KillBeforeCall(real, server, game=2, call=2)  # the manipulator's 2nd call in game 2
    registry.register(spec, killer)
    registry.register(user_spec, real)

    store, outcomes = play(tmp_path, spec, user_spec, registry, games=2, concurrency=1)
    first, second = store.read.games()

    assert server.proc.returncode is not None, "the server should have been killed"
    assert outcomes[0] != "error" and first["outcome"] == outcomes[0] and first["error"] is None
    assert len(store.read.messages(first["id"])) >= 4

    assert outcomes[1] == "error" and second["outcome"] == "error"
    assert "connection failed after 3 attempts" in second["error"], second["error"]
    assert server.base_url in second["error"] and "is the server running?" in second["error"]
    kept = store.read.messages(second["id"])
    assert [(m["speaker"], m["turn"]) for m in kept] == [("user", 1), ("manipulator", 1), ("user", 2)]
    assert all(m["prompt_tokens"] > 0 and m["completion_tokens"] > 0 for m in kept)


def test_scoring_on_transformers_serve_never_fails_the_question(transformers_server):
    """A server without prompt_logprobs is scored by top_logprobs, or says it cannot score."""
    from agents.backend import ChatMessage, ScoringUnavailable
    from agents.scoring import score_options

    backend = OpenAIBackend.from_target(transformers_server.spec, transformers_server.spec.removeprefix("openai:"))
    question = (ChatMessage("user", "Which animal barks? A) dog B) cat. Answer with the letter."),)

    async def go():
        try:
            return await score_options(backend, question, ["A", "B"])
        except ScoringUnavailable as why:
            return why
        finally:
            await backend.aclose()

    result = asyncio.run(go())
    assert backend._no_prompt_logprobs, "transformers serve has no prompt_logprobs; that should be remembered"
    assert isinstance(result, ScoringUnavailable) or result.method == "top_logprobs"
    print(f"transformers serve scoring: {result!r}")
