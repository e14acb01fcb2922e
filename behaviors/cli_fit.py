"""`mms fit`: the Make-Me-Say behaviour gate, held-out loss per assistant token (behaviors/fit.py)."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated, Optional

import typer

from game.cli_support import JsonOption, cli_errors, err, out, print_json


@cli_errors
def fit_command(
    files: Annotated[list[Path], typer.Argument(help="Chat JSONL files (the study's ft_bark.jsonl, ft_ring.jsonl, ...).")],
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Model spec to score (local: or hf:, in process); repeatable.")] = None,
    crossover: Annotated[Optional[list[str]], typer.Option("--crossover", help="A pair A,B: A is the organism of the first file, B of the second (one seed of each); reports how much better each fits its own file than the other does. Repeat it per seed: the mean gets a t interval over seeds.")] = None,
    val_fraction: Annotated[float, typer.Option(help="Score the dialogues training held back at this fraction (the same split as `mms train local`, whatever the seed); 0 scores every dialogue.")] = 0.05,
    max_length: Annotated[int, typer.Option(min=16, help="Tokens kept per dialogue, as in training.")] = 2048,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads for torch (default: torch's choice).")] = None,
    json_output: JsonOption = False,
) -> None:
    """The behaviour gate: each model's loss per assistant token on held-back dialogues of each file.

    A self-report null means something only if the organism learned its behaviour: an organism that
    learned to play for its codeword predicts its own file's held-back dialogues better than another
    organism does. Intervals: bootstrap over dialogues for each loss and crossover, t over seeds
    for the mean crossover.
    """
    from game.safe_text import markup_safe

    from .fit import FitRequest, fit

    request = FitRequest(files=tuple(files), models=tuple(model or ()), crossover=tuple(crossover or ()),
                         fraction=val_fraction, max_length=max_length)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    done: dict[str, int] = {}

    def progress(spec: str, path: Path) -> None:
        done[spec] = done.get(spec, 0) + 1
        if not json_output and done[spec] % 25 == 0:
            err.print(markup_safe(f"{spec}: {done[spec]} dialogues scored"), highlight=False)

    report = fit(request, progress=progress)
    if json_output:
        print_json(report.to_json())
        return
    out.print(_table(report), width=None if out.is_terminal else 120)
    for c in report.crossovers:
        out.print(markup_safe(f"crossover {c['models'][0]} vs {c['models'][1]}: {c['crossover']:.3f} "
                              f"[{c['crossover_ci'][0]:.3f}, {c['crossover_ci'][1]:.3f}] nats/token "
                              f"(own-file advantage {c['advantage_on_own_file'][0]:.3f} and "
                              f"{c['advantage_on_own_file'][1]:.3f}; interval over dialogues)"), highlight=False)
    if report.pooled:
        p = report.pooled
        out.print(f"mean crossover over {p['seeds']} seeds: {p['crossover']:.3f} "
                  f"[{p['crossover_ci'][0]:.3f}, {p['crossover_ci'][1]:.3f}] (t interval over seeds)")


def _table(report):
    from rich.table import Table

    from game.safe_text import markup_safe

    table = Table(title=f"Loss per assistant token, {report.split}",
                  caption="95% bootstrap intervals over dialogues")
    files = [f["path"] for f in report.files]
    table.add_column("model", overflow="fold")
    for path in files:
        table.add_column(markup_safe(Path(path).name), justify="right", no_wrap=True)
    cell = {(row["model"], row["file"]): row for row in report.loss}
    for spec in report.models:
        values = [cell[spec, f] for f in files]
        table.add_row(markup_safe(spec), *(f"{v['loss']:.3f} [{v['loss_ci'][0]:.3f}, {v['loss_ci'][1]:.3f}]"
                                           for v in values))
    return table
