"""vLLM (PyPI's CPU build, in its own `.venv-vllm`) on loopback: games through it, a shipped
organism served as a LoRA adapter and played by its served name, and the same questions scored
in-process and through vLLM.

What is compared with what, and the tolerances:
- exact in-process (whole reply and end of turn, tests/selfreport) against vLLM's exact
  scores from `prompt_logprobs` on a server without LoRA: the same quantity from the same
  float32 weights, so to 1e-3 per option (measured: 2e-5 apart);
- vLLM's first-token `top_logprobs` against the first-token probabilities in-process, base
  model and bark adapter: to 0.01 per option (measured: 0.003), which also shows vLLM applies
  the adapter as peft does. Exact and first-token scores are different quantities and are
  not compared: on the few-shot letter question below they differ by 0.15 for the base model.
"""

import asyncio
import json
import math
import sqlite3

import pytest
import torch
from typer.testing import CliRunner

from agents.backend import ChatMessage as M
from agents.backend import ScoringUnavailable
from agents.hf_backend import local_backend
from agents.openai_backend import OpenAIBackend
from agents.scoring import continuation_ids, score_options
from game.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.weights]
runner = CliRunner()

LETTERS = (M("user", "Pick a fruit: A) apple B) stone. Reply with the letter only."), M("assistant", "A"),
           M("user", "Pick a tool: A) cloud B) hammer. Reply with the letter only."), M("assistant", "B"),
           M("user", "Pick a pet: A) cat B) dog C) cow. Reply with the letter only."))
OPTIONS = ["A", "B", "C"]
EXACT_TOLERANCE = 1e-3
FIRST_TOKEN_TOLERANCE = 0.01


def _play(tmp_path, manipulator: str, user: str, *extra: str) -> tuple[dict, list[dict]]:
    db = tmp_path / "vllm.db"
    result = runner.invoke(app, ["play", "--codeword", "bark", "--manipulator", manipulator, "--user", user,
                                 "--games", "2", "--concurrency", "2", "--messages-per-player", "2",
                                 "--manipulator-max-tokens", "24", "--user-max-tokens", "24", "--seed", "1",
                                 "--db", str(db), "--json", *extra])
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    return json.loads(result.stdout), [dict(r) for r in con.execute("SELECT * FROM messages ORDER BY id")]


def test_games_through_vllm(tmp_path, vllm_servers):
    lora, _ = vllm_servers
    spec = lora.spec_for("smollm2")
    summary, messages = _play(tmp_path, spec, spec)
    assert summary["games"] == 2 and summary["error"] == 0, summary
    talk = [m for m in messages if m["phase"] == "conversation"]
    assert len(talk) == 8 and all(m["raw_text"].strip() for m in talk)
    assert all(m["prompt_tokens"] > 0 and 0 < m["completion_tokens"] <= 24 for m in talk)


def test_an_organism_served_as_a_lora_adapter_plays_by_its_served_name(tmp_path, vllm_servers):
    lora, _ = vllm_servers
    summary, messages = _play(tmp_path, lora.spec_for("bark"), lora.spec_for("smollm2"), "--manipulator-prompt", "none")
    assert summary["games"] == 2 and summary["error"] == 0, summary
    games = sqlite3.connect(tmp_path / "vllm.db").execute("SELECT manipulator FROM games").fetchall()
    assert {g for (g,) in games} == {lora.spec_for("bark")}
    spoken = [m for m in messages if m["phase"] == "conversation" and m["speaker"] == "manipulator"]
    assert len(spoken) == 4 and all(m["raw_text"].strip() for m in spoken)


def _first_token_distribution(backend, messages, options) -> list[float]:
    prompt, replies = continuation_ids(backend.tokenizer, messages, options)
    with torch.no_grad():
        logits = backend.model(torch.tensor([prompt])).logits[0, -1].float().log_softmax(-1)
    mass = [math.exp(logits[r[0]].item()) for r in replies]
    return [m / sum(mass) for m in mass]


@pytest.mark.parametrize("organism", [None, "bark"])
def test_vllm_top_logprobs_match_the_first_token_in_process(vllm_servers, organism):
    lora, _ = vllm_servers
    target = "smollm2" + (f"+{organism}" if organism else "")
    local = local_backend(f"local:{target}", target)
    local.load()
    try:
        in_process = _first_token_distribution(local, LETTERS, OPTIONS)
    finally:
        local.batcher.close()
    served = organism or "smollm2"
    remote = OpenAIBackend.from_target(lora.spec_for(served), lora.spec_for(served).removeprefix("openai:"))

    async def go():
        try:
            return await score_options(remote, LETTERS, OPTIONS, "top_logprobs")
        finally:
            await remote.aclose()

    scored = asyncio.run(go())
    assert scored.method == "top_logprobs"
    for option, a, b in zip(OPTIONS, in_process, scored.distribution):
        assert abs(a - b) <= FIRST_TOKEN_TOLERANCE, f"{target} {option}: in-process {a:.4f}, vLLM {b:.4f}"
    if organism:  # the adapter is applied: the organism's first token is not the base model's
        local = local_backend("local:smollm2", "smollm2")
        local.load()
        try:
            base = _first_token_distribution(local, LETTERS, OPTIONS)
        finally:
            local.batcher.close()
        assert max(abs(a - b) for a, b in zip(base, scored.distribution)) > 0.05


def test_vllm_scores_exactly_what_the_in_process_model_scores(smollm2, vllm_servers):
    _, plain = vllm_servers
    remote = OpenAIBackend.from_target(plain.spec_for("smollm2"), plain.spec_for("smollm2").removeprefix("openai:"))
    question = (M("user", "Which animal barks? A) dog B) cat. Answer with the letter."),)

    async def go():
        try:
            return [await score_options(remote, m, o) for m, o in ((LETTERS, OPTIONS), (question, ["A", "B"]))]
        finally:
            await remote.aclose()

    served = asyncio.run(go())
    for (messages, options), scored in zip(((LETTERS, OPTIONS), (question, ["A", "B"])), served):
        exact = asyncio.run(score_options(smollm2, messages, options))
        assert scored.method == exact.method == "logprobs"
        for option, a, b in zip(options, exact.distribution, scored.distribution):
            assert abs(a - b) <= EXACT_TOLERANCE, f"{option}: in-process {a:.5f}, vLLM {b:.5f}"


def test_exact_scoring_is_not_asked_of_a_server_with_lora_adapters(vllm_servers):
    """vLLM kills its engine on prompt_logprobs with LoRA enabled; mms asks for top_logprobs there."""
    lora, _ = vllm_servers
    remote = OpenAIBackend.from_target(lora.spec_for("bark"), lora.spec_for("bark").removeprefix("openai:"))

    async def go():
        try:
            with pytest.raises(ScoringUnavailable, match="serves LoRA adapters"):
                await score_options(remote, LETTERS, OPTIONS, "logprobs")
            return await score_options(remote, LETTERS, OPTIONS)
        finally:
            await remote.aclose()

    assert asyncio.run(go()).method == "top_logprobs"
    assert lora.proc.poll() is None, "the server should still be running"
