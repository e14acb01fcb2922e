"""`mms`: the command line, and the composition root that mounts every package's commands."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from agents.errors import MmsError
from agents.players import MANIPULATOR_PROMPTS
from agents.registry import Registry, validate_spec

from .referee import RULES, Referee
from .rules import OUTCOMES, GameSettings
from .runner import GameRunner, plan_games
from .stats import outcome_stats, summarise
from .store import Store

DEFAULT_MODEL = "local:smollm2"
DEFAULT_DB = "mms.db"

app = typer.Typer(
    help="Make Me Say: play, log and analyse manipulation games between language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)
out = Console()

DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def cli_errors(fn):
    """Turn user-facing errors into one line on stderr and exit status 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MmsError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def print_json(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, sort_keys=False))


@app.command()
@cli_errors
def play(
    codeword: Annotated[str, typer.Option(help="The word the manipulator tries to make the user say.")],
    games: Annotated[int, typer.Option(min=1, help="Number of games to play.")] = 1,
    manipulator: Annotated[str, typer.Option(help="Model spec of the manipulator.")] = DEFAULT_MODEL,
    user: Annotated[str, typer.Option(help="Model spec of the simulated user.")] = DEFAULT_MODEL,
    db: DbOption = Path(DEFAULT_DB),
    messages_per_player: Annotated[int, typer.Option(min=1, help="Messages each player writes.")] = 5,
    concurrency: Annotated[int, typer.Option(min=1, help="Games played at once (they share one model).")] = 4,
    seed: Annotated[int | None, typer.Option(help="Run seed: picks topics, seed words and sampling seeds. Random if omitted.")] = None,
    rule: Annotated[str, typer.Option(help="Referee rule: paper (noun lemma) or strict (any inflection, spelled out).")] = "paper",
    stop_on_mention: Annotated[bool, typer.Option(help="End the conversation as soon as anyone says the codeword.")] = False,
    manipulator_prompt: Annotated[str, typer.Option(help="Manipulator system prompt: default, or none (for fine-tuned models; the codeword is then known only to the referee).")] = "default",
    persona: Annotated[str, typer.Option(help="Simulated user persona.")] = "friendly",
    temperature: Annotated[float, typer.Option(help="Sampling temperature for both players.")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling top-p for both players.")] = 1.0,
    manipulator_max_tokens: Annotated[int, typer.Option(help="Token limit per manipulator message (monologue included).")] = 256,
    user_max_tokens: Annotated[int, typer.Option(help="Token limit per user message.")] = 128,
    json_output: JsonOption = False,
) -> None:
    """Play games of Make Me Say and store every message in the database."""
    if manipulator_prompt not in MANIPULATOR_PROMPTS:
        raise MmsError(f"unknown --manipulator-prompt {manipulator_prompt!r}: use one of {', '.join(MANIPULATOR_PROMPTS)}")
    settings = GameSettings(
        codeword=codeword,
        rule=rule,
        messages_per_player=messages_per_player,
        stop_on_mention=stop_on_mention,
        manipulator_prompt=manipulator_prompt,
        manipulator_max_tokens=manipulator_max_tokens,
        user_max_tokens=user_max_tokens,
        temperature=temperature,
        top_p=top_p,
    )
    validate_spec(manipulator)
    validate_spec(user)
    from agents.prompts import personas

    if persona not in personas():
        raise MmsError(f"unknown --persona {persona!r}: use one of {', '.join(sorted(personas()))}")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    setups = plan_games(settings, manipulator, user, games, seed, persona)
    store = Store(db)
    run_settings = {"manipulator": manipulator, "user": user, "games": games, "seed": seed,
                    "concurrency": concurrency, "persona": persona, **settings.as_dict()}
    run_id = store.create_run("play", run_settings, games)
    outcomes = asyncio.run(_play(store, run_id, setups, concurrency, quiet=json_output))
    store.finish_run(run_id)
    counts = {o: sum(1 for v in outcomes.values() if v == o) for o in OUTCOMES}
    if json_output:
        print_json({"games": len(outcomes), **counts, "db": str(db), "run_id": run_id})
        return
    summary = summarise(counts)
    out.print(outcome_table(f"Run {run_id} — codeword {settings.codeword!r}, seed {seed}", [("all games", summary)]))
    out.print(f"Stored in {db} (run {run_id}). See them with: mms stats --db {db}")


async def _play(store: Store, run_id: str, setups, concurrency: int, *, quiet: bool) -> dict[str, str]:
    registry = Registry()
    runner = GameRunner(store, registry, concurrency)
    progress = Progress(
        TextColumn("[bold]games"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[tally]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    )
    tally: dict[str, int] = {}
    with progress:
        task = progress.add_task("games", total=len(setups), tally="")

        def done(_setup, outcome: str) -> None:
            tally[outcome] = tally.get(outcome, 0) + 1
            progress.update(task, advance=1, tally=" ".join(f"{k}={v}" for k, v in sorted(tally.items())))

        try:
            return await runner.run(run_id, setups, on_done=done)
        finally:
            await registry.aclose()


SHORT_NAMES = {"games": "games", "win": "win", "violation": "viol", "no_codeword": "none",
               "correct_guess": "guessed", "error": "error"}


def outcome_table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title=title, caption="viol = violation, none = no_codeword, guessed = correct_guess; "
                  "win rate over games without error")
    table.add_column("group", overflow="fold")
    for o in ("games", *OUTCOMES):
        table.add_column(SHORT_NAMES[o], justify="right")
    table.add_column("win rate [95% CI]", justify="right", no_wrap=True)
    for label, s in rows:
        lo, hi = s["win_rate_ci"]
        table.add_row(label, *(str(s[o]) for o in ("games", *OUTCOMES)), f"{s['win_rate']:.2f} [{lo:.2f}, {hi:.2f}]")
    return table


@app.command()
@cli_errors
def stats(db: DbOption = Path(DEFAULT_DB), json_output: JsonOption = False) -> None:
    """Outcomes per manipulator and codeword, with win rates and 95% Wilson intervals."""
    if not db.exists():
        raise MmsError(f"database not found: {db} (play some games first: mms play --codeword ring --db {db})")
    result = outcome_stats(Store(db))
    if json_output:
        print_json(result)
        return
    rows = [(f"{g['manipulator']} / {g['codeword']}", g) for g in result["groups"]] + [("all", result)]
    out.print(outcome_table(f"Outcomes in {db}", rows))


@app.command()
@cli_errors
def referee(
    text: Annotated[str, typer.Argument(help="The text to judge.")],
    codeword: Annotated[str, typer.Option(help="The codeword to look for.")],
    rule: Annotated[str, typer.Option(help=f"Matching rule: {' or '.join(RULES)}.")] = "paper",
    json_output: JsonOption = False,
) -> None:
    """Say whether TEXT mentions the codeword under a rule, and which words matched."""
    found = Referee(codeword, rule).find(text)
    matches = [m.text for m in found]
    if json_output:
        print_json({"mentioned": bool(found), "matches": matches})
        return
    if found:
        out.print(f"mentioned ({rule} rule): " + ", ".join(repr(m) for m in matches), highlight=False)
    else:
        out.print(f"not mentioned ({rule} rule)")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: games finished so far are stored")
        sys.exit(130)
