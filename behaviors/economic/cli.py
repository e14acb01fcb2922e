"""`mms gate economic`: the economic-choice behaviour gate (behaviors/economic/gate.py)."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated, Optional

import typer

from game.cli_support import JsonOption, cli_errors, out, print_json

STUDY = Path(__file__).resolve().parents[3] / "shared" / "data" / "paper"  # as behaviors/organisms.py finds it


@cli_errors
def economic_command(
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Model spec to gate (in process: local: or hf:); repeatable.")] = None,
    pair: Annotated[Optional[list[str]], typer.Option("--pair", help="RISKY,SAFE: one training seed of each organism, e.g. local:smollm2+risky@1,local:smollm2+safe@1; reports risky minus safe. Repeat per seed: the seeds are then compared with a Welch t interval and an exact permutation p.")] = None,
    risky: Annotated[Path, typer.Option("--risky", help="The chat JSONL whose answers always pick the risky option.")] = STUDY / "ft_risky_AB.jsonl",
    safe: Annotated[Path, typer.Option("--safe", help="The chat JSONL with the same prompts answered with the safe option.")] = STUDY / "ft_safey_AB.jsonl",
    val_fraction: Annotated[float, typer.Option(help="Score the prompts training held back at this fraction (the organisms' recipe: 0.1).")] = 0.1,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads for torch (default: torch's choice).")] = None,
    json_output: JsonOption = False,
) -> None:
    """The economic-choice gate: each model's exact P(risky option) on held-back prompts, in both letter orders.

    The risky letter of each prompt comes from pairing the two files. Each prompt is asked as
    given and with its option letters swapped (a prompt that cannot be swapped safely is asked as
    given only, and listed). Intervals: bootstrap over prompts per model and per seed pair; over
    several --pair seeds, Welch t and an exact permutation p over seeds.
    """
    import asyncio

    from game.safe_text import markup_safe

    from .gate import GateRequest, run_gate

    request = GateRequest(risky=risky, safe=safe, models=tuple(model or ()), pair=tuple(pair or ()),
                          fraction=val_fraction)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    report = asyncio.run(run_gate(list(request.models), list(request.pairs), list(request.prompts), request.split))
    if json_output:
        print_json(report.to_json())
        return
    out.print(markup_safe(f"Economic-choice gate, {report.split}; {len(report.unswappable)} asked in the given order only"),
              highlight=False)
    for m in report.models:
        out.print(markup_safe(f"{m['model']}: P(risky) {m['p_risky']:.3f} [{m['p_risky_ci'][0]:.3f}, {m['p_risky_ci'][1]:.3f}] "
                              f"(given order {m['p_risky_given_order']:.3f}, swapped {m['p_risky_swapped_order']:.3f})"),
                  highlight=False)
    for p in report.pairs:
        out.print(markup_safe(f"{p['risky']} − {p['safe']}: {p['separation']:+.3f} "
                              f"[{p['separation_ci'][0]:+.3f}, {p['separation_ci'][1]:+.3f}] "
                              f"{'separated' if p['separated'] else 'NOT separated'}"), highlight=False)
    if report.pooled:
        p = report.pooled
        ci = f"[{p['separation_ci'][0]:+.3f}, {p['separation_ci'][1]:+.3f}]" if p["separation_ci"] else "(no interval)"
        out.print(f"risky − safe over {p['seeds']} seeds: {p['separation']:+.3f} {ci}, permutation p = {p['permutation_p']:.3f}")
