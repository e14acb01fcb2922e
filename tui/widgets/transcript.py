"""The selected game's transcript as a chat view that grows as the game is played."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from ..highlight import inert
from ..reader import ListedGame, MessageRow
from ..verdicts import spectator_verdict
from .chat_message import ChatMessage

WINDOW = 100  # messages mounted at most: the newest; older ones of a very long game are left out


class Transcript(VerticalScroll, can_focus=True):
    """Messages between a game header and an outcome banner. Only one game is ever mounted."""

    show_monologue: reactive[bool] = reactive(True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.game: ListedGame | None = None
        self.last_idx = -1
        self.search = ""
        self._match = -1
        self._matching: list[ChatMessage] = []
        self.window = WINDOW  # how many of the newest messages to mount
        self._offered_whole = False  # whether the key that opens a cut message was on offer

    def compose(self) -> ComposeResult:
        yield Static("Select a game to read its transcript.", id="game-info")
        yield Static("", id="hidden-note")
        yield Static("", id="banner")

    def watch_show_monologue(self, show: bool) -> None:
        self.set_class(not show, "-hide-monologue")

    @property
    def messages(self) -> list[ChatMessage]:
        return list(self.query(ChatMessage))

    def cut_message(self) -> ChatMessage | None:
        """The first message shown cut that is in view, else the first of all; None if none is cut."""
        cut = [widget for widget in self.messages if widget.cut]
        view = self.region
        return next((widget for widget in cut if widget.region.overlaps(view)), cut[0] if cut else None)

    def _offer_whole(self) -> None:
        """Update the footer when a cut message comes or goes (a footer update costs a redraw)."""
        cut = any(widget.cut for widget in self.messages)
        if cut != self._offered_whole:
            self._offered_whole = cut
            self.refresh_bindings()

    def placeholder(self, text: str) -> None:
        """What the pane says while it shows no game."""
        self.query_one("#game-info", Static).update(text)

    async def show(self, game: ListedGame | None, messages: list[MessageRow], hidden: int = 0) -> None:
        """Replace the transcript with another game's."""
        await self.query(ChatMessage).remove()
        self._offer_whole()
        self.game, self.last_idx, self._match, self._matching = game, -1, -1, []
        note = self.query_one("#hidden-note", Static)
        note.update(f"⋯ {hidden} earlier messages not shown (e shows more)" if hidden else "")
        note.display = bool(hidden)
        if game is None:
            self.placeholder("Select a game to read its transcript.")
            self._banner(None)
            return
        running = game.status == "running"
        await self.append(messages, follow=running)
        self.update_game(game, follow=running)
        if not running:
            self.scroll_home(animate=False, immediate=True)  # a finished game reads from the start

    async def append(self, messages: list[MessageRow], *, follow: bool | None = None) -> None:
        """Add the messages played since the last ones shown; stay at the bottom if there already."""
        if self.game is None:
            return
        fresh = [m for m in messages if m.idx > self.last_idx][-self.window:]
        if not fresh:
            return
        if follow is None:  # a live update: keep reading where the person is, unless at the end
            follow = self.scroll_y >= self.max_scroll_y
        widgets = [ChatMessage(m, self.game, search=self.search) for m in fresh]
        await self.mount_all(widgets, before=self.query_one("#banner"))
        self.last_idx = fresh[-1].idx
        if self.search:
            self._matching += [widget for widget in widgets if widget.matches(self.search)]
        if follow:
            self.call_after_refresh(self._to_end)
        self._offer_whole()

    def _to_end(self, again: bool = True) -> None:
        """Scroll to the newest message; once more after the next layout, which may grow it."""
        self.scroll_end(animate=False, immediate=True)
        if again:
            self.call_after_refresh(self._to_end, False)

    def update_game(self, game: ListedGame, *, follow: bool | None = None) -> None:
        """The game's row changed (first mention, finish): update header, markers and banner."""
        if follow is None:  # a live update: if the person was at the end, the banner stays in view
            follow = self.scroll_y >= self.max_scroll_y
        self.game = game
        self.query_one("#game-info", Static).update(_info(game))
        for widget in self.messages:
            widget.mark(game)
        self._banner(game)
        if follow:
            self.call_after_refresh(self._to_end)

    def _banner(self, game: ListedGame | None) -> None:
        """The outcome once the game is over; while it runs, which message it waits for."""
        banner = self.query_one("#banner", Static)
        finished = game is not None and game.status == "finished"
        running = game is not None and game.status == "running"
        banner.display = finished or running
        for outcome in ("win", "correct_guess", "violation", "no_codeword", "error"):
            banner.set_class(finished and game.outcome == outcome, f"-{outcome}")
        banner.set_class(running, "-running")
        if finished:
            banner.update(inert(spectator_verdict(game)))
        elif running:
            next_ = min(game.said + 1, game.total)
            banner.update(f"⋯ playing: waiting for message {next_} of {game.total}" if game.said < game.total
                          else "⋯ playing: the guess")
        else:
            banner.update("")

    # -- search -------------------------------------------------------------------------------

    def find(self, term: str) -> int:
        """Highlight a term in every message; scroll to the first that holds it. How many do."""
        self.search, self._match = term, -1
        self._matching = [widget for widget in self.messages if widget.set_search(term)]
        if self._matching:
            self.next_match()
        return len(self._matching)

    def next_match(self) -> bool:
        """Scroll to the next message holding the search term, round and round."""
        if not self._matching:
            return False
        self._match = (self._match + 1) % len(self._matching)
        self.scroll_to_widget(self._matching[self._match], animate=False, top=True)
        return True


def _info(game: ListedGame) -> Content:
    seat = "a person" if game.user == "human" else f"{game.user} as {game.persona or '?'}"
    parts = [
        Content.styled(f"game {game.id}", "bold"),
        Content(" · codeword "), inert(game.codeword, "bold $text-warning"),
        inert(f" · rule {game.rule} · run {game.run_id}\n"),
        inert(f"manipulator {game.manipulator_label}"),
        inert(f" ({game.manipulator})" if game.manipulator != game.manipulator_label else ""),
        inert(f" · user {seat}\n"),
        inert(f"topic: {game.topic or '–'} · seed word: {game.seed_word or '–'}"),
    ]
    return Content.assemble(*parts)
