"""`mms play`: play games of Make Me Say and store every message."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
import asyncio
import random
from pathlib import Path
from typing import Annotated

import typer

from agents.backend import CallLimits
from agents.errors import MmsError
from agents.human import HUMAN_SPEC
from agents.prompts import check_persona
from agents.registry import Registry, validate_spec

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
from .coherence import coherence_line, run_coherence
from .failures import report_failures, run_failures
from .outcome_table import outcome_table
from .play_progress import play_with_progress
from .plugins import PLAY_UI, hook
from .rules import OUTCOMES, STUDY_GUESS_MAX_TOKENS, GameSettings
from .safe_text import markup_safe
from .stats import summarise
from .store import Store

Codeword = Annotated[str, typer.Option(help="The word the manipulator tries to make the user say.")]
Games = Annotated[int, typer.Option(min=1, help="Number of games to play.")]
Manipulator = Annotated[str, typer.Option(help="Model spec of the manipulator.")]
User = Annotated[str, typer.Option(help="Model spec of the simulated user, or `human` to sit in the user's seat yourself (one game, in the terminal UI).")]
MessagesPerPlayer = Annotated[int, typer.Option(min=1, help="Messages each player writes.")]
Concurrency = Annotated[int, typer.Option(min=1, help="Games played at once (they share one model).")]
Seed = Annotated[int | None, typer.Option(help="Run seed: picks topics, seed words and sampling seeds. Random if omitted.")]
Rule = Annotated[str, typer.Option(help="Referee rule: paper (noun lemma) or strict (any inflection, spelled out).")]
StopOnMention = Annotated[bool, typer.Option(help="End the conversation as soon as anyone says the codeword.")]
ManipulatorPrompt = Annotated[str, typer.Option(help="Manipulator system prompt: default, or none (for fine-tuned models; the codeword is then known only to the referee).")]
Persona = Annotated[str, typer.Option("--user-persona", help="The simulated user's persona (`mms personas` lists them).")]
Temperature = Annotated[float, typer.Option(help="Sampling temperature for both players.")]
TopP = Annotated[float, typer.Option(help="Nucleus sampling top-p for both players.")]
ManipulatorMaxTokens = Annotated[int, typer.Option(help="Token limit per manipulator message (monologue included).")]
UserMaxTokens = Annotated[int, typer.Option(help="Token limit per user message.")]
Setup = Annotated[str, typer.Option(help="Prompts of the game: mms (ours), or study (the study's data-generation recipe in our words: the user opens with a few sentences on a topic and a seed word, the manipulator is told once the user has said the word that it may say it too, and the user reviews the conversation before guessing).")]
GuessMaxTokens = Annotated[int | None, typer.Option(min=1, help="Token limit of the user's guess (default: 32; 192 with --setup study, where the user reviews the conversation first).")]
Watch = Annotated[bool, typer.Option("--watch", help="Watch the games in the terminal UI as they are played.")]


@cli_errors
def play(
    codeword: Codeword,
    games: Games = 1,
    manipulator: Manipulator = DEFAULT_MODEL,
    user: User = DEFAULT_MODEL,
    db: DbOption = Path(DEFAULT_DB),
    messages_per_player: MessagesPerPlayer = 5,
    concurrency: Concurrency = 4,
    seed: Seed = None,
    rule: Rule = "paper",
    stop_on_mention: StopOnMention = False,
    manipulator_prompt: ManipulatorPrompt = "default",
    persona: Persona = "friendly",
    temperature: Temperature = 1.0,
    top_p: TopP = 1.0,
    manipulator_max_tokens: ManipulatorMaxTokens = 256,
    user_max_tokens: UserMaxTokens = 128,
    setup: Setup = "mms",
    guess_max_tokens: GuessMaxTokens = None,
    watch: Watch = False,
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
    from .runner import MAX_GAMES, plan_games

    if games > MAX_GAMES:
        raise MmsError(f"--games {games}: one run plays at most {MAX_GAMES:_} games; play fewer")
    settings = GameSettings(
        codeword=codeword, rule=rule, messages_per_player=messages_per_player, stop_on_mention=stop_on_mention,
        manipulator_prompt=manipulator_prompt, manipulator_max_tokens=manipulator_max_tokens,
        user_max_tokens=user_max_tokens, temperature=temperature, top_p=top_p, setup=setup,
        guess_max_tokens=guess_max_tokens or (STUDY_GUESS_MAX_TOKENS if setup == "study" else 32),
    )
    human = _check_players(manipulator, user, games, persona)
    limits = call_limits(call_timeout, retry_budget, max_requests=max_requests)
    ui = hook(PLAY_UI, "--watch and --user human") if watch or human else None
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    setups = plan_games(settings, manipulator, user, games, seed, persona)
    run_settings = {"manipulator": manipulator, "user": user, "games": games, "seed": seed,
                    "concurrency": concurrency, "persona": persona, "call_timeout": limits.timeout_s,
                    "retry_budget": limits.budget_s, "max_requests": limits.requests_per_server(), **settings.as_dict()}
    with Store(db) as store:
        run_id = store.create_run("play", run_settings, games)
        if ui is not None:
            outcomes = _play_in_ui(ui, store, db, run_id, setups, concurrency, limits, human=human)
        else:
            outcomes = asyncio.run(play_with_progress(store, run_id, setups, concurrency, limits, quiet=json_output))
        if len(outcomes) == len(setups):
            store.finish_run(run_id)
        quality = run_coherence(store, run_id)
        failures = run_failures(store, run_id)
    _print_run(outcomes, quality, db, run_id, f"codeword {settings.codeword!r}, seed {seed}", json_output)
    report_failures(failures)


def _check_players(manipulator: str, user: str, games: int, persona: str) -> bool:
    """Refuse bad specs and personas before anything is written; whether a person plays the user."""
    validate_spec(manipulator)
    human = user == HUMAN_SPEC
    if human and games != 1:
        raise MmsError("--user human plays one game: drop --games")
    if not human:
        validate_spec(user)
    check_persona(persona, "--user-persona")
    return human


def _play_in_ui(ui, store: Store, db: Path, run_id: str, setups, concurrency: int, limits: CallLimits, *,
                human: bool) -> dict[str, str]:
    """`--watch` and `--user human`: play in the terminal UI (the `mms.play_ui` hook). Quitting it
    early stops the run; its unfinished games are set aside (superseded), the finished ones are kept."""
    registry = Registry(limits)
    for spec in sorted({setups[0].manipulator, setups[0].user} - {HUMAN_SPEC}):  # one cell: every game the same
        registry.get(spec)  # before the screen takes over: a first use may convert the embedded model
    outcomes = ui(store, db, run_id, setups, concurrency, registry, human=human)
    if len(outcomes) < len(setups):
        dropped = store.supersede_unfinished(run_id)
        err.print(f"stopped: {len(outcomes)} of {len(setups)} games finished"
                  + (f"; {dropped} unfinished game(s) set aside" if dropped else ""))
    return outcomes


def _print_run(outcomes: dict[str, str], quality: dict, db: Path, run_id: str, about: str, json_output: bool) -> None:
    counts = {o: sum(1 for v in outcomes.values() if v == o) for o in OUTCOMES}
    if json_output:
        print_json({"games": len(outcomes), **counts, **quality, "db": str(db), "run_id": run_id})
        return
    out.print(outcome_table(f"Run {run_id} — {about}", [("all games", summarise(counts))]))
    out.print(coherence_line(quality))
    out.print(f"Stored in {markup_safe(str(db))} (run {run_id}). See them with: mms stats --db {markup_safe(str(db))}")
