"""The Textual app: watch a store live, watch games this process plays, or play as the user.

Build it with `watch_app` (another process writes the games) or `play_app` (a worker in this app
plays them: `mms play --watch`, or `--user human` with a person in the user's seat).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from game.runner import GameSetup
from game.safe_text import mask_controls

from .messages import GameDone, PlayFinished
from .play import PlaySession
from .reader import StoreReader
from .screens.human import HumanPlayScreen
from .screens.watch import WatchScreen


class MmsApp(App[None]):
    CSS_PATH = "styles.tcss"
    TITLE = "make-me-say"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False)]

    def __init__(self, db: str | Path, *, session: PlaySession | None = None, follow: bool = True,
                 poll_interval: float | None = 0.5) -> None:
        super().__init__()
        self.db = Path(db)
        self.session = session
        self.follow = follow
        self.poll_interval = poll_interval
        self.reader: StoreReader | None = None
        self.main_screen: Screen | None = None
        self.play_error: str | None = None

    def get_default_screen(self) -> Screen:
        if self.session is not None and self.session.human is not None:
            self.main_screen = HumanPlayScreen(self.session)
        else:
            self.reader = StoreReader(self.db)
            self.main_screen = WatchScreen(self.reader, follow=self.follow, poll_interval=self.poll_interval,
                                           source=str(self.db))
        return self.main_screen

    def on_mount(self) -> None:
        if self.session is not None:
            self.run_worker(self._play, name="play", group="play", exit_on_error=False)

    def on_unmount(self) -> None:
        if self.reader is not None:
            self.reader.close()

    async def refresh_from_store(self) -> None:
        """Poll the store now (what the timer does every `poll_interval` seconds)."""
        if isinstance(self.main_screen, WatchScreen):
            await self.main_screen.refresh_from_store()

    # -- games played in this process ---------------------------------------------------------

    async def _play(self) -> dict[str, str]:
        assert self.session is not None

        def done(setup: GameSetup, outcome: str) -> None:
            if self.main_screen is not None:
                self.main_screen.post_message(GameDone(setup.key, outcome))

        return await self.session.run(on_done=done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker failures become a visible error; the end of the games is announced."""
        if event.worker.group != "play" or self.session is None or self.main_screen is None:
            if event.state == WorkerState.ERROR:
                self.notify(mask_controls(f"{event.worker.name or 'worker'} failed: {event.worker.error}"),
                            severity="error", markup=False)
            return
        if event.state == WorkerState.SUCCESS:
            self.main_screen.post_message(PlayFinished(dict(self.session.outcomes)))
        elif event.state == WorkerState.ERROR:
            self.play_error = f"{type(event.worker.error).__name__}: {event.worker.error}"
            self.main_screen.post_message(PlayFinished(dict(self.session.outcomes), self.play_error))


def watch_app(db: str | Path, *, follow: bool = True, poll_interval: float | None = 0.5) -> MmsApp:
    """Watch a store that another process fills."""
    return MmsApp(db, follow=follow, poll_interval=poll_interval)


def play_app(db: str | Path, session: PlaySession, *, poll_interval: float | None = 0.5) -> MmsApp:
    """Play a session's games in a worker and show them (or let a person play the user's seat)."""
    return MmsApp(db, session=session, poll_interval=poll_interval)


def run_app(app: MmsApp) -> None:
    """Run an app in the terminal (tests replace this to run it headless)."""
    if not sys.__stdout__.isatty() and sys.__stderr__.isatty():
        # `--json > file`: Textual draws on stderr but sizes itself from stdout; tell it the size.
        columns, lines = os.get_terminal_size(sys.__stderr__.fileno())
        os.environ.setdefault("COLUMNS", str(columns))
        os.environ.setdefault("LINES", str(lines))
    app.run()


def play_in_tui(db: str | Path, session: PlaySession) -> dict[str, str]:
    """`mms play --watch` / `--user human`: play in the UI; return the outcomes of finished games."""
    app = play_app(db, session)
    run_app(app)
    if app.play_error:
        from agents.errors import MmsError

        raise MmsError(f"the games stopped: {app.play_error}")
    return dict(session.outcomes)
