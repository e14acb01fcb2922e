"""Merge shard databases into one, without duplicates.

Runs are matched by id (a tournament's name) and must come from the same spec. A game is
identified by (run, game key); the first finished copy wins, unfinished copies are skipped.
Messages follow their game under its new id. A run whose planned games are all in the output,
finished, is marked finished (no shard alone could be).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from agents.errors import MmsError

from .store import Store


@dataclass(frozen=True)
class MergeRequest:
    """Shards to merge into `out`: checked when made, before any file is opened."""

    out: Path
    inputs: tuple[Path, ...]

    def __post_init__(self) -> None:
        if not self.inputs:
            raise MmsError("give at least one input database to merge")
        missing = [str(p) for p in self.inputs if not Path(p).is_file()]
        if missing:
            raise MmsError(f"input database not found: {', '.join(missing)}")
        if any(Path(p).resolve() == Path(self.out).resolve() for p in self.inputs):
            raise MmsError("the output database must not also be an input")


@dataclass(frozen=True)
class MergeReport:
    """What one merge did; `to_json()` is what `mms db merge --json` prints, key for key."""

    inputs: int
    runs: int = 0
    games: int = 0
    messages: int = 0
    duplicates: int = 0
    unfinished: int = 0
    finished_runs: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


def merge(request: MergeRequest) -> MergeReport:
    """Every input is opened read-only and checked (ours, at this schema) before the output is
    touched; the whole merge is one transaction, and an output this merge created is removed
    again if it fails, so a failed merge leaves no partial output."""
    sources: list[Store] = []
    try:
        for path in request.inputs:
            sources.append(Store.reader(path))
        return _merge_into(Path(request.out), sources)
    finally:
        for source in sources:
            source.close()


def merge_databases(out: str | Path, inputs: list[str | Path]) -> MergeReport:
    """`merge` for callers that hold paths."""
    return merge(MergeRequest(Path(out), tuple(Path(p) for p in inputs)))


def _merge_into(out: Path, sources: list[Store]) -> MergeReport:
    created = not out.exists()
    try:
        with Store(out) as target, target.transaction():
            tally: Counter[str] = Counter()
            keys = target.read.finished_run_keys()
            for source in sources:
                try:
                    _merge_one(source, target, keys, tally)
                except sqlite3.DatabaseError as exc:
                    raise MmsError(
                        f"input database {source.path} cannot be read ({exc}): nothing was merged; "
                        f"check it with: sqlite3 {source.path} 'pragma integrity_check'") from exc
            for run_id in {run["id"] for source in sources for run in source.read.runs()}:
                tally["finished_runs"] += target.finish_if_complete(run_id)
            return MergeReport(len(sources), **tally)
    except BaseException:
        if created:
            for leftover in (out, *(Path(f"{out}{suffix}") for suffix in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)
        raise


def _merge_one(source: Store, target: Store, keys: set, tally: Counter[str]) -> None:
    for run in source.read.runs():
        mine = target.read.run(run["id"])
        if mine is None:
            target.copy_run(run)
            tally["runs"] += 1
        elif mine.get("spec_hash") != run.get("spec_hash"):
            raise MmsError(
                f"run {run['id']!r} in {source.path} comes from a different spec than in the output "
                "(its spec hash differs): merge shards of one spec only; a shard recorded by an earlier "
                "version (before spec identity was by content, or left out server addresses) is updated "
                "by resuming it once from the folder it was run in"
            )
    for game in source.read.all_games():
        key = (game["run_id"], game["game_key"])
        if game["status"] != "finished":
            tally["unfinished"] += 1
            continue
        if key in keys:
            tally["duplicates"] += 1
            continue
        messages = source.read.messages(game["id"])
        target.copy_game(game, messages)
        keys.add(key)
        tally["games"] += 1
        tally["messages"] += len(messages)
