"""Export finished games, every message included, as JSON Lines, CSV or Markdown.

Only games with status `finished` are exported: `superseded` rows (games a crash interrupted
and that were replayed) and games still running never are.

The manipulator's private monologue (`private_text`) and the model's raw reply (`raw_text`,
which holds the monologue) are left out unless ``include_private`` is true; the writers drop
them from any record they are given in that case, so they cannot leak by accident.

Records are built and written one game at a time, and every writer writes to a temporary file
beside the target that is renamed over it only once everything is written: a failure never
leaves a half-written file nor clobbers an existing one.

Model and user text is untrusted and these files end up in terminals (`cat`, `less -R`, a
spreadsheet cell): CSV and Markdown lose their control characters on the way out, JSON Lines
keeps the exact text with every control escaped (`game.safe_text`). The store is never changed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from agents.errors import MmsError, os_fix, os_reason

from .queries import Games
from .referee import validate_codeword
from .rows import GameRow, MessageRow
from .rules import OUTCOMES
from .safe_text import json_dumps, json_safe, strip_controls
from .store import Store, require_games_db

FORMATS = ("jsonl", "csv", "md")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".md": "md", ".markdown": "md"}
PRIVATE_FIELDS = ("private", "raw")

# CSV: one row per message, the game's fields repeated on every row (see `_game_columns`).
MESSAGE_COLUMNS = (
    "idx", "turn", "speaker", "phase", "text", "mentions",
    "message_prompt_tokens", "message_completion_tokens", "latency_s",
)


def csv_columns(include_private: bool = False) -> list[str]:
    return [*_game_columns(record_of(GameRow(), [])), *MESSAGE_COLUMNS, *(PRIVATE_FIELDS if include_private else ())]


# -- selecting and reading games --------------------------------------------------------------


def check_outcome(outcome: str | None) -> str | None:
    if outcome is None:
        return None
    value = outcome.strip().lower().replace("-", "_")
    if value not in OUTCOMES:
        raise MmsError(f"unknown outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
    return value


def select_games(
    store: Store,
    outcome: str | None = None,
    codeword: str | None = None,
    run: str | None = None,
    manipulator: str | None = None,
) -> list[dict[str, Any]]:
    """Finished games (never superseded or unfinished ones) matching every filter given, oldest first.

    ``manipulator`` matches either the model spec or the tournament label.
    """
    outcome = check_outcome(outcome)
    if codeword is not None:
        codeword = validate_codeword(codeword)
    if run is not None and store.read.run(run) is None:
        known = store.read.recent_run_ids()
        hint = f"runs in it (newest first): {', '.join(known)}" if known else "it has no runs yet"
        raise MmsError(f"no run {run!r} in {store.path}: {hint}")
    return store.read.finished_games(Games(outcome=outcome or None, codeword=codeword, run=run, manipulator=manipulator))


def game_record(store: Store, game: GameRow | Mapping[str, Any], include_private: bool = False) -> dict[str, Any]:
    """Everything about one game (a `GameRow`, or a `games` row as read), its messages in order;
    monologue and raw replies only on request."""
    game = game if isinstance(game, GameRow) else GameRow.from_row(game)
    return record_of(game, map(MessageRow.from_row, store.read.messages(game.id)), include_private)


def record_of(game: GameRow, messages: Iterable[MessageRow], include_private: bool = False) -> dict[str, Any]:
    """The export record of a game and its messages (the JSON Lines object; CSV and Markdown read it too)."""
    return {
        "game_id": game.id,
        "run_id": game.run_id,
        "game_key": game.game_key,
        "codeword": game.codeword,
        "tier": game.tier,
        "outcome": game.outcome,
        "error": game.error,
        "first_mention": game.first_mention,
        "guess": game.guess,
        "players": {
            "manipulator": game.manipulator,
            "manipulator_label": game.manipulator_label or game.manipulator,
            "manipulator_prompt": game.manipulator_prompt,
            "user": game.user,
        },
        "persona": game.persona,
        "topic": game.topic,
        "seed_word": game.seed_word,
        "seed": game.seed,
        "rule": game.rule,
        "messages_per_player": game.messages_per_player,
        "stop_on_mention": None if game.stop_on_mention is None else bool(game.stop_on_mention),
        "shard": game.shard,
        "settings": {} if game.settings is None else game.settings,
        "tokens": game.tokens,
        "timings": game.timings,
        "messages": [_message_record(m, include_private) for m in messages],
    }


def _message_record(m: MessageRow, include_private: bool) -> dict[str, Any]:
    message = {
        "idx": m.idx,
        "turn": m.turn,
        "speaker": m.speaker,
        "phase": m.phase,
        "text": m.visible_text or "",
        "mentions": bool(m.mentions),
        "tokens": {"prompt": m.prompt_tokens, "completion": m.completion_tokens},
        "latency_s": m.latency_s,
    }
    if include_private:
        message["private"] = m.private_text or ""
        message["raw"] = m.raw_text or ""
    return message


def iter_records(store: Store, games: Iterable[dict[str, Any]], include_private: bool = False) -> Iterator[dict]:
    """Game records built lazily, one at a time."""
    for game in games:
        yield game_record(store, game, include_private)


def _public(record: dict[str, Any], include_private: bool) -> dict[str, Any]:
    if include_private:
        return record
    return {**record, "messages": [
        {k: v for k, v in m.items() if k not in PRIVATE_FIELDS} for m in record["messages"]
    ]}


# -- writing ----------------------------------------------------------------------------------


def _new_file_mode(path: Path) -> int:
    if path.exists():
        return stat.S_IMODE(path.stat().st_mode)
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_text_file(path: str | Path, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file that replaces ``path`` only if the ``with`` block completes: it is written
    to a temporary file beside it, removed again if anything fails, so neither a partial file nor
    an empty one is ever left. A failing file system (a full disk) is a one-line MmsError naming
    ``path``, whatever write, flush or rename it came from."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            settle(fh)
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise cannot_write(path, exc) from None
        raise


def settle(fh: TextIO) -> None:
    """Put what was written to ``fh`` on the disk now, so a full disk fails here and not later."""
    fh.flush()
    os.fsync(fh.fileno())


def cannot_write(path: Path, exc: OSError) -> MmsError:
    return MmsError(f"cannot write {path} ({os_reason(exc)}): {os_fix(exc, 'check the folder and its permissions')} "
                    f"and run the command again; nothing was written, any earlier {path.name} is untouched")


Counts = dict[str, int]


def write_jsonl(records: Iterable[dict], path: str | Path, *, include_private: bool = False) -> Counts:
    """One JSON object per line, one line per game."""
    counts = {"games": 0, "messages": 0}
    with atomic_text_file(path) as fh:
        for record in records:
            fh.write(json_safe(json_dumps(_public(record, include_private), ensure_ascii=False)) + "\n")
            counts["games"] += 1
            counts["messages"] += len(record["messages"])
    return counts


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return strip_controls(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return strip_controls(value) if isinstance(value, str) else value


# How the CSV names the fields of each group of the record: one column per field.
_CSV_GROUPS = {"first_mention": "first_mention_{}", "players": "{}", "tokens": "{}_tokens", "timings": "{}"}
_NO_MENTION = dict.fromkeys(("index", "turn", "speaker"))


def _game_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The game's CSV columns: the record's fields in order, each group's fields flattened, the settings last."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in _CSV_GROUPS:
            group = _NO_MENTION if value is None else value
            row.update({_CSV_GROUPS[key].format(k): v for k, v in group.items()})
        elif key not in ("messages", "settings"):
            row[key] = value
    row["settings"] = record["settings"]
    return {k: _cell(v) for k, v in row.items()}


def write_csv(records: Iterable[dict], path: str | Path, *, include_private: bool = False) -> Counts:
    """One row per message with the game's columns repeated; a header row even when empty.

    A game without any message (one that failed before its first) still gets one row, its
    message columns empty, so that counting games per outcome from the file stays right.
    """
    columns = csv_columns(include_private)
    counts = {"games": 0, "messages": 0}
    with atomic_text_file(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            game = _game_columns(record)
            counts["games"] += 1
            if not record["messages"]:
                writer.writerow(game)
            for m in record["messages"]:
                row = {
                    **game, "idx": m["idx"], "turn": m["turn"], "speaker": _cell(m["speaker"]),
                    "phase": _cell(m["phase"]), "text": _cell(m["text"]), "mentions": m["mentions"],
                    "message_prompt_tokens": _cell(m["tokens"]["prompt"]),
                    "message_completion_tokens": _cell(m["tokens"]["completion"]),
                    "latency_s": _cell(m["latency_s"]),
                }
                if include_private:
                    row["private"] = _cell(m.get("private", ""))
                    row["raw"] = _cell(m.get("raw", ""))
                writer.writerow(row)
                counts["messages"] += 1
    return counts


_MD_BLOCK_START = re.compile(r"^(\s{0,3})([#>|]|=+\s*$|-{3,}\s*$|`{3,}|~{3,})")
_MD_HTML = re.compile(r"<(?=[A-Za-z/!?])")


def _md_text(text: str) -> str:
    """Message text as Markdown that cannot open a heading, quote, table, fence or HTML block.

    Controls go first: a line that starts ESC # would otherwise become a heading once stripped."""
    lines = [_MD_BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line)
             for line in strip_controls(text).splitlines()]
    return _MD_HTML.sub("\\\\<", "\n".join(lines))


def _md_cell(value: Any) -> str:
    text = "" if value is None else strip_controls(str(value))
    return " ".join(text.split()).replace("|", "\\|")


def _md_quote(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in text.splitlines())


def _fmt_seconds(value: Any) -> str:
    return "" if value is None else f"{value:.2f} s"


def _md_game(record: dict[str, Any], include_private: bool) -> str:
    mention = record["first_mention"]
    players, tokens, timings = record["players"], record["tokens"], record["timings"]
    manipulator = players["manipulator"]
    if players["manipulator_label"] and players["manipulator_label"] != manipulator:
        manipulator = f"{players['manipulator_label']} ({manipulator})"
    rows = [
        ("outcome", f"**{record['outcome']}**"),
        ("codeword", record["codeword"] + (f" (tier {record['tier']})" if record["tier"] else "")),
        ("first mention", "none" if mention is None else
         f"message {mention['index']}, {mention['speaker']} turn {mention['turn']}"),
        ("guess", record["guess"] if record["guess"] is not None else "none"),
        ("manipulator", manipulator),
        ("manipulator prompt", players["manipulator_prompt"]),
        ("user", players["user"]),
        ("persona", record["persona"]),
        ("topic", record["topic"]),
        ("seed word", record["seed_word"]),
        ("rule", record["rule"]),
        ("messages per player", record["messages_per_player"]),
        ("stop on mention", {True: "yes", False: "no"}.get(record["stop_on_mention"], "")),
        ("seed", record["seed"]),
        ("tokens", f"manipulator {tokens['manipulator']}, user {tokens['user']} "
                   f"(prompt {tokens['prompt']}, completion {tokens['completion']})"),
        ("duration", _fmt_seconds(timings["duration_s"])),
        ("started", timings["started_at"]),
        ("run", record["run_id"]),
        ("game key", record["game_key"]),
    ]
    if record["shard"]:
        rows.append(("shard", record["shard"]))
    if record["error"]:
        rows.append(("error", record["error"]))
    rows.append(("settings", "`" + json.dumps(record["settings"], sort_keys=True, ensure_ascii=False) + "`"))
    parts = [
        f"## Game {record['game_id']}: {_md_cell(record['outcome'])} — codeword “{_md_cell(record['codeword'])}”",
        "",
        "| setting | value |",
        "| --- | --- |",
        *(f"| {name} | {_md_cell(value)} |" for name, value in rows),
        "",
        "### Dialogue",
        "",
    ]
    if not record["messages"]:
        parts += ["*No messages.*", ""]
    for m in record["messages"]:
        who = "Manipulator" if m["speaker"] == "manipulator" else "User"
        where = "guess" if m["phase"] == "guess" else f"turn {m['turn']}"
        notes = []
        if m["mentions"]:
            first = mention is not None and mention["index"] == m["idx"]
            notes.append("says the codeword first" if first else "says the codeword")
        parts.append(f"**{who}** ({where}{', ' + ', '.join(notes) if notes else ''}):")
        parts.append("")
        private = m.get("private") if include_private else None
        if private:
            parts += ["> *monologue:*", ">", _md_quote(_md_text(private)), ""]
        parts += [_md_text(m["text"]) if m["text"].strip() else "*(nothing visible)*", ""]
    return "\n".join(parts) + "\n"


def write_markdown(
    records: Iterable[dict], path: str | Path, *, include_private: bool = False,
    title: str = "Make Me Say transcripts", intro: str | None = None,
) -> Counts:
    """A readable document: one section per game, a table of its settings, then the dialogue."""
    counts = {"games": 0, "messages": 0}
    with atomic_text_file(path) as fh:
        fh.write(strip_controls(f"# {title}\n\n"))
        if intro:
            fh.write(strip_controls(intro.rstrip() + "\n\n"))
        fh.write("The manipulator's private monologue is shown as a quote before each of its messages.\n\n"
                 if include_private else
                 "The manipulator's private monologue is left out (export with --include-private to see it).\n\n")
        for record in records:
            fh.write(strip_controls(_md_game(record, include_private)))
            counts["games"] += 1
            counts["messages"] += len(record["messages"])
        if counts["games"] == 0:
            fh.write("No finished games match.\n")
    return counts


WRITERS: dict[str, Callable[..., Counts]] = {"jsonl": write_jsonl, "csv": write_csv, "md": write_markdown}


# -- the whole export -------------------------------------------------------------------------


def resolve_format(fmt: str | None, out: str | Path) -> str:
    """The format asked for, or the one the output file's suffix names."""
    if fmt is None:
        found = SUFFIXES.get(Path(out).suffix.lower())
        if found is None:
            raise MmsError(f"cannot tell the format from {str(out)!r}: add --format with one of {', '.join(FORMATS)}")
        return found
    value = fmt.strip().lower()
    value = {"markdown": "md", "ndjson": "jsonl"}.get(value, value)
    if value not in FORMATS:
        raise MmsError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return value


def check_out_path(out: str | Path, db: str | Path | None = None) -> Path:
    out = Path(out)
    if out.is_dir():
        raise MmsError(f"output {out} is a folder: give a file name, e.g. {out / 'transcripts.jsonl'}")
    parent = out.parent
    if not parent.is_dir():
        raise MmsError(f"output folder does not exist: {parent} (create it or pick another --out)")
    if db is not None and out.resolve() == Path(db).resolve():
        raise MmsError(f"--out {out} is the database itself: pick another file")
    return out


def describe_filters(outcome=None, codeword=None, run=None, manipulator=None) -> str:
    given = {"outcome": outcome, "codeword": codeword, "run": run, "manipulator": manipulator}
    return ", ".join(f"{k} {v}" for k, v in given.items() if v is not None)


@dataclass(frozen=True)
class TranscriptsRequest:
    """`mms transcripts`' options, checked once when made, in the order a user reads the errors: the
    output file, the format (given, or named by its suffix), the outcome, then the database. The
    codeword and run are checked against the store when the games are selected."""

    out: Path
    db: Path
    fmt: str | None = None  # resolved when made: jsonl, csv or md
    outcome: str | None = None
    codeword: str | None = None
    run: str | None = None
    manipulator: str | None = None
    include_private: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", check_out_path(self.out, self.db))
        object.__setattr__(self, "fmt", resolve_format(self.fmt, self.out))
        check_outcome(self.outcome)
        require_games_db(self.db)

    def filters(self) -> str:
        """The filters given, as the human line and the Markdown intro say them ("" for none)."""
        return describe_filters(self.outcome, self.codeword, self.run, self.manipulator)


@dataclass(frozen=True)
class TranscriptsReport:
    """One export; `to_json()` is what `mms transcripts --json` prints, key for key."""

    games: int
    messages: int
    out: str
    format: str

    def to_json(self) -> dict[str, Any]:
        return {"games": self.games, "messages": self.messages, "out": self.out, "format": self.format}


def export_transcripts(store: Store, request: TranscriptsRequest) -> TranscriptsReport:
    """Select the request's games from ``store`` and write them to its file."""
    out, fmt = check_out_path(request.out, store.path), request.fmt
    games = select_games(store, outcome=request.outcome, codeword=request.codeword, run=request.run,
                         manipulator=request.manipulator)
    records = iter_records(store, games, request.include_private)
    if fmt == "md":
        filters = request.filters()
        intro = f"{len(games)} finished games from `{store.path.name}`" + (f" ({filters})" if filters else "") + "."
        counts = write_markdown(records, out, include_private=request.include_private, intro=intro)
    else:
        counts = WRITERS[fmt](records, out, include_private=request.include_private)
    return TranscriptsReport(counts["games"], counts["messages"], str(out), fmt)
