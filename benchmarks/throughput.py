"""Generation throughput of the embedded model: one game at a time vs concurrent games.

Three figures from one run, on the same prompts and token limits:
- sequential_tps: generated tokens per second when games are played one at a time;
- concurrent_tps: the same when N games (default 16) run concurrently through the engine
  (game graph, store, continuous batching);
- raw_batched_tps: a plain batched `model.generate` over N of the engine's own requests, the
  ceiling the engine is measured against.

    python benchmarks/throughput.py [--games 16] [--sequential-games 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.backend import ChatRequest  # noqa: E402
from agents.hf_backend import local_backend  # noqa: E402
from agents.registry import Registry  # noqa: E402
from game.rules import GameSettings  # noqa: E402
from game.runner import GameRunner, plan_games  # noqa: E402
from game.store import Store  # noqa: E402

SPEC = "local:smollm2"


class Recorder:
    """Keeps the requests the engine sends, to replay them through plain `generate`."""

    def __init__(self, inner):
        self.inner, self.spec, self.requests = inner, inner.spec, []

    async def chat(self, request: ChatRequest):
        self.requests.append(request)
        return await self.inner.chat(request)

    async def aclose(self):
        pass


def play(backend, store: Store, settings: GameSettings, games: int, concurrency: int, seed: int) -> tuple[int, float]:
    """Play games through the real engine; return (generated tokens, seconds)."""
    registry = Registry()
    registry.register(SPEC, backend)
    setups = plan_games(settings, SPEC, SPEC, games, seed)
    run_id = store.create_run("benchmark", settings.as_dict(), games)
    started = time.perf_counter()
    outcomes = asyncio.run(GameRunner(store, registry, concurrency).run(run_id, setups))
    elapsed = time.perf_counter() - started
    if "error" in outcomes.values():
        errors = [g["error"] for g in store.read.games(run_id) if g["error"]]
        raise SystemExit(f"benchmark games failed: {errors[:3]}")
    tokens = store.db.execute(
        "select sum(m.completion_tokens) from messages m join games g on g.id = m.game_id where g.run_id = ?",
        [run_id],
    ).fetchone()[0]
    return tokens, elapsed


def raw_generate(backend, requests: list[ChatRequest]) -> tuple[int, float]:
    """Plain batched `model.generate` over the given requests, counting tokens up to each EOS."""
    import torch

    tok, model = backend.tokenizer, backend.model
    prompts = [backend.prompt_ids(r) for r in requests]
    width = max(map(len, prompts))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    max_new = max(r.max_tokens for r in requests)
    eos = set(backend.batcher.eos_ids)
    torch.manual_seed(0)
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=True,
            temperature=requests[0].temperature, top_p=requests[0].top_p, top_k=0, pad_token_id=pad,
        )
    elapsed = time.perf_counter() - started
    tokens = 0
    for row in out[:, width:].tolist():
        for t in row:
            tokens += 1
            if t in eos:
                break
    return tokens, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=16, help="concurrent games (default 16)")
    parser.add_argument("--sequential-games", type=int, default=2, help="games played one at a time (default 2)")
    parser.add_argument("--messages-per-player", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64, help="token limit for both players (default 64)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default=None,
                        help="weights dtype (default: the engine's, MMS_DTYPE or float32)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.dtype:
        os.environ["MMS_DTYPE"] = args.dtype

    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    settings = GameSettings(
        codeword="ring", messages_per_player=args.messages_per_player,
        manipulator_max_tokens=args.max_tokens, user_max_tokens=args.max_tokens, guess_max_tokens=16,
    )
    backend = local_backend(SPEC, "smollm2")
    backend.load()
    dtype = str(backend.model.dtype).removeprefix("torch.")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        play(backend, store, settings, 1, 1, args.seed + 99)  # warm-up: neither figure pays for first calls
        log(f"sequential: {args.sequential_games} games one at a time ...")
        seq_tokens, seq_s = play(backend, store, settings, args.sequential_games, 1, args.seed)
        log(f"  {seq_tokens} tokens in {seq_s:.1f} s")
        log(f"concurrent: {args.games} games at once ...")
        recorder = Recorder(backend)
        before = backend.batcher.counters()
        conc_tokens, conc_s = play(recorder, store, settings, args.games, args.games, args.seed)
        after = backend.batcher.counters()
        work = {k: round(after[k] - before[k], 2) for k in after}
        log(f"  {conc_tokens} tokens in {conc_s:.1f} s; engine work: {work}; "
            f"mean batch {work['generated_tokens'] / max(work['steps'], 1):.1f}")
        # Each game's first manipulator request: same prompts and limits as the engine ran.
        seen, firsts = set(), []
        for r in recorder.requests:
            if r.conversation.endswith("/manipulator") and r.conversation not in seen:
                seen.add(r.conversation)
                firsts.append(r)
        log(f"raw batched generate over {len(firsts)} of those requests ...")
        raw_tokens, raw_s = raw_generate(backend, firsts[: args.games])
        log(f"  {raw_tokens} tokens in {raw_s:.1f} s")
    backend.batcher.close()

    sequential, concurrent, raw = seq_tokens / seq_s, conc_tokens / conc_s, raw_tokens / raw_s
    result = {
        "sequential_tps": round(sequential, 2),
        "concurrent_tps": round(concurrent, 2),
        "raw_batched_tps": round(raw, 2),
        "speedup": round(concurrent / sequential, 2),
        "engine_efficiency": round(concurrent / raw, 3),
        "concurrent_games": args.games,
        "dtype": dtype,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
