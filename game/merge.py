"""Merge shard databases into one, without duplicates.

Runs are matched by id (a tournament's name) and must come from the same spec. A game is
identified by (run, game key); the first finished copy wins, unfinished copies are skipped.
Messages follow their game under its new id. A run whose planned games are all in the output,
finished, is marked finished (no shard alone could be).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agents.errors import MmsError

from .store import Store


def merge_databases(out: str | Path, inputs: list[str | Path]) -> dict[str, int]:
    """Every input is opened read-only and checked (ours, at this schema) before the output is
    touched; the whole merge is one transaction, and an output this merge created is removed
    again if it fails, so a failed merge leaves no partial output."""
    if not inputs:
        raise MmsError("give at least one input database to merge")
    missing = [str(p) for p in inputs if not Path(p).is_file()]
    if missing:
        raise MmsError(f"input database not found: {', '.join(missing)}")
    if any(Path(p).resolve() == Path(out).resolve() for p in inputs):
        raise MmsError("the output database must not also be an input")
    sources: list[Store] = []
    try:
        for path in inputs:
            sources.append(Store.reader(path))
        return _merge_into(Path(out), sources)
    finally:
        for source in sources:
            source.close()


def _merge_into(out: Path, sources: list[Store]) -> dict[str, int]:
    created = not out.exists()
    try:
        with Store(out) as target, target.transaction():
            stats = {"inputs": len(sources), "runs": 0, "games": 0, "messages": 0, "duplicates": 0, "unfinished": 0,
                     "finished_runs": 0}
            keys = target.read.finished_run_keys()
            for source in sources:
                try:
                    _merge_one(source, target, keys, stats)
                except sqlite3.DatabaseError as exc:
                    raise MmsError(
                        f"input database {source.path} cannot be read ({exc}): nothing was merged; "
                        f"check it with: sqlite3 {source.path} 'pragma integrity_check'") from exc
            for run_id in {run["id"] for source in sources for run in source.read.runs()}:
                stats["finished_runs"] += target.finish_if_complete(run_id)
            return stats
    except BaseException:
        if created:
            for leftover in (out, *(Path(f"{out}{suffix}") for suffix in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)
        raise


def _merge_one(source: Store, target: Store, keys: set, stats: dict[str, int]) -> None:
    for run in source.read.runs():
        mine = target.read.run(run["id"])
        if mine is None:
            target.copy_run(run)
            stats["runs"] += 1
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
            stats["unfinished"] += 1
            continue
        if key in keys:
            stats["duplicates"] += 1
            continue
        messages = source.read.messages(game["id"])
        target.copy_game(game, messages)
        keys.add(key)
        stats["games"] += 1
        stats["messages"] += len(messages)
