"""The core of `mms play`: a checked request in, the games played and stored, a typed report out."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.backend import CallLimits
from agents.errors import MmsError
from agents.human import HUMAN_SPEC
from agents.prompts import check_persona
from agents.registry import Registry, validate_spec

from .cli_support import DEFAULT_DB, DEFAULT_MODEL, call_limits, err
from .coherence import run_coherence
from .failures import Failures, run_failures
from .play_progress import play_with_progress
from .plugins import PLAY_UI, hook
from .rules import OUTCOMES, STUDY_GUESS_MAX_TOKENS, GameSettings
from .store import Store


@dataclass(frozen=True)
class PlayRequest:
    """`mms play`'s options, checked once when made, in the order a user reads the errors: the
    number of games, the game settings, the players and persona, the call limits. A seed left out
    is drawn here, so the report and the stored run name the one that was played."""

    codeword: str
    games: int = 1
    manipulator: str = DEFAULT_MODEL
    user: str = DEFAULT_MODEL
    db: Path = Path(DEFAULT_DB)
    messages_per_player: int = 5
    concurrency: int = 4
    seed: int | None = None
    rule: str = "paper"
    stop_on_mention: bool = False
    manipulator_prompt: str = "default"
    persona: str = "friendly"
    temperature: float = 1.0
    top_p: float = 1.0
    manipulator_max_tokens: int = 256
    user_max_tokens: int = 128
    setup: str = "mms"
    guess_max_tokens: int | None = None
    watch: bool = False
    call_timeout: float | None = None
    retry_budget: float | None = None
    max_requests: str | None = None
    quiet: bool = False  # no progress bar (--json)
    settings: GameSettings = field(init=False)
    human: bool = field(init=False)  # a person plays the user, in the terminal UI
    limits: CallLimits = field(init=False)

    def __post_init__(self) -> None:
        from .runner import MAX_GAMES

        if self.games > MAX_GAMES:
            raise MmsError(f"--games {self.games}: one run plays at most {MAX_GAMES:_} games; play fewer")
        guess = self.guess_max_tokens or (STUDY_GUESS_MAX_TOKENS if self.setup == "study" else 32)
        settings = GameSettings(
            codeword=self.codeword, rule=self.rule, messages_per_player=self.messages_per_player,
            stop_on_mention=self.stop_on_mention, manipulator_prompt=self.manipulator_prompt,
            manipulator_max_tokens=self.manipulator_max_tokens, user_max_tokens=self.user_max_tokens,
            temperature=self.temperature, top_p=self.top_p, setup=self.setup, guess_max_tokens=guess)
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "human", _check_players(self.manipulator, self.user, self.games, self.persona))
        object.__setattr__(self, "limits", call_limits(self.call_timeout, self.retry_budget,
                                                       max_requests=self.max_requests))
        if self.seed is None:
            object.__setattr__(self, "seed", random.SystemRandom().randrange(2**31))

    def run_settings(self) -> dict[str, Any]:
        """What the run row records of this request."""
        limits = self.limits
        return {"manipulator": self.manipulator, "user": self.user, "games": self.games, "seed": self.seed,
                "concurrency": self.concurrency, "persona": self.persona, "call_timeout": limits.timeout_s,
                "retry_budget": limits.budget_s, "max_requests": limits.requests_per_server(),
                **self.settings.as_dict()}


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


@dataclass(frozen=True)
class PlayReport:
    """One run of `mms play`; `to_json()` is what `--json` prints, key for key. `failures` (why
    games ended in error) is said on stderr, never in the JSON."""

    run_id: str
    db: Path
    codeword: str
    seed: int
    games: int  # games finished (fewer than planned when the terminal UI was quit early)
    counts: dict[str, int]  # every outcome, in the order of OUTCOMES
    coherence: dict[str, Any]  # coherence.coherence()'s figures per seat
    failures: Failures

    def to_json(self) -> dict[str, Any]:
        return {"games": self.games, **self.counts, **self.coherence, "db": str(self.db), "run_id": self.run_id}


def play_games(request: PlayRequest) -> PlayReport:
    """Plan, play (in the terminal UI for --watch and --user human) and store the run's games."""
    from .runner import plan_games

    ui = hook(PLAY_UI, "--watch and --user human") if request.watch or request.human else None
    setups = plan_games(request.settings, request.manipulator, request.user, request.games, request.seed,
                        request.persona)
    with Store(request.db) as store:
        run_id = store.create_run("play", request.run_settings(), request.games)
        if ui is not None:
            outcomes = _play_in_ui(ui, store, request, run_id, setups)
        else:
            outcomes = asyncio.run(play_with_progress(store, run_id, setups, request.concurrency, request.limits,
                                                      quiet=request.quiet))
        if len(outcomes) == len(setups):
            store.finish_run(run_id)
        counts = {o: sum(1 for v in outcomes.values() if v == o) for o in OUTCOMES}
        return PlayReport(run_id, request.db, request.settings.codeword, request.seed, len(outcomes), counts,
                          run_coherence(store, run_id), run_failures(store, run_id))


def _play_in_ui(ui, store: Store, request: PlayRequest, run_id: str, setups) -> dict[str, str]:
    """`--watch` and `--user human`: play in the terminal UI (the `mms.play_ui` hook). Quitting it
    early stops the run; its unfinished games are set aside (superseded), the finished ones are kept."""
    registry = Registry(request.limits)
    for spec in sorted({setups[0].manipulator, setups[0].user} - {HUMAN_SPEC}):  # one cell: every game the same
        registry.get(spec)  # before the screen takes over: a first use may convert the embedded model
    outcomes = ui(store, request.db, run_id, setups, request.concurrency, registry, human=request.human)
    if len(outcomes) < len(setups):
        dropped = store.supersede_unfinished(run_id)
        err.print(f"stopped: {len(outcomes)} of {len(setups)} games finished"
                  + (f"; {dropped} unfinished game(s) set aside" if dropped else ""))
    return outcomes
