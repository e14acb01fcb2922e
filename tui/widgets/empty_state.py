"""What the watcher shows when there is nothing to watch yet, and what to do about it."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from ..highlight import inert
from ..reader import DbState


class EmptyState(Static):
    def __init__(self, db: str, **kwargs) -> None:
        super().__init__(inert(f"Opening {db}…"), **kwargs)
        self.db = db

    def show(self, state: DbState) -> None:
        self.update(empty_text(self.db, state))


def empty_text(db: str, state: DbState) -> Content:
    play = f"mms play --codeword ring --db {db}"
    if state.kind == "missing":
        title = f"No database at {db} yet."
        body = (f"Start some games in another terminal:\n\n    {play}\n\n"
                "This screen fills in as soon as the first game is written. (Watching never creates the file.)")
    elif state.kind == "unreadable":
        title = f"Cannot read {db}: {state.detail}"
        body = "Is it a make-me-say database? Pick another one with --db."
    else:
        title = "No games yet."
        body = (f"Run `{play}` (or `mms tournament SPEC.toml --db {db}`) in another terminal;\n"
                "games appear here live as they are played.")
    return Content.assemble(inert(title, "bold"), inert("\n\n" + body))
