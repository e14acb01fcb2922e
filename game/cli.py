"""`mms`: the command line, and the composition root that mounts every package's commands."""

from __future__ import annotations

import asyncio
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich import box
from rich.table import Table

from agents.backend import CallLimits
from agents.errors import MmsError
from agents.prompts import check_persona
from agents.registry import Registry, validate_spec

from .coherence import coherence_line, run_coherence
from .cli_support import (
    DEFAULT_DB,
    DEFAULT_MODEL,
    CallTimeoutOption,
    DbOption,
    JsonOption,
    MaxRequestsOption,
    RetryBudgetOption,
    call_limits,
    cli_errors,
    err,
    out,
    print_json,
)
from .queries import Games
from .referee import RULES, Referee
from .rules import OUTCOMES, STUDY_GUESS_MAX_TOKENS, GameSettings
from .safe_text import markup_safe, strip_controls
from .stats import outcome_stats, parse_grouping, summarise
from .store import Store

app = typer.Typer(
    help="Make Me Say: play, log and analyse manipulation games between language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Click's plain help, not Rich's panels: those cut option names to fit 80 or 100 columns
    # (`--messages-per-…`), click's puts a long name on its own line and wraps only the help text.
    rich_markup_mode=None,
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
    call_timeout: CallTimeoutOption = None,
    retry_budget: RetryBudgetOption = None,
    max_requests: MaxRequestsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Play games of Make Me Say and store every message in the database.

    Exit status: 0 when at least one game was decided (games that ended in error are listed, with
    their reasons, as a warning), 1 when every game ended in error (the reasons are printed), 2 for
    bad input.
    """
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
    limits = call_limits(call_timeout, retry_budget, max_requests=max_requests)
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    setups = plan_games(settings, manipulator, user, games, seed, persona)
    run_settings = {"manipulator": manipulator, "user": user, "games": games, "seed": seed,
                    "concurrency": concurrency, "persona": persona, "call_timeout": limits.timeout_s,
                    "retry_budget": limits.budget_s, "max_requests": limits.requests_per_server(), **settings.as_dict()}
    with Store(db) as store:
        run_id = store.create_run("play", run_settings, games)
        if watch or human:
            outcomes = _play_in_tui(store, db, run_id, setups, concurrency, limits, human=human)
        else:
            outcomes = asyncio.run(_play(store, run_id, setups, concurrency, limits, quiet=json_output))
        if len(outcomes) == len(setups):
            store.finish_run(run_id)
        quality = run_coherence(store, run_id)
        failures = run_failures(store, run_id)
    counts = {o: sum(1 for v in outcomes.values() if v == o) for o in OUTCOMES}
    if json_output:
        print_json({"games": len(outcomes), **counts, **quality, "db": str(db), "run_id": run_id})
    else:
        summary = summarise(counts)
        out.print(outcome_table(f"Run {run_id} — codeword {settings.codeword!r}, seed {seed}", [("all games", summary)]))
        out.print(coherence_line(quality))
        out.print(f"Stored in {markup_safe(str(db))} (run {run_id}). See them with: mms stats --db {markup_safe(str(db))}")
    report_failures(failures)


def _play_in_tui(store: Store, db: Path, run_id: str, setups, concurrency: int, limits: CallLimits, *,
                 human: bool) -> dict[str, str]:
    """`--watch` and `--user human`: play in a worker of the terminal UI. Quitting it early stops
    the run; its unfinished games are set aside (superseded), the finished ones are kept."""
    from agents.human import HUMAN_SPEC
    from tui.app import play_in_tui
    from tui.play import PlaySession, human_session

    registry = Registry(limits)
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


async def _play(store: Store, run_id: str, setups, concurrency: int, limits: CallLimits, *, quiet: bool,
                already_done: int = 0) -> dict[str, str]:
    """Play games with a live progress bar: done/total, ETA, win rate so far and errors."""
    from .runner import GameRunner

    registry = Registry(limits)
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


SHOWN_REASONS = 5


@dataclass(frozen=True)
class Failures:
    """The games of a run that ended in error, and why: each distinct reason with its count."""

    errors: int
    finished: int
    reasons: list[tuple[str, int]]
    db: Path
    run_id: str

    @property
    def none_decided(self) -> bool:
        return self.errors > 0 and self.errors == self.finished


def run_failures(store: Store, run_id: str) -> Failures:
    totals = store.read.outcome_totals(Games(run=run_id))
    # A conversation id in a reason (a script that ran out in game-7) would make every game's reason
    # distinct. Reasons quote servers' replies: shown without their control characters.
    reasons: Counter[str] = Counter()
    for error, n in store.read.error_reasons(Games(run=run_id)):
        reasons[strip_controls(re.sub(r"\bgame-\d+\b", "game-N", error or "no reason stored"))] += n
    return Failures(totals.get("error", 0), sum(totals.values()), reasons.most_common(), store.path, run_id)


def report_failures(failures: Failures) -> None:
    """Say on stderr why games ended in error; exit 1 when no game of the run was decided.

    Games in error are stored and the run goes on (DESIGN §3), so some errors among decided games
    are a warning and the exit status stays 0; a run in which every game failed measured nothing.
    """
    f = failures
    if not f.errors:
        return
    if f.none_decided:
        head = strip_controls(f"error: no game could be played: all {f.errors} game(s) of run {f.run_id} ended in error")
    else:
        head = strip_controls(f"warning: {f.errors} of {f.finished} games of run {f.run_id} ended in error (not counted in the win rate)")
    err.print(head + ":", markup=False, highlight=False, soft_wrap=True)
    for reason, n in f.reasons[:SHOWN_REASONS]:
        err.print(f"  {n} × {reason}", markup=False, highlight=False, soft_wrap=True)
    if len(f.reasons) > SHOWN_REASONS:
        err.print(strip_controls(f"  and {len(f.reasons) - SHOWN_REASONS} other reason(s): "
                                 f"mms transcripts --db {f.db} --run {f.run_id} --outcome error"),
                  markup=False, highlight=False, soft_wrap=True)
    if f.none_decided:
        raise typer.Exit(1)


SHORT_NAMES = {"games": "games", "win": "win", "violation": "viol", "no_codeword": "none",
               "correct_guess": "guess", "error": "error"}


def outcome_table(title: str, rows: list[tuple[str, dict[str, Any]]], extra: bool = False) -> Table:
    """Outcomes per group, narrow enough for 80 columns: one space between columns and no rules
    but the header's, short headers explained in the caption, numbers never cut; only the group
    label wraps (or folds) in the width that is left. Titles and labels (paths, specs, tournament
    labels, personas) are shown as written."""
    notes = ["viol = violation, none = no_codeword, guess = correct_guess",
             "win rate over games without error"]
    if extra:
        notes.append("turn = median turn of the first mention, tokens = mean tokens per game")
    if any(s["win_rate"] is None for _, s in rows):
        notes.append("n/a = no decided games")
    table = Table(title=markup_safe(title), caption="; ".join(notes), box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    table.add_column("group", overflow="fold", ratio=1)
    for o in ("games", *OUTCOMES):
        table.add_column(SHORT_NAMES[o], justify="right", no_wrap=True)
    table.add_column("win rate [95% CI]", justify="right", no_wrap=True)
    if extra:
        table.add_column("turn", justify="right", no_wrap=True)
        table.add_column("tokens", justify="right", no_wrap=True)
    for label, s in rows:
        cells = [markup_safe(label), *(str(s[o]) for o in ("games", *OUTCOMES)), win_rate_cell(s)]
        if extra:
            turn = s.get("median_first_mention_turn")
            cells += ["" if turn is None else f"{turn:g}", f"{s['tokens_per_game']:.0f}" if "tokens_per_game" in s else ""]
        table.add_row(*cells)
    return table


def win_rate_cell(s: dict[str, Any]) -> str:
    """The win rate with its interval, or n/a where no game was decided (no rate, not 0 in [0, 1])."""
    if s["win_rate"] is None:
        return "n/a"
    lo, hi = s["win_rate_ci"]
    return f"{s['win_rate']:.2f} [{lo:.2f}, {hi:.2f}]"


@app.command()
@cli_errors
def stats(
    db: Annotated[Path, typer.Option("--db", help="SQLite database to read (opened read-only, never created).")] = Path(DEFAULT_DB),
    by: Annotated[str | None, typer.Option(help="Group by these fields, comma-separated: manipulator, user, persona, codeword, tier, rule, run. Default: manipulator,persona,codeword,tier.")] = None,
    run: Annotated[str | None, typer.Option(help="Only this run id (a tournament's name).")] = None,
    rejudge: Annotated[bool, typer.Option("--rejudge", help="Judge every stored guess again with the current guess check (a guess counts when it names the codeword in any words: 'a ring'); stored outcomes are not changed, and the count of changed games is printed ('rejudged' in --json).")] = False,
    json_output: JsonOption = False,
) -> None:
    """The leaderboard: outcomes per group with win rates and 95% Wilson intervals."""
    if not db.exists():
        raise MmsError(f"database not found: {db} (play some games first: mms play --codeword ring --db {db})")
    grouping = parse_grouping(by)
    with Store.reader(db) as store:
        if run is not None and store.read.run(run) is None:
            raise MmsError(f"no run {run!r} in {db} ({_known_runs(store)})")
        result = outcome_stats(store, run, grouping, rejudge_guesses=rejudge)
        if run is not None:  # whether the run is done: a merge of its shards finishes it
            record = store.read.run(run)
            result |= {"run_status": record["status"], "games_planned": record["games_planned"]}
    if json_output:
        print_json(result)
        return
    if rejudge:
        out.print(f"{result['rejudged']} stored guesses judged again changed outcome (the database is unchanged)")
    rows = [(" / ".join(str(g[f]) for f in grouping), g) for g in result["groups"]] + [("all", result)]
    out.print(outcome_table(f"Outcomes in {db} by {', '.join(grouping)}", rows, extra=True))
    if run is not None:
        out.print(f"Run {markup_safe(run)}: {result['run_status']}, {result['games_planned']} games planned")


def _known_runs(store: Store) -> str:
    recent = store.read.recent_run_ids(5)
    if not recent:
        return "it has no runs yet"
    return f"its latest runs: {', '.join(recent)}; all of them: mms stats --db {store.path} --by run"


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
        out.print(f"mentioned ({rule} rule): " + markup_safe(", ".join(repr(m) for m in matches)), highlight=False)
    else:
        out.print(f"not mentioned ({rule} rule)")


@app.command()
@cli_errors
def tournament(
    spec: Annotated[Path, typer.Argument(help="Tournament spec (TOML); see examples/.")],
    db: DbOption = Path(DEFAULT_DB),
    shard: Annotated[str | None, typer.Option(help="Play only slice i of n of the games, e.g. 1/4; merge shard databases with `mms db merge`.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Override the spec's concurrency.")] = None,
    call_timeout: CallTimeoutOption = None,
    retry_budget: RetryBudgetOption = None,
    max_requests: MaxRequestsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Play a matrix of manipulators × users × codewords × games, resumably.

    Run it again on the same database to continue after a crash, Ctrl-C or an outage: decided
    games are kept, interrupted ones and those that ended in error are replayed from the start
    (the old attempts are kept aside, counted nowhere), none is counted twice.

    Exit status: 0 when at least one game of the run was decided (games in error are listed as a
    warning), 1 when every game ended in error (the reasons are printed), 2 for bad input.
    """
    from .tournament import load_spec, parse_shard

    parsed = load_spec(spec)
    slice_ = parse_shard(shard)
    limits = call_limits(call_timeout, retry_budget, parsed.call_limits(), max_requests)
    with Store(db) as store, store.lock_run(parsed.name):
        _tournament(store, parsed, spec, db, shard, slice_, concurrency, limits, json_output)


def _tournament(store: Store, parsed, spec: Path, db: Path, shard, slice_, concurrency, limits: CallLimits,
                json_output: bool) -> None:
    from .tournament import prepare_run

    run_id, todo, already, replayed = prepare_run(store, parsed, str(spec), slice_)
    if not json_output:
        err.print(f"tournament {run_id}: {already + len(todo)} games{' in shard ' + shard if shard else ''}, "
                  f"{already} already finished{replayed.describe()}")
    asyncio.run(_play(store, run_id, todo, concurrency or parsed.concurrency, limits, quiet=json_output,
                      already_done=already))
    if store.run_complete(run_id):
        store.finish_run(run_id)
    result = outcome_stats(store, run_id, ("manipulator", "persona", "codeword"))
    failures = run_failures(store, run_id)
    if json_output:
        flat = {k: result[k] for k in ("games", *OUTCOMES, "win_rate", "win_rate_ci")}
        print_json({"run_id": run_id, "db": str(db), "played": len(todo), "skipped": already,
                    "replayed_errors": replayed.errors, **flat})
    else:
        rows = [(" / ".join(str(g[f]) for f in result["group_by"]), g) for g in result["groups"]] + [("all", result)]
        out.print(outcome_table(f"Tournament {run_id}", rows, extra=True))
    report_failures(failures)


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
                  f"databases into {markup_safe(str(out_db))}; skipped {result['duplicates']} duplicates and "
                  f"{result['unfinished']} unfinished games"
                  + (f"; {result['finished_runs']} run(s) now have every planned game and are finished"
                     if result["finished_runs"] else ""))


@db_app.command("migrate")
@cli_errors
def db_migrate(
    db: Annotated[Path, typer.Option("--db", help="SQLite database file to upgrade (never created).")] = Path(DEFAULT_DB),
    json_output: JsonOption = False,
) -> None:
    """Bring a database made by an older make-me-say up to this version's schema (every table set).

    Commands that write do this on their own; read-only ones (stats, transcripts, show, report) never change a file, and ask for this first when the file is older.
    """
    from behaviors import migrations as behaviors_migrations
    from selfreport import migrations as selfreport_migrations

    from .migrations import set_name, versions

    if not db.is_file():
        raise MmsError(f"database not found: {db}")
    with Store(db) as store:
        tables = ["_migrations"]
        for subsystem in (selfreport_migrations, behaviors_migrations):
            subsystem.ensure_schema(store)
            tables.append(subsystem.TABLE)
        schema = {set_name(t): max(versions(store.db.conn, t), default=0) for t in tables}
    if json_output:
        print_json({"db": str(db), **schema})
        return
    out.print(f"{db} is up to date: schema " + ", ".join(f"{name} {v}" for name, v in schema.items()),
              highlight=False, soft_wrap=True)


from .cli_catalog import register as _register_catalog  # noqa: E402  (needs the helpers above)

from .cli_transcripts import register as _register_transcripts  # noqa: E402
from behaviors.cli_data import register as _register_data  # noqa: E402
from behaviors.cli_train import register as _register_train  # noqa: E402
from behaviors.cli_fit import register as _register_fit  # noqa: E402
from behaviors.economic.cli import register as _register_gate  # noqa: E402
from selfreport.cli import register as _register_selfreport  # noqa: E402
from tui.commands import register as _register_tui  # noqa: E402

_register_catalog(app)
_register_transcripts(app)
_register_data(app)
_register_train(app)
_register_fit(app)
_register_gate(app)
_register_selfreport(app)
_register_tui(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: games finished so far are stored; run the same command to resume a tournament")
        sys.exit(130)
