"""Time of one bare decoding step of the embedded model, by batch size and context.

The ceiling for `throughput.py`'s speedup: with no prefill and no scheduling, and every row
full, N rows give at most `N × step(1) / step(N)` times one row's tokens per second. The step
is the engine's own (its growing KV cache, the model's SDPA attention), on random prompt ids.

    python benchmarks/decode_step.py [--rows 1 16] [--context 300 540] [--steps 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.hf_backend import local_backend  # noqa: E402
from agents.kv_cache import growing_cache  # noqa: E402


def step_ms(model, rows: int, context: int, steps: int) -> float:
    import torch

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(100, 20000, (rows, context), generator=gen)
    cache = growing_cache(model.config)
    mask = torch.ones(rows, context, dtype=torch.long)
    out = model(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True, logits_to_keep=1)
    token = out.logits[:, -1].argmax(-1)[:, None]
    position = torch.full((rows, 1), context)
    timings = []
    for i in range(steps + 2):  # the first two steps warm up
        mask = torch.cat([mask, torch.ones(rows, 1, dtype=torch.long)], 1)
        started = time.perf_counter()
        out = model(input_ids=token, attention_mask=mask, position_ids=position, cache=cache, use_cache=True)
        token = out.logits[:, -1].argmax(-1)[:, None]
        if i >= 2:
            timings.append(time.perf_counter() - started)
        position = position + 1
    return 1e3 * sorted(timings)[len(timings) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16], help="batch sizes (default 1 16)")
    parser.add_argument("--context", type=int, nargs="+", default=[300, 540], help="context lengths (default 300 540)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per case; the median is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    import torch

    backend = local_backend("local:smollm2", "smollm2")
    backend.load()
    backend.batcher.close()
    results = []
    with torch.inference_mode():
        for context in args.context:
            for rows in args.rows:
                ms = step_ms(backend.model, rows, context, args.steps)
                results.append({"rows": rows, "context": context, "step_ms": round(ms, 1),
                                "tokens_per_s": round(1e3 * rows / ms, 1)})
                if not args.json:
                    print(f"rows {rows:>3}  context {context:>5}  step {ms:7.1f} ms  {1e3 * rows / ms:6.1f} tok/s", flush=True)
    ceilings = {}
    for context in args.context:
        one = next((r for r in results if r["context"] == context and r["rows"] == 1), None)
        for r in results:
            if one and r["context"] == context and r["rows"] > 1:
                ceilings[f"{r['rows']}@{context}"] = round(r["tokens_per_s"] / one["tokens_per_s"], 2)
    if args.json:
        print(json.dumps({"threads": torch.get_num_threads(), "steps": results, "speedup_ceiling": ceilings}))
    else:
        for key, value in ceilings.items():
            print(f"speedup ceiling, {key.replace('@', ' rows at context ')}: {value}")


if __name__ == "__main__":
    main()
