"""What the terminal UI offers the `mms` root besides commands (declared in pyproject.toml):
`mms play --watch` and `--user human` play through `play_in_ui`, so `game` never imports `tui`."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence

from agents.registry import Registry
from game.runner import GameSetup
from game.store import Store

from .app import play_in_tui
from .play import PlaySession, human_session


def play_in_ui(store: Store, db: Path, run_id: str, setups: Sequence[GameSetup], concurrency: int,
               registry: Registry, *, human: bool) -> dict[str, str]:
    """Play a recorded run's games in the UI (a person in the user's seat when `human`); return the
    outcomes of the games that finished before the UI was closed."""
    if human:
        session = human_session(store, run_id, setups[0], registry)
    else:
        session = PlaySession(store, run_id, setups, concurrency, registry)
    return play_in_tui(db, session)
