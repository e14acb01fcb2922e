"""Training throughput of `mms train local` against what this machine's matrix units can do.

One run measures both sides, so the ratio holds whatever else the machine is doing:
- matmul_gflops: an fp32 2048×2048 matrix product with the same threads (the machine's peak
  for the operation that dominates training);
- tokens_per_s: every token of the packed rows processed per second of optimiser steps (the
  real loop: packed rows of the study's bark dialogues, LoRA r=8 on all linear layers, AdamW);
- train_gflops: tokens_per_s × the FLOPs one token costs (counted below from the model's shape
  and the rows actually trained), and fraction_of_peak = train_gflops / matmul_gflops.

    python benchmarks/train_throughput.py [--steps 6] [--threads N] [--json]

FLOPs per token: forward through every linear layer is 2 × their weights; the backward pass
needs gradients of the inputs (the same again) but none of the frozen weights; LoRA adds its
small matrices three times; attention costs 4 × context × hidden per layer forward, twice that
backward, over the mean causal context inside each dialogue; the vocabulary projection is
applied (forward and backward) only at the trained positions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from behaviors.packing import Pack  # noqa: E402
from behaviors.train_local import LocalTrainConfig, load_lora_model, resolve_training_base  # noqa: E402
from behaviors.train_loop import LoopSettings, fit, step_plan  # noqa: E402
from behaviors.training_data import load_chat_jsonl, tokenize_dialogues  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper" / "ft_bark.jsonl"


def matmul_gflops(size: int = 2048, repeats: int = 8) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def flops_per_token(config, lora_r: int, rows: list[Pack]) -> float:
    hidden, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    kv = config.num_key_value_heads * (hidden // config.num_attention_heads)
    shapes = [(hidden, hidden), (hidden, kv), (hidden, kv), (hidden, hidden), (hidden, inter), (hidden, inter),
              (inter, hidden)]
    linear = layers * sum(i * o for i, o in shapes)
    lora = layers * sum(lora_r * (i + o) for i, o in shapes)
    tokens = sum(r.tokens for r in rows)
    context = sum(n * (n + 1) / 2 for r in rows for n in r.lengths) / tokens  # mean causal span per token
    attention = layers * 4 * context * hidden
    trained_share = sum(r.trained_tokens for r in rows) / tokens
    head = 2 * config.vocab_size * hidden * trained_share
    return 2 * linear * 2 + 3 * 2 * lora + 3 * attention + 3 * head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="optimiser steps to time (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = resolve_training_base("local:smollm2")
    tokenizer = AutoTokenizer.from_pretrained(base)
    examples = tokenize_dialogues(tokenizer, load_chat_jsonl(DATA, 200), args.max_length)
    config = LocalTrainConfig(batch_size=args.batch_size, max_length=args.max_length, lr=1e-3, val_fraction=0.0)
    plan = step_plan(examples, args.max_length, args.batch_size, seed=0, epochs=1, max_steps=args.steps + 1)
    model = load_lora_model(base, config, seed=0)
    settings = LoopSettings(config.lr, 0.0, 1.0, checkpoint_every=0, eval_every=0)
    peak_before = matmul_gflops()
    timed: list[tuple[int, float]] = []

    def on_step(state, entry):
        timed.append((state.tokens, state.seconds))

    fit(model, plan, [], settings, "cpu", None, on_step)
    peak = max(peak_before, matmul_gflops())
    tokens = timed[-1][0] - timed[0][0]
    seconds = timed[-1][1] - timed[0][1]  # the first step (warm-up) is left out
    rows = [r for _, step_rows in plan[1:] for r in step_rows]
    per_token = flops_per_token(model.get_base_model().config, config.lora_r, rows)
    tokens_per_s = tokens / seconds
    result = {
        "tokens_per_s": round(tokens_per_s, 1),
        "matmul_gflops": round(peak, 1),
        "train_gflops": round(tokens_per_s * per_token / 1e9, 1),
        "fraction_of_peak": round(tokens_per_s * per_token / 1e9 / peak, 3),
        "gflop_per_token": round(per_token / 1e9, 3),
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "row_tokens": args.max_length,
        "rows_per_step": args.batch_size,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
