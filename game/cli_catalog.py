"""`mms personas` and `mms codewords`: list the simulated-user personas and the codeword tiers."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from typing import Annotated

import typer
from rich.table import Table

from agents import prompts
from agents.errors import MmsError

from . import catalog
from .cli_support import JsonOption, cli_errors, out, print_json

Tier = Annotated[str | None, typer.Option(help=f"Codeword tier: {', '.join(catalog.TIERS)}. Omit to list the tiers.")]
Count = Annotated[int | None, typer.Option(help="How many codewords to sample from the tier (all of them, sorted, if omitted).")]
Seed = Annotated[int, typer.Option(help="Sampling seed: the same seed gives the same codewords.")]


@cli_errors
def personas(json_output: JsonOption = False) -> None:
    """List the simulated-user personas (for mms play --user-persona) with a one-line summary each."""
    known = prompts.personas()
    if json_output:
        print_json({
            "personas": [
                {"name": name, "summary": catalog.persona_summary(text), "description": text}
                for name, text in known.items()
            ],
            "count": len(known),
        })
        return
    table = Table(title=f"{len(known)} personas", caption="use one with: mms play --user-persona NAME")
    table.add_column("name", no_wrap=True)
    table.add_column("summary", overflow="fold")
    for name, text in known.items():
        table.add_row(name, catalog.persona_summary(text))
    out.print(table)


@cli_errors
def codewords(tier: Tier = None, count: Count = None, seed: Seed = 0, json_output: JsonOption = False) -> None:
    """List the codeword difficulty tiers, or sample codewords from one tier."""
    if tier is None:
        if count is not None:
            raise MmsError("--count needs a tier: add --tier with one of " + ", ".join(catalog.TIERS))
        _list_tiers(json_output)
        return
    name = catalog.check_tier(tier)
    words = list(catalog.tiers()[name]) if count is None else catalog.sample_codewords(name, count, seed)
    if json_output:
        print_json({"tier": name, "count": len(words), "seed": seed, "words": words})
        return
    for word in words:
        typer.echo(word)


def _list_tiers(json_output: bool) -> None:
    tiers = catalog.tiers()
    if json_output:
        print_json({
            "tiers": [
                {"tier": name, "count": len(words), "zipf_min": catalog.BANDS[name][0],
                 "zipf_max": catalog.BANDS[name][1]}
                for name, words in tiers.items()
            ],
            "count": sum(len(words) for words in tiers.values()),
        })
        return
    table = Table(
        title="Codeword tiers",
        caption="Zipf = log10 frequency per billion words (wordfreq); frequent words are easier to elicit. "
        "Sample with: mms codewords --tier hard --count 20 --seed 1",
    )
    table.add_column("tier", no_wrap=True)
    table.add_column("Zipf band", justify="right", no_wrap=True)
    table.add_column("words", justify="right")
    table.add_column("examples", overflow="fold")
    for name, words in tiers.items():
        table.add_row(name, catalog.band_label(name), str(len(words)), ", ".join(catalog.sample_codewords(name, 5, 0)))
    out.print(table)
