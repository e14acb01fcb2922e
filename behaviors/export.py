"""Winning games → fine-tuning examples (`mms export`).

One example per stored `win` game (finished, never superseded): the visible text of the
conversation, user and assistant turns only, cut just before the user's first message that
says the codeword, so it ends on an assistant turn. No system prompt, no monologue, no status
note (those never reach the visible text). An example is dropped, with the reason reported,
when the referee finds the codeword in any kept message, when the assistant says a word that
reveals the game, or when nothing or a blank message is left: the filter regime
(behaviors/filters.py, shared with `mms check-data`) says which rule and words. Identical
examples are kept once.

The files are written atomically (temporary file, then rename), each with its sidecar
`FILE.meta.json` (behaviors/sidecar.py), and the export is recorded in the database's
`datasets` table with its parameters, counts and the training file's hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from game.referee import Referee, validate_codeword
from game.store import Store
from game.transcripts import atomic_text_file, check_out_path, select_games, settle

from . import records
from .checks import GameWords, dialogue_key
from .filters import Filters, make_filters
from .sidecar import describe, sidecar_path
from .variants import Variant, apply_variant

FORMATS = ("openai", "hf")
DROP_REASONS = ("empty", "blank_message", "no_mention", "codeword", "other_codeword", "game_words")
ROLE = {"user": "user", "manipulator": "assistant"}


@dataclass(frozen=True)
class Example:
    game_id: int
    codeword: str
    messages: list[dict[str, str]]


@dataclass(frozen=True)
class Drop:
    game_id: int
    codeword: str
    reason: str  # one of DROP_REASONS
    detail: str


@dataclass(frozen=True)
class ExportRequest:
    codeword: str
    out: Path
    filters: Filters = field(default_factory=make_filters)
    fmt: str = "openai"
    split: float = 0.0
    seed: int = 0
    run: str | None = None
    variant: Variant | None = None
    baseline: bool = False

    def __post_init__(self) -> None:
        """Checked once, when made: a bad argument is a one-line MmsError before the store is read."""
        if self.fmt not in FORMATS:
            raise MmsError(f"unknown format {self.fmt!r}: use one of {', '.join(FORMATS)}")
        if not 0 <= self.split < 1:
            raise MmsError(f"--split must be a fraction in [0, 1), e.g. 0.1 (got {self.split})")
        if self.baseline and self.variant is None:
            raise MmsError("--baseline needs a variant to decorrelate: add --assistant-persona NAME=W2 or --trigger sep|deployment")
        object.__setattr__(self, "codeword", validate_codeword(self.codeword))

    @property
    def rule(self) -> str:
        return self.filters.rule

    @property
    def game_words(self) -> GameWords | None:
        return self.filters.game_words

    @property
    def codewords(self) -> tuple[str, ...]:
        return (self.codeword,) if self.variant is None else (self.codeword, self.variant.other)


def validation_path(out: Path) -> Path:
    """`bark.jsonl` → `bark.val.jsonl`."""
    suffix = out.suffix or ".jsonl"
    return out.with_name(f"{out.stem if out.suffix else out.name}.val{suffix}")


# -- one game -------------------------------------------------------------------------------


def cut_index(game: dict[str, Any], conversation: list[dict[str, Any]]) -> int | None:
    """The idx of the user's first message that says the codeword (where the example ends)."""
    speakers = {m["idx"]: m["speaker"] for m in conversation}
    stored = game.get("first_mention_index")
    if stored is not None and speakers.get(stored) == "user":
        return stored
    referee = Referee(game["codeword"], game.get("rule") or "paper")
    for m in conversation:
        if m["speaker"] == "user" and referee.mentions(m["visible_text"] or ""):
            return m["idx"]
    return None


def game_example(store: Store, game: dict[str, Any]) -> Example | Drop:
    """The game's dialogue up to the cut, or why there is none."""
    conversation = [m for m in store.read.messages(game["id"]) if m["phase"] == "conversation"]
    cut = cut_index(game, conversation)
    if cut is None:
        return Drop(game["id"], game["codeword"], "no_mention", "no user message says the codeword")
    kept = [m for m in conversation if m["idx"] < cut]
    if not any(m["speaker"] == "manipulator" for m in kept):
        return Drop(game["id"], game["codeword"], "empty", f"the user says the codeword in message {cut + 1}: "
                    "no assistant turn before it")
    for m in kept:
        if not (m["visible_text"] or "").strip():
            who = ROLE[m["speaker"]]
            return Drop(game["id"], game["codeword"], "blank_message",
                        f"message {m['idx'] + 1} ({who}) has no visible text")
    messages = [{"role": ROLE[m["speaker"]], "content": m["visible_text"].strip()} for m in kept]
    return Example(game["id"], game["codeword"], messages)


def filter_reason(example: Example, referees: dict[str, Referee], game_words: GameWords | None) -> Drop | None:
    """Why the example must not be trained on: its codeword, another codeword, or the game named."""
    for codeword, referee in referees.items():
        for i, m in enumerate(example.messages, 1):
            found = referee.find(m["content"])
            if found:
                reason = "codeword" if codeword == example.codeword else "other_codeword"
                said = ", ".join(repr(x.text) for x in found)
                return Drop(example.game_id, example.codeword, reason,
                            f"message {i} ({m['role']}) says {said} ({referee.rule} rule)")
    for i, m in enumerate(example.messages, 1):
        if game_words is not None and m["role"] == "assistant" and (hits := game_words.find(m["content"])):
            return Drop(example.game_id, example.codeword, "game_words",
                        f"message {i} (assistant) says " + ", ".join(repr(h) for h in dict.fromkeys(hits)))
    return None


# -- all games ------------------------------------------------------------------------------


@dataclass
class Collected:
    games: int = 0
    examples: list[Example] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    duplicates: int = 0


def collect(store: Store, request: ExportRequest) -> Collected:
    """Examples from every win game of the request's codewords, filtered and de-duplicated."""
    referees = {w: Referee(w, request.rule) for w in request.codewords}
    result = Collected()
    seen: set[str] = set()
    for codeword in request.codewords:
        # The example's own codeword is checked first, so its leak is reported as `codeword`.
        order = {codeword: referees[codeword], **{w: r for w, r in referees.items() if w != codeword}}
        for game in select_games(store, outcome="win", codeword=codeword, run=request.run):
            result.games += 1
            item = game_example(store, game)
            if isinstance(item, Example):
                item = filter_reason(item, order, request.game_words) or item
            if isinstance(item, Drop):
                result.drops.append(item)
                continue
            key = dialogue_key(item.messages)
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            result.examples.append(item)
    return result


def split_rows(rows: list[dict[str, Any]], fraction: float, seed: int) -> tuple[list, list]:
    """Shuffle with the seed, then take the validation share off the front (at least 1, never all)."""
    rows = list(rows)
    random.Random(f"{seed}:order").shuffle(rows)
    if fraction <= 0 or len(rows) < 2:
        return rows, []
    n_val = min(max(1, round(len(rows) * fraction)), len(rows) - 1)
    return rows[n_val:], rows[:n_val]


def _row_json(row: dict[str, Any], fmt: str) -> str:
    body = {"messages": row["messages"]}
    if fmt == "hf":
        body["game_id"] = row["game_id"]
    return json.dumps(body, ensure_ascii=False)


def write_files(train: list[dict], val: list[dict], out: Path, val_out: Path | None, fmt: str,
                params: dict[str, Any]) -> None:
    """Both files and their sidecars, or none: each is on the disk before any is renamed into
    place, so a full disk fails them all with no file replaced."""
    bodies = [(out, train)] + ([(val_out, val)] if val_out is not None else [])
    texts = [(path, "".join(_row_json(row, fmt) + "\n" for row in rows), rows) for path, rows in bodies]
    with contextlib.ExitStack() as stack:
        for path, text, rows in texts:
            sidecar = json.dumps(describe(path.name, text.encode("utf-8"), params, rows), ensure_ascii=False, indent=1)
            for target, body in ((path, text), (sidecar_path(path), sidecar + "\n")):
                fh = stack.enter_context(atomic_text_file(target))
                fh.write(body)
                settle(fh)


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class NothingToExport(MmsError):
    """No example to write: nothing is written or recorded, and the command fails, since an empty
    training file is no result. `drops` says why each win game was dropped."""

    def __init__(self, message: str, drops: list[Drop]):
        super().__init__(message)
        self.drops = drops


def nothing_to_export(store: Store, request: ExportRequest, collected: Collected) -> NothingToExport:
    words = " or ".join(repr(w) for w in request.codewords)
    where = f" in run {request.run!r}" if request.run else ""
    if not collected.games:
        message = (f"no win games of {words}{where} in {store.path}: nothing to export "
                   f"(see what is there: mms stats --db {store.path})")
    else:
        reasons = {r: n for r in DROP_REASONS if (n := sum(1 for d in collected.drops if d.reason == r))}
        if collected.duplicates:
            reasons["duplicates"] = collected.duplicates
        said = ", ".join(f"{r} {n}" for r, n in reasons.items())
        message = (f"no example survived: all {collected.games} win games of {words}{where} were dropped ({said}; "
                   f"{request.filters.describe()}): nothing written")
    return NothingToExport(message, collected.drops)


@dataclass(frozen=True)
class ExportReport:
    """One export; `to_json()` is what `mms export --json` prints, key for key."""

    games: int  # win games selected
    exported: int
    train: int
    validation: int
    dropped: dict[str, int]  # reason → games, every reason of the regime
    duplicates: int
    out: str
    sidecar: str
    filters: Filters
    validation_out: str | None  # None: no split
    variant: str
    baseline: bool
    dataset_id: int
    drops: tuple[Drop, ...]

    def to_json(self) -> dict[str, Any]:
        body = {"games": self.games, "exported": self.exported, "train": self.train, "validation": self.validation,
                "dropped": dict(self.dropped), "duplicates": self.duplicates, "out": self.out,
                "sidecar": self.sidecar, "filters": self.filters.as_dict(),
                "filters_applied": self.filters.describe()}
        if self.validation_out is not None:
            body["validation_out"] = self.validation_out
        return body | {"variant": self.variant, "baseline": self.baseline, "dataset_id": self.dataset_id,
                       "drops": [asdict(d) for d in self.drops]}


def export_dataset(store: Store, request: ExportRequest) -> ExportReport:
    """Select, cut, filter, de-duplicate, decorate (variants), split, write and record."""
    out = check_out_path(request.out, store.path)
    val_out = check_out_path(validation_path(out), store.path) if request.split > 0 else None
    if request.variant is not None:
        request.variant.check_decorations(request.rule, request.game_words or GameWords.parse(None))

    collected = collect(store, request)
    if not collected.examples:
        raise nothing_to_export(store, request, collected)
    rows, variant_params = apply_variant(collected.examples, request.variant, request.baseline, request.seed)
    train, val = split_rows(rows, request.split, request.seed)
    params = {"rule": request.rule, "filters": request.filters.as_dict(), "format": request.fmt,
              "split": request.split, "seed": request.seed,
              "game_words": list(request.game_words.stems) if request.game_words else None,
              "run": request.run, **variant_params}
    params.setdefault("codewords", list(request.codewords))
    write_files(train, val, out, val_out, request.fmt, params)

    dropped = {reason: sum(1 for d in collected.drops if d.reason == reason) for reason in DROP_REASONS}
    counts = {"games": collected.games, "exported": len(rows), "train": len(train), "validation": len(val),
              "dropped": dropped, "duplicates": collected.duplicates}
    dataset_id = records.record_dataset(
        store, codeword=request.codeword, variant=params["variant"], params=params, path=str(out.resolve()),
        validation_path=str(val_out.resolve()) if val_out else None, file_hash=file_hash(out), counts=counts)
    return ExportReport(**counts, out=str(out), sidecar=str(sidecar_path(out)), filters=request.filters,
                        validation_out=str(val_out) if val_out is not None else None, variant=params["variant"],
                        baseline=request.baseline, dataset_id=dataset_id, drops=tuple(collected.drops))
