"""The watch screen: the games list and the selected transcript, following the store live.

Live updates: a timer (`set_interval`) asks the `StoreReader` for what changed since the last poll
— nothing at all costs one `PRAGMA data_version` — and applies it in one go, so a flood of writes
between two ticks becomes one update. Reads run in a thread (`asyncio.to_thread`) under one lock;
each poll or transcript load reads and applies before the next one starts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input
from textual.worker import Worker, WorkerState

from game.safe_text import mask_controls

from ..filters import HELP, FilterError, GameFilter
from ..highlight import inert, warm_referee
from ..messages import GameDone, PlayFinished, UserNavigated, WholeMessageRequested
from ..reader import PAGE_SIZE, ListedGame, MessageRow, Poll, StoreReader
from ..widgets.empty_state import EmptyState
from ..widgets.games_table import GamesTable
from ..widgets.run_header import RunHeader
from ..widgets.transcript import WINDOW, Transcript
from .help import HelpScreen
from .whole_message import WholeMessageScreen


@dataclass
class _Read:
    """Everything one poll read, to apply at once."""

    poll: Poll
    page: list[ListedGame] | None = None
    total: int | None = None
    messages: list[MessageRow] | None = None  # new messages of the shown game


class WatchScreen(Screen):
    AUTO_FOCUS = "#games"
    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("m", "toggle_monologue", "Monologue"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "search", "Search"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("e", "earlier", "Earlier messages", show=False),
        Binding("o", "whole_message", "Whole message"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "close_boxes", "Close", show=False),
    ]

    def __init__(self, reader: StoreReader, *, follow: bool = True, poll_interval: float | None = 0.5,
                 source: str | None = None) -> None:
        super().__init__()
        self.reader = reader
        self.follow = follow
        self.poll_interval = poll_interval
        self.source = source or str(reader.path)
        self.filter = GameFilter()
        self.shown_id: int | None = None  # the game in the transcript pane
        self.total = 0  # games matching the filter
        self._lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield RunHeader(self.source, id="run-header")
        yield EmptyState(self.source, id="empty")
        with Horizontal(id="main"):
            with Vertical(id="games-pane"):
                yield Input(placeholder="filter: " + HELP, id="filter")
                yield GamesTable(id="games")
            with Vertical(id="transcript-pane"):
                yield Transcript(id="transcript")
                yield Input(placeholder="search this transcript (enter; n for the next match)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.header.show(follow=self.follow)
        self.set_class(True, "-empty")
        self.run_worker(self.refresh_from_store, group="poll", exit_on_error=False)
        if self.poll_interval:
            self.set_interval(self.poll_interval, self._tick)

    @property
    def header(self) -> RunHeader:
        return self.query_one(RunHeader)

    @property
    def table(self) -> GamesTable:
        return self.query_one(GamesTable)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    # -- reading the store --------------------------------------------------------------------

    def _tick(self) -> None:
        if not self._lock.locked():  # a slow read is still going: skip a beat rather than queue
            self.run_worker(self.refresh_from_store, group="poll", exit_on_error=False)

    async def refresh_from_store(self) -> None:
        """Read what changed since the last poll and show it."""
        async with self._lock:
            shown = self.transcript.game
            read = await asyncio.to_thread(self._read, self.filter, shown.id if shown else None, self.transcript.last_idx)
            if read is not None:
                await self._apply(read)

    def _read(self, flt: GameFilter, shown: int | None, after: int) -> _Read | None:
        """In a thread: the poll, plus what it implies should be read."""
        poll = self.reader.poll()
        if poll is None:
            return None
        read = _Read(poll)
        if poll.reset:
            read.page, read.total = self.reader.page(flt)
        elif poll.games:
            read.total = self.reader.count(flt)
        if shown is not None and shown in poll.message_games:
            read.messages = self.reader.messages(shown, after)
        return read

    async def _apply(self, read: _Read) -> None:
        poll = read.poll
        self.set_class(poll.state.kind != "ok", "-empty")
        self.query_one(EmptyState).show(poll.state)
        self.header.show(poll.summary)
        table, transcript = self.table, self.transcript
        if read.total is not None:
            self.total = read.total
        if read.page is not None:
            table.replace_all(read.page)
        else:
            self._merge(poll.games)
        self._title_table()
        if transcript.game is not None:
            if read.messages:
                await transcript.append(read.messages)
            changed = next((g for g in poll.games if g.id == transcript.game.id), None)
            if changed is not None:
                transcript.update_game(changed)
        if read.page is not None and self.shown_id is not None and not table.move_to(self.shown_id):
            self.shown_id = None
        self._choose()

    def _merge(self, games: list[ListedGame]) -> None:
        """Fold changed games into the list: update, add newly matching, drop no longer matching."""
        table, add = self.table, []
        oldest = table.oldest_id
        complete = table.row_count < PAGE_SIZE or self.total <= table.row_count
        for game in games:
            if not self.filter.matches(game):
                table.remove_game(game.id)
            elif game.id in table.games:
                table.update_game(game)
            elif complete or oldest is None or game.id > oldest:
                add.append(game)
        if add:
            table.add_games(add)

    def _choose(self) -> None:
        """Follow the newest running game, or show something rather than nothing."""
        table = self.table
        target = None
        if self.follow:
            running = [g.id for g in table.games.values() if g.status == "running"]
            target = max(running) if running else None
        if target is None and self.shown_id is None and table.games:
            target = table.cursor_game_id if table.cursor_game_id is not None else max(table.games)
        if target is not None and target != self.shown_id:
            table.move_to(target)
            self.show_game(target)

    def _title_table(self) -> None:
        table = self.table
        shown = table.row_count
        more = " · ↓ for older" if shown < self.total else ""
        label = f"games {shown:,} of {self.total:,}{more}" if shown < self.total else f"games · {self.total:,}"
        table.border_title = inert(label + (f" · filter {self.filter.describe()}" if self.filter else ""))

    # -- the transcript -----------------------------------------------------------------------

    def show_game(self, game_id: int) -> Worker:
        if game_id != self.shown_id:
            self.transcript.window = WINDOW
            if self.transcript.game is None:
                self.transcript.placeholder(f"Reading game {game_id}…")
        self.shown_id = game_id
        return self.run_worker(partial(self._load_game, game_id), group="transcript", exclusive=True, exit_on_error=False)

    async def _load_game(self, game_id: int) -> None:
        async with self._lock:
            game, messages, count = await asyncio.to_thread(self._read_game, game_id, self.transcript.window)
            if self.shown_id == game_id:
                await self.transcript.show(game, messages, hidden=max(0, count - len(messages)))

    def _read_game(self, game_id: int, window: int) -> tuple[ListedGame | None, list[MessageRow], int]:
        """In a thread: a game, its newest `window` messages, and how many it has in all."""
        game = self.reader.game(game_id)
        if game is not None:
            warm_referee(game.codeword, game.rule)  # here in the thread, not when the messages render
        return game, self.reader.messages(game_id, limit=window), self.reader.message_count(game_id)

    @on(DataTable.RowHighlighted, "#games")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        game_id = int(event.row_key.value)
        table = self.table
        if game_id != table.cursor_game_id:
            return  # stale: the cursor has moved on since (a reload, or follow mode)
        if game_id != self.shown_id:
            self.show_game(game_id)
        if event.cursor_row >= table.row_count - 1 and table.row_count < self.total:
            self.run_worker(self._load_older, group="page", exclusive=True, exit_on_error=False)

    @on(DataTable.RowSelected, "#games")
    def _selected(self) -> None:
        self.transcript.focus()

    def on_user_navigated(self, _: UserNavigated) -> None:
        if self.follow:
            self.follow = False
            self.header.show(follow=False)

    async def _load_older(self) -> None:
        """The next page of older games, when the cursor reaches the end of the list."""
        async with self._lock:
            oldest, flt = self.table.oldest_id, self.filter
            games, total = await asyncio.to_thread(self.reader.page, flt, oldest)
            if flt == self.filter and oldest == self.table.oldest_id:
                self.total = total
                self.table.add_games(games)
                self._title_table()

    # -- games played by this app -------------------------------------------------------------

    def on_game_done(self, _: GameDone) -> None:
        self._tick()

    def on_play_finished(self, event: PlayFinished) -> None:
        self._tick()
        if event.error:
            self.notify(mask_controls(f"the games stopped: {event.error}"), severity="error", timeout=15, markup=False)
        else:
            self.notify(f"all {len(event.outcomes)} games played; press q to quit", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(mask_controls(f"could not read the database: {event.worker.error}"), severity="error",
                        timeout=10, markup=False)

    # -- actions ------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.header.show(follow=self.follow)
        self.notify("following the newest running game" if self.follow else "follow off", timeout=2)
        if self.follow:
            self._choose()

    def action_toggle_monologue(self) -> None:
        transcript = self.transcript
        transcript.show_monologue = not transcript.show_monologue

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    def action_next_match(self) -> None:
        if not self.transcript.next_match():
            self.notify("no match in this transcript" if self.transcript.search else "search first with s", timeout=3)

    def action_earlier(self) -> None:
        """Mount more of a very long transcript (a hundred more messages each time)."""
        if self.shown_id is not None:
            self.transcript.window += WINDOW
            self.show_game(self.shown_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key that opens a cut message is offered only while the transcript shows one."""
        if action == "whole_message":
            return self.transcript.cut_message() is not None
        return True

    def action_whole_message(self) -> None:
        """Read all of a message the transcript shows cut (the first one in view)."""
        widget = self.transcript.cut_message()
        if widget is not None:
            self.post_message(WholeMessageRequested(widget.message, widget.game))

    def on_whole_message_requested(self, event: WholeMessageRequested) -> None:
        self.app.push_screen(WholeMessageScreen(self.reader, event.game, event.message,
                                                monologue=self.transcript.show_monologue))

    def action_refresh(self) -> None:
        self._tick()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_close_boxes(self) -> None:
        for box in self.query(Input):
            box.display = False
        self.table.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            flt = GameFilter.parse(event.value)
        except FilterError as exc:
            self.notify(mask_controls(str(exc)), severity="error", timeout=8, markup=False)
            return
        event.input.display = False
        self.table.focus()
        self.header.show(filter=flt.describe())
        self.run_worker(partial(self.apply_filter, flt), group="page", exclusive=True, exit_on_error=False)

    async def apply_filter(self, flt: GameFilter) -> None:
        """Show only the games that match (the first page of them)."""
        async with self._lock:
            self.filter = flt
            games, self.total = await asyncio.to_thread(self.reader.page, flt)
            self.table.replace_all(games)
            self._title_table()
            if self.shown_id is not None and self.table.move_to(self.shown_id):
                return
            self.shown_id = None
            if not self.table.row_count:
                await self.transcript.show(None, [])
        self._choose()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        hits = self.transcript.find(event.value.strip())
        event.input.display = False
        self.transcript.focus()
        if event.value.strip():
            self.notify(f"{hits} message{'s' if hits != 1 else ''} match" if hits else "no match", timeout=3)
