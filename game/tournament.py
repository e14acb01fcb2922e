"""Tournaments: a TOML spec → a matrix of games, played crash-safely and resumably.

The run id is the spec's `name`. Re-running the same spec on the same database plays only
what is missing: decided games are untouched, games a crash interrupted or that ended in `error`
are marked `superseded` and replayed from the start, and a different spec under the same name is refused.
A spec is known by its content (`TournamentSpec.spec_hash`), never by the path it was run from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from agents import prompts
from agents.backend import DEFAULT_CALL_TIMEOUT, DEFAULT_RETRY_BUDGET, CallLimits
from agents.errors import MmsError
from agents.players import check_manipulator_prompt
from agents.registry import spec_identity, validate_spec
from agents.settings import MAX_REQUESTS
from agents.user_files import load_toml

from .referee import validate_codeword
from .rules import OUTCOMES, PER_CELL, GameSettings
from .runner import MAX_GAMES, Cell, GamePlan, Remaining

if TYPE_CHECKING:
    from .failures import Failures


class _Strict(BaseModel):
    """Every field as its type, never converted: TOML values have types, and a quoted "2" or a
    `true` where a count belongs is a slip to point out, not a number (a bool is no int here)."""

    model_config = ConfigDict(extra="forbid", strict=True)


@contextmanager
def _as_field_error() -> Iterator[None]:
    """Our checks raise MmsError; pydantic reports a ValueError as the field's problem, with its path."""
    try:
        yield
    except MmsError as exc:
        raise ValueError(str(exc)) from None


def _check_spec(value: str, info: ValidationInfo) -> str:
    """Validate a model spec; a relative `scripted:` path is taken from the spec file's folder."""
    base = (info.context or {}).get("base")
    prefix, _, target = value.partition(":")
    if prefix == "scripted" and base is not None and not Path(target).is_absolute():
        value = f"scripted:{Path(base) / target}"
    with _as_field_error():
        validate_spec(value)
    return value


class _Player(_Strict):
    """A seat's model: `spec` is resolved for loading (a relative `scripted:` path from the spec
    file's folder); `written` is the spec as the file gives it, the same from any folder."""

    spec: str
    _written: str | None = PrivateAttr(default=None)

    _spec = field_validator("spec")(_check_spec)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written(cls, data, handler):
        entry = handler(data)
        if isinstance(data, dict) and isinstance(data.get("spec"), str):
            entry._written = data["spec"]
        return entry

    @property
    def written(self) -> str:
        return self._written or self.spec


class ManipulatorEntry(_Player):
    prompt: str = "default"
    label: str | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        with _as_field_error():
            return check_manipulator_prompt(value)

    @property
    def name(self) -> str:
        return self.label or (self.written if self.prompt == "default" else f"{self.written} (prompt {self.prompt})")


class UserEntry(_Player):
    persona: str = "friendly"

    @field_validator("persona")
    @classmethod
    def _persona(cls, value: str) -> str:
        with _as_field_error():
            return prompts.check_persona(value)


class CodewordEntry(_Strict):
    words: list[str] | None = None
    tier: str | None = None
    count: int | None = Field(default=None, ge=1)
    seed: int = 0

    @field_validator("words")
    @classmethod
    def _words(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("give at least one codeword")
        with _as_field_error():
            words = [validate_codeword(w) for w in value]
        if len(set(words)) != len(words):
            raise ValueError("codewords repeat")
        return words

    @model_validator(mode="after")
    def _one_source(self) -> "CodewordEntry":
        if (self.words is None) == (self.tier is None):
            raise ValueError("give either words = [...] or tier = ... with count = N")
        if self.tier is not None:
            if self.count is None:
                raise ValueError(f"tier {self.tier!r} needs count = N")
            from .catalog import sample_codewords

            with _as_field_error():
                sample_codewords(self.tier, self.count, self.seed)
        return self

    def resolve(self) -> list[tuple[str, str | None]]:
        """(codeword, tier) pairs in spec order."""
        if self.words is not None:
            from .catalog import tier_of

            return [(w, tier_of(w)) for w in self.words]
        from .catalog import sample_codewords

        return [(w, self.tier) for w in sample_codewords(self.tier, self.count, self.seed)]


class _GameTable(_Strict):
    """The [game] table: every `GameSettings` field a spec sets for all its cells, validated by
    `GameSettings` itself, so the bounds live in one place (game/rules.py)."""

    @field_validator("*")
    @classmethod
    def _valid(cls, value, info: ValidationInfo):
        """Each field checked by `GameSettings` (with the others at their defaults), so errors name it."""
        with _as_field_error():
            GameSettings(codeword="bark", **{info.field_name: value})
        return value

    def settings(self, codeword: str, manipulator_prompt: str) -> GameSettings:
        return GameSettings(codeword=codeword, manipulator_prompt=manipulator_prompt, **self.model_dump())


_HINTS = get_type_hints(GameSettings)
GameEntry = create_model(
    "GameEntry", __base__=_GameTable,
    **{f.name: (_HINTS[f.name], f.default) for f in dataclasses.fields(GameSettings) if f.name not in PER_CELL},
)


RUNTIME_FIELDS = {"concurrency", "call_timeout", "retry_budget", "max_requests"}  # how a run is played, not which games


class TournamentSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    seed: int = 0
    games_per_cell: int = Field(ge=1)
    concurrency: int = Field(default=4, ge=1, le=256)
    call_timeout: float = Field(default=DEFAULT_CALL_TIMEOUT, gt=0, allow_inf_nan=False, strict=True)
    retry_budget: float = Field(default=DEFAULT_RETRY_BUDGET, gt=0, allow_inf_nan=False, strict=True)
    max_requests: int | None = Field(default=None, ge=MAX_REQUESTS.low, le=MAX_REQUESTS.high)  # None: MMS_MAX_REQUESTS
    manipulators: list[ManipulatorEntry] = Field(min_length=1)
    users: list[UserEntry] = Field(min_length=1)
    codewords: CodewordEntry
    game: GameEntry = GameEntry()

    @model_validator(mode="after")
    def _countable(self) -> TournamentSpec:
        cells = len(self.manipulators) * len(self.users) * len(self.codewords.resolve())
        if cells * self.games_per_cell > MAX_GAMES:
            raise ValueError(f"{cells} cells × {self.games_per_cell:_} games is more than one run can count "
                             f"(at most {MAX_GAMES:_} games in all): lower games_per_cell")
        return self

    def call_limits(self) -> CallLimits:
        return CallLimits(self.call_timeout, self.retry_budget, self.max_requests)

    def spec_hash(self) -> str:
        """The spec's identity: what defines its games, by content. A `scripted:` player counts by
        its script's bytes, not its path, so the same spec run from any folder, by a relative or an
        absolute path, or copied elsewhere with its scripts, is the same spec; an edited script is
        not. A server's address is not part of it (`spec_identity`): shards on machines that reach
        one server by different names are one run. Concurrency and the limits on model calls may
        change between resumes."""
        return self._hash(lambda spec: spec_identity(_content_spec(spec)))

    def legacy_spec_hashes(self) -> tuple[str, ...]:
        """The hashes of earlier versions, still recognised so their runs resume: by content with
        server addresses as written (until issue 24), and before that by the resolved script path
        (recognised when run from that same path)."""
        return self._hash(_content_spec), _digest(self.model_dump(exclude=RUNTIME_FIELDS))

    def _hash(self, player_identity) -> str:
        body = self.model_dump(exclude=RUNTIME_FIELDS)
        for entry in body["manipulators"] + body["users"]:
            entry["spec"] = player_identity(entry["spec"])
        return _digest(body)


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _content_spec(spec: str) -> str:
    """A `scripted:PATH` spec as the hash of its script's bytes; any other spec as written."""
    prefix, _, target = spec.partition(":")
    if prefix != "scripted":
        return spec
    with Path(target).open("rb") as fh:
        return "scripted:sha256=" + hashlib.file_digest(fh, "sha256").hexdigest()


def load_spec(path: str | Path) -> TournamentSpec:
    path = Path(path)
    if not path.is_file():
        raise MmsError(f"spec file not found: {path} (see examples/ for spec files)")
    data = load_toml(path, "spec file")
    try:
        return TournamentSpec.model_validate(data, context={"base": path.parent})
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise MmsError(f"{path}: {problems}") from None


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "spec"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check its spelling)"
    if error["type"] == "missing":
        message = "required field is missing"
    if error["type"] in WANTED:
        message = f"give {WANTED[error['type']]}, not {_toml_value(error['input'])}"
    return f"{where}: {message}"


# What a field of each type takes, for the message when a value of another type is given.
WANTED = {
    "int_type": "a whole number without quotes, such as 5 or 1_000_000",
    "float_type": "a number without quotes, such as 0.7",
    "bool_type": "true or false, without quotes",
    "string_type": "text in quotes",
    "list_type": "a list",
    "model_type": "a table of fields",
}
SHOWN_CHARS = 40


def _toml_value(value) -> str:
    """A value as TOML wrote it, with its kind: `the string "2"`, `true`, `the number 2.0`; cut short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return "the string " + (text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + '…"')
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a table"
    kind = "the number" if isinstance(value, int | float) else "the date or time"
    return f"{kind} {value}"[:SHOWN_CHARS]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`i/n` with 1 ≤ i ≤ n."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise MmsError(f"--shard must look like i/n, e.g. 1/4 (got {text!r})") from None
    if not 1 <= i <= n:
        raise MmsError(f"--shard {text}: need 1 ≤ i ≤ n")
    return i, n


def plan(spec: TournamentSpec, shard: tuple[int, int] | None = None) -> GamePlan:
    """Every game of the spec, in a fixed order, built lazily; a shard takes every n-th game."""
    return GamePlan(_cells(spec), spec.games_per_cell, spec.seed, shard)


def _cells(spec: TournamentSpec) -> list[Cell]:
    return [
        Cell(f"m{mi}.u{ui}.{codeword}.{{j:04d}}", spec.game.settings(codeword, m.prompt), m.spec, u.spec,
             persona=u.persona, tier=tier, manipulator_label=m.name, manipulator_name=m.written, user_name=u.written)
        for mi, m in enumerate(spec.manipulators)
        for ui, u in enumerate(spec.users)
        for codeword, tier in spec.codewords.resolve()
    ]


@dataclasses.dataclass(frozen=True)
class Replayed:
    """The games a resume set aside to play again: those a crash interrupted, those that ended in error."""

    interrupted: int = 0
    errors: int = 0

    def describe(self) -> str:
        """`, N interrupted game(s) and M game(s) that ended in error replayed`, or nothing."""
        parts = []
        if self.interrupted:
            parts.append(f"{self.interrupted} interrupted game(s)")
        if self.errors:
            parts.append(f"{self.errors} game(s) that ended in error")
        return f", {' and '.join(parts)} replayed" if parts else ""


class RunStart(NamedTuple):
    run_id: str
    todo: Remaining  # the games still to play, built lazily as the runner starts them
    already: int  # games of the plan (or shard) already finished
    replayed: Replayed


def prepare_run(store, spec: TournamentSpec, spec_path: str, shard: tuple[int, int] | None) -> RunStart:
    """Create or resume the run, and say what is left to play. A resume plays
    again the games a crash interrupted and those that ended in `error` (an outage, a server down):
    their old attempts stay in the database as `superseded`.

    Call it holding `store.lock_run(spec.name)` for as long as the games are played: resuming
    sets aside every game still `running`, which is only safe when no other process plays them."""
    planned = plan(spec, shard)
    run_id, digest = spec.name, spec.spec_hash()
    existing = store.read.run(run_id)
    if existing is None:
        total = planned.total
        settings = {"spec": spec.model_dump(), "spec_path": str(spec_path)}
        store.create_run("tournament", settings, total, run_id=run_id, spec_hash=digest)
    elif existing["spec_hash"] != digest:
        if existing["spec_hash"] not in spec.legacy_spec_hashes():
            raise MmsError(
                f"run {run_id!r} in {store.path} was started from a different spec "
                f"(stored {existing['spec_hash']}, this one {digest}): give the changed spec a new name, "
                "or use another --db"
            )
        store.set_spec_hash(run_id, digest)  # recorded by an earlier version's hash: brought up to this one
    superseded = store.supersede_unfinished(run_id)
    errors = store.supersede_errors(run_id, planned.plans)
    done = store.read.finished_keys(run_id)
    todo = Remaining(planned, done)
    return RunStart(run_id, todo, len(planned) - len(todo), Replayed(superseded, errors))


@dataclasses.dataclass(frozen=True)
class TournamentRequest:
    """What `mms tournament` asks for, checked once when made: the spec is loaded and validated,
    the shard parsed and the call limits (options over the spec's) set before the database opens."""

    spec_path: Path
    shard: str | None = None
    concurrency: int | None = None  # None: the spec's
    call_timeout: float | None = None
    retry_budget: float | None = None
    max_requests: str | None = None
    spec: TournamentSpec = dataclasses.field(init=False)
    slice: tuple[int, int] | None = dataclasses.field(init=False)
    limits: CallLimits = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        from .cli_support import call_limits

        spec = load_spec(self.spec_path)
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "slice", parse_shard(self.shard))
        object.__setattr__(self, "limits", call_limits(self.call_timeout, self.retry_budget, spec.call_limits(),
                                                       self.max_requests))

    @property
    def workers(self) -> int:
        return self.concurrency or self.spec.concurrency

    def describe(self, start: RunStart) -> str:
        """The line said before the games are played: how many, in which shard, what is replayed."""
        where = f" in shard {self.shard}" if self.shard else ""
        return (f"tournament {start.run_id}: {start.already + len(start.todo)} games{where}, "
                f"{start.already} already finished{start.replayed.describe()}")


@dataclasses.dataclass(frozen=True)
class TournamentReport:
    """One tournament call; `to_json()` is what `mms tournament --json` prints, key for key."""

    run_id: str
    db: str
    played: int  # games this call played
    skipped: int  # games already finished before it
    replayed: Replayed
    games: int  # finished games of the run, errors included
    outcomes: dict[str, int]  # outcome → games of the run, every outcome in rules.OUTCOMES order
    win_rate: float | None  # over the games without error
    win_rate_ci: list[float] | None
    rows: tuple[tuple[str, dict[str, Any]], ...]  # the outcome table's rows: each group, then "all"
    failures: Failures

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "db": self.db, "played": self.played, "skipped": self.skipped,
                "replayed_errors": self.replayed.errors, "games": self.games, **self.outcomes,
                "win_rate": self.win_rate, "win_rate_ci": self.win_rate_ci}


GROUPING = ("manipulator", "persona", "codeword")  # the rows of the tournament's table


def play_tournament(store, request: TournamentRequest, *, quiet: bool = False,
                    announce: Callable[[str], None] | None = None) -> TournamentReport:
    """Create or resume the run, play what is left, close the run when complete, and report.

    Call it holding `store.lock_run(request.spec.name)` (see `prepare_run`). `announce` hears the
    line that says what is about to be played; `quiet` hides the progress bar."""
    import asyncio

    from .failures import run_failures
    from .outcome_table import group_rows
    from .play_progress import play_with_progress
    from .stats import outcome_stats

    start = prepare_run(store, request.spec, str(request.spec_path), request.slice)
    if announce is not None:
        announce(request.describe(start))
    asyncio.run(play_with_progress(store, start.run_id, start.todo, request.workers, request.limits,
                                   quiet=quiet, already_done=start.already))
    if store.run_complete(start.run_id):
        store.finish_run(start.run_id)
    result = outcome_stats(store, start.run_id, GROUPING)
    return TournamentReport(
        run_id=start.run_id, db=str(store.path), played=len(start.todo), skipped=start.already,
        replayed=start.replayed, games=result["games"], outcomes={o: result[o] for o in OUTCOMES},
        win_rate=result["win_rate"], win_rate_ci=result["win_rate_ci"],
        rows=tuple(group_rows(result, result["group_by"])), failures=run_failures(store, start.run_id))
