"""`mms play`: play games of Make Me Say and store every message."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from .cli_support import (
    DEFAULT_DB,
    DEFAULT_MODEL,
    CallTimeoutOption,
    DbOption,
    JsonOption,
    MaxRequestsOption,
    RetryBudgetOption,
    cli_errors,
    out,
    print_json,
)
from .coherence import coherence_line
from .failures import report_failures
from .outcome_table import outcome_table
from .play import PlayReport, PlayRequest, play_games
from .safe_text import markup_safe
from .stats import summarise

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
    report = play_games(PlayRequest(
        codeword=codeword, games=games, manipulator=manipulator, user=user, db=db,
        messages_per_player=messages_per_player, concurrency=concurrency, seed=seed, rule=rule,
        stop_on_mention=stop_on_mention, manipulator_prompt=manipulator_prompt, persona=persona,
        temperature=temperature, top_p=top_p, manipulator_max_tokens=manipulator_max_tokens,
        user_max_tokens=user_max_tokens, setup=setup, guess_max_tokens=guess_max_tokens, watch=watch,
        call_timeout=call_timeout, retry_budget=retry_budget, max_requests=max_requests, quiet=json_output))
    if json_output:
        print_json(report.to_json())
    else:
        _print_run(report)
    report_failures(report.failures)


def _print_run(report: PlayReport) -> None:
    db = markup_safe(str(report.db))
    out.print(outcome_table(f"Run {report.run_id} — codeword {report.codeword!r}, seed {report.seed}",
                            [("all games", summarise(report.counts))]))
    out.print(coherence_line(report.coherence))
    out.print(f"Stored in {db} (run {report.run_id}). See them with: mms stats --db {db}")
