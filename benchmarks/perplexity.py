"""Quality check for cheaper numerics: perplexity of the embedded model on the study's dialogues.

Whole dialogues (chat template applied, up to 1,024 tokens) of the first N study bark
dialogues, scored token by token; the bar for adopting any cheaper numerics (issue 14) is a
perplexity within 2% of fp32's.

    python benchmarks/perplexity.py [--dialogues 50] [--quantize none|dynamic]
                                    [--activations full|reduced] [--keep-fp32 down_proj,lm_head] [--json]

`--quantize dynamic` is torch's int8 dynamic quantization of the linear layers (per-channel
symmetric weights, activations quantized on the fly, full 8-bit range unless `reduced`);
`--keep-fp32` leaves the named layers (by a substring of their names) in fp32. `MMS_DTYPE`
sets the weights' dtype as in the engine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.hf_backend import local_backend  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper" / "ft_bark.jsonl"


def quantized(model, activations: str, keep: list[str]):
    import torch
    from torch.ao.quantization import PlaceholderObserver, QConfig, quantize_dynamic
    from torch.ao.quantization.observer import PerChannelMinMaxObserver

    qconfig = QConfig(
        activation=PlaceholderObserver.with_args(dtype=torch.quint8, quant_min=0,
                                                 quant_max=127 if activations == "reduced" else 255, is_dynamic=True),
        weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
    layers = {name: qconfig for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear) and not any(k in name for k in keep)}
    return quantize_dynamic(model, layers, dtype=torch.qint8)


def perplexity(model, sequences: list[list[int]]) -> float:
    import torch

    nll, count = 0.0, 0
    with torch.inference_mode():
        for ids in sequences:
            x = torch.tensor([ids])
            logits = model(input_ids=x).logits[0, :-1].float()
            nll += torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum").item()
            count += len(ids) - 1
    return math.exp(nll / count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=50, help="first N study bark dialogues (default 50)")
    parser.add_argument("--quantize", choices=["none", "dynamic"], default="none")
    parser.add_argument("--activations", choices=["full", "reduced"], default="full",
                        help="activation range of dynamic quantization (reduced: 7 bits, fbgemm's default)")
    parser.add_argument("--keep-fp32", default="", help="comma-separated layer-name parts left in fp32")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not DATA.is_file():
        raise SystemExit(f"study dialogues not found: {DATA}")
    backend = local_backend("local:smollm2", "smollm2")
    backend.load()
    backend.batcher.close()
    model, tokenizer = backend.model, backend.tokenizer
    sequences = []
    with DATA.open(encoding="utf-8") as lines:
        for line, _ in zip(lines, range(args.dialogues)):
            ids = tokenizer.apply_chat_template(json.loads(line)["messages"], tokenize=True)
            sequences.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids)[:1024])
    keep = [k for k in args.keep_fp32.split(",") if k]
    if args.quantize == "dynamic":
        model = quantized(model, args.activations, keep)
    started = time.perf_counter()
    value = perplexity(model, sequences)
    result = {"perplexity": round(value, 3), "dialogues": len(sequences), "tokens": sum(map(len, sequences)),
              "quantize": args.quantize, "activations": args.activations if args.quantize != "none" else None,
              "keep_fp32": keep, "dtype": str(backend.model.dtype).removeprefix("torch."),
              "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result) if args.json else "\n".join(f"{k:>12}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
