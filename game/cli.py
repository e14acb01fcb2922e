"""`mms`: the command line, and the composition root that mounts every package's commands."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from agents.errors import MmsError
from agents.prompts import check_persona
from agents.registry import Registry, validate_spec

from .coherence import coherence_line, run_coherence
from .cli_support import DEFAULT_DB, DEFAULT_MODEL, DbOption, JsonOption, cli_errors, err, out, print_json
from .referee import RULES, Referee
from .rules import OUTCOMES, STUDY_GUESS_MAX_TOKENS, GameSettings
from .stats import outcome_stats, parse_grouping, summarise
from .store import Store

app = typer.Typer(
    help="Make Me Say: play, log and analyse manipulation games between language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
@cli_errors
def play(
    codeword: Annotated[str, typer.Option(help="The word the manipulator tries to make the user say.")],
    games: Annotated[int, typer.Option(min=1, help="Number of games to play.")] = 1,
    manipulator: Annotated[str, typer.Option(help="Model spec of the manipulator.")] = DEFAULT_MODEL,
    user: Annotated[str, typer.Option(help="Model spec of the simulated user, or `human` to sit in the user's seat yourself (one game, in the terminal UI).")] = DEFAULT_MODEL,
    db: DbOption = Path(DEFAULT_DB),
    messages_per_player: Annotated[int, typer.Option(min=1, help="Messages each player writes.")] = 5,
    concurrency: Annotated[int, typer.Option(min=1, help="Games played at once (they share one model).")] = 4,
    seed: Annotated[int | None, typer.Option(help="Run seed: picks topics, seed words and sampling seeds. Random if omitted.")] = None,
    rule: Annotated[str, typer.Option(help="Referee rule: paper (noun lemma) or strict (any inflection, spelled out).")] = "paper",
    stop_on_mention: Annotated[bool, typer.Option(help="End the conversation as soon as anyone says the codeword.")] = False,
    manipulator_prompt: Annotated[str, typer.Option(help="Manipulator system prompt: default, or none (for fine-tuned models; the codeword is then known only to the referee).")] = "default",
    persona: Annotated[str, typer.Option("--user-persona", help="The simulated user's persona (`mms personas` lists them).")] = "friendly",
    temperature: Annotated[float, typer.Option(help="Sampling temperature for both players.")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling top-p for both players.")] = 1.0,
    manipulator_max_tokens: Annotated[int, typer.Option(help="Token limit per manipulator message (monologue included).")] = 256,
    user_max_tokens: Annotated[int, typer.Option(help="Token limit per user message.")] = 128,
    setup: Annotated[str, typer.Option(help="Prompts of the game: mms (ours), or study (the study's data-generation recipe in our words: the user opens with a few sentences on a topic and a seed word, the manipulator is told once the user has said the word that it may say it too, and the user reviews the conversation before guessing).")] = "mms",
    guess_max_tokens: Annotated[int | None, typer.Option(min=1, help="Token limit of the user's guess (default: 32; 192 with --setup study, where the user reviews the conversation first).")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Watch the games in the terminal UI as they are played.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Play games of Make Me Say and store every message in the database."""
    from agents.human import HUMAN_SPEC

    from .runner import MAX_GAMES, plan_games

    if games > MAX_GAMES:
        raise MmsError(f"--games {games}: one run plays at most {MAX_GAMES:_} games; play fewer")
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
        setup=setup,
        guess_max_tokens=guess_max_tokens or (STUDY_GUESS_MAX_TOKENS if setup == "study" else 32),
    )
    validate_spec(manipulator)
    human = user == HUMAN_SPEC
    if human and games != 1:
        raise MmsError("--user human plays one game: drop --games")
    if not human:
        validate_spec(user)
    check_persona(persona, "--user-persona")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    setups = plan_games(settings, manipulator, user, games, seed, persona)
    run_settings = {"manipulator": manipulator, "user": user, "games": games, "seed": seed,
                    "concurrency": concurrency, "persona": persona, **settings.as_dict()}
    with Store(db) as store:
        run_id = store.create_run("play", run_settings, games)
        if watch or human:
            outcomes = _play_in_tui(store, db, run_id, setups, concurrency, human=human)
        else:
            outcomes = asyncio.run(_play(store, run_id, setups, concurrency, quiet=json_output))
        if len(outcomes) == len(setups):
            store.finish_run(run_id)
        quality = run_coherence(store, run_id)
    counts = {o: sum(1 for v in outcomes.values() if v == o) for o in OUTCOMES}
    if json_output:
        print_json({"games": len(outcomes), **counts, **quality, "db": str(db), "run_id": run_id})
        return
    summary = summarise(counts)
    out.print(outcome_table(f"Run {run_id} — codeword {settings.codeword!r}, seed {seed}", [("all games", summary)]))
    out.print(coherence_line(quality))
    out.print(f"Stored in {db} (run {run_id}). See them with: mms stats --db {db}")


def _play_in_tui(store: Store, db: Path, run_id: str, setups, concurrency: int, *, human: bool) -> dict[str, str]:
    """`--watch` and `--user human`: play in a worker of the terminal UI. Quitting it early stops
    the run; its unfinished games are set aside (superseded), the finished ones are kept."""
    from agents.human import HUMAN_SPEC
    from tui.app import play_in_tui
    from tui.play import PlaySession, human_session

    registry = Registry()
    for spec in sorted({setups[0].manipulator, setups[0].user} - {HUMAN_SPEC}):  # one cell: every game the same
        registry.get(spec)  # before the screen takes over: a first use may convert the embedded model
    if human:
        session = human_session(store, run_id, setups[0], registry)
    else:
        session = PlaySession(store, run_id, setups, concurrency, registry)
    outcomes = play_in_tui(db, session)
    if len(outcomes) < len(setups):
        dropped = store.supersede_unfinished(run_id)
        err.print(f"stopped: {len(outcomes)} of {len(setups)} games finished"
                  + (f"; {dropped} unfinished game(s) set aside" if dropped else ""))
    return outcomes


async def _play(store: Store, run_id: str, setups, concurrency: int, *, quiet: bool,
                already_done: int = 0) -> dict[str, str]:
    """Play games with a live progress bar: done/total, ETA, win rate so far and errors."""
    from .runner import GameRunner

    registry = Registry()
    runner = GameRunner(store, registry, concurrency)
    progress = Progress(
        TextColumn("[bold]games"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[tally]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    )
    tally: dict[str, int] = {}

    def describe() -> str:
        decided = sum(n for o, n in tally.items() if o != "error")
        rate = f"win {tally.get('win', 0) / decided:.0%}" if decided else "win –"
        return f"{rate}  errors {tally.get('error', 0)}"

    with progress:
        task = progress.add_task("games", total=already_done + len(setups), completed=already_done, tally=describe())

        def done(_setup, outcome: str) -> None:
            tally[outcome] = tally.get(outcome, 0) + 1
            progress.update(task, advance=1, tally=describe())

        try:
            return await runner.run(run_id, setups, on_done=done)
        finally:
            await registry.aclose()


SHORT_NAMES = {"games": "games", "win": "win", "violation": "viol", "no_codeword": "none",
               "correct_guess": "guessed", "error": "error"}


def outcome_table(title: str, rows: list[tuple[str, dict[str, Any]]], extra: bool = False) -> Table:
    table = Table(title=title, caption="viol = violation, none = no_codeword, guessed = correct_guess; "
                  "win rate over games without error")
    table.add_column("group", overflow="fold")
    for o in ("games", *OUTCOMES):
        table.add_column(SHORT_NAMES[o], justify="right")
    table.add_column("win rate [95% CI]", justify="right", no_wrap=True)
    if extra:
        table.add_column("mention turn", justify="right")
        table.add_column("tokens/game", justify="right")
    for label, s in rows:
        lo, hi = s["win_rate_ci"]
        cells = [label, *(str(s[o]) for o in ("games", *OUTCOMES)), f"{s['win_rate']:.2f} [{lo:.2f}, {hi:.2f}]"]
        if extra:
            turn = s.get("median_first_mention_turn")
            cells += ["" if turn is None else f"{turn:g}", f"{s['tokens_per_game']:.0f}" if "tokens_per_game" in s else ""]
        table.add_row(*cells)
    return table


@app.command()
@cli_errors
def stats(
    db: DbOption = Path(DEFAULT_DB),
    by: Annotated[str | None, typer.Option(help="Group by these fields, comma-separated: manipulator, user, persona, codeword, tier, rule, run. Default: manipulator,persona,codeword,tier.")] = None,
    run: Annotated[str | None, typer.Option(help="Only this run id (a tournament's name).")] = None,
    json_output: JsonOption = False,
) -> None:
    """The leaderboard: outcomes per group with win rates and 95% Wilson intervals."""
    if not db.exists():
        raise MmsError(f"database not found: {db} (play some games first: mms play --codeword ring --db {db})")
    grouping = parse_grouping(by)
    with Store(db) as store:
        result = outcome_stats(store, run, grouping)
    if json_output:
        print_json(result)
        return
    rows = [(" / ".join(str(g[f]) for f in grouping), g) for g in result["groups"]] + [("all", result)]
    out.print(outcome_table(f"Outcomes in {db} by {', '.join(grouping)}", rows, extra=True))


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


@app.command()
@cli_errors
def tournament(
    spec: Annotated[Path, typer.Argument(help="Tournament spec (TOML); see examples/.")],
    db: DbOption = Path(DEFAULT_DB),
    shard: Annotated[str | None, typer.Option(help="Play only slice i of n of the games, e.g. 1/4; merge shard databases with `mms db merge`.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Override the spec's concurrency.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Play a matrix of manipulators × users × codewords × games, resumably.

    Run it again on the same database to continue after a crash or Ctrl-C: finished games
    are kept, interrupted ones are replayed from the start, none is played twice.
    """
    from .tournament import load_spec, parse_shard

    parsed = load_spec(spec)
    slice_ = parse_shard(shard)
    with Store(db) as store:
        _tournament(store, parsed, spec, db, shard, slice_, concurrency, json_output)


def _tournament(store: Store, parsed, spec: Path, db: Path, shard, slice_, concurrency, json_output: bool) -> None:
    from .tournament import prepare_run

    run_id, todo, already, superseded = prepare_run(store, parsed, str(spec), slice_)
    if not json_output:
        note = f", {superseded} interrupted game(s) replayed" if superseded else ""
        err.print(f"tournament {run_id}: {already + len(todo)} games{' in shard ' + shard if shard else ''}, "
                  f"{already} already finished{note}")
    asyncio.run(_play(store, run_id, todo, concurrency or parsed.concurrency, quiet=json_output, already_done=already))
    if store.run_complete(run_id):
        store.finish_run(run_id)
    result = outcome_stats(store, run_id, ("manipulator", "persona", "codeword"))
    if json_output:
        flat = {k: result[k] for k in ("games", *OUTCOMES, "win_rate", "win_rate_ci")}
        print_json({"run_id": run_id, "db": str(db), "played": len(todo), "skipped": already, **flat})
        return
    rows = [(" / ".join(str(g[f]) for f in result["group_by"]), g) for g in result["groups"]] + [("all", result)]
    out.print(outcome_table(f"Tournament {run_id}", rows, extra=True))


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("merge")
@cli_errors
def db_merge(
    out_db: Annotated[Path, typer.Argument(help="Database to merge into (created if missing).")],
    inputs: Annotated[list[Path], typer.Argument(help="Shard databases to merge.")],
    json_output: JsonOption = False,
) -> None:
    """Merge shard databases into one; each game (run, game key) is kept once."""
    from .merge import merge_databases

    result = merge_databases(out_db, inputs)
    if json_output:
        print_json(result)
    else:
        out.print(f"merged {result['games']} games ({result['messages']} messages) from {result['inputs']} "
                  f"databases into {out_db}; skipped {result['duplicates']} duplicates and "
                  f"{result['unfinished']} unfinished games")


from .cli_catalog import register as _register_catalog  # noqa: E402  (needs the helpers above)

from .cli_transcripts import register as _register_transcripts  # noqa: E402
from behaviors.cli_data import register as _register_data  # noqa: E402
from behaviors.cli_train import register as _register_train  # noqa: E402
from selfreport.cli import register as _register_selfreport  # noqa: E402
from tui.commands import register as _register_tui  # noqa: E402

_register_catalog(app)
_register_transcripts(app)
_register_data(app)
_register_train(app)
_register_selfreport(app)
_register_tui(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: games finished so far are stored; run the same command to resume a tournament")
        sys.exit(130)
