"""One message of a transcript as a chat bubble: who spoke, what the other side saw, and, for the
manipulator, its private monologue (for spectators only)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from game.messages import GameMessage

from ..highlight import highlighted, inert, search_spans
from ..reader import GameRow


class ChatMessage(Vertical):
    """A stored message. Classes: -user / -manipulator, -guess, -deciding (the first mention)."""

    def __init__(self, message: GameMessage, game: GameRow, *, search: str = "") -> None:
        speaker = "manipulator" if message.speaker == "manipulator" else "user"
        super().__init__(classes=f"-{speaker}" + (" -guess" if message.phase == "guess" else ""))
        self.message = message
        self.game = game
        self.search = search
        self.border_title = f"{speaker} · message {message.idx + 1}" if message.phase != "guess" else "user · guess"

    def compose(self) -> ComposeResult:
        if self.message.private_text.strip():
            yield Static(self._monologue(), classes="monologue")
        yield Static(self._body(), classes="body")

    def on_mount(self) -> None:
        self.mark(self.game)

    @property
    def body(self) -> Static:
        return self.query_one(".body", Static)

    def mark(self, game: GameRow) -> None:
        """Show whether this message decided the game, or is the guess, as the game stands now."""
        self.game = game
        deciding = game.first_mention_index == self.message.idx
        self.set_class(deciding, "-deciding")
        if deciding:
            self.border_subtitle = "◆ decisive first mention"
        elif self.message.phase == "guess":
            verdict = {"correct_guess": " ✓ right", "win": " ✗ wrong"}.get(game.outcome or "", "")
            self.border_subtitle = inert(f"guess: {game.guess or '?'}{verdict}")
        else:
            self.border_subtitle = ""

    def set_search(self, term: str) -> bool:
        """Highlight a search term; whether this message contains it (monologue included)."""
        self.search = term
        self.body.update(self._body())
        if self.message.private_text.strip():
            self.query_one(".monologue", Static).update(self._monologue())
        return self.matches(term)

    def matches(self, term: str) -> bool:
        return bool(search_spans(self.message.visible_text, term) or search_spans(self.message.private_text, term))

    def _body(self) -> Content:
        text = self.message.visible_text
        if not text.strip():
            return Content.styled("(nothing the user could see)", "italic $text-muted")
        return highlighted(text, self.game.codeword, self.game.rule, search=self.search)

    def _monologue(self) -> Content:
        thought = highlighted(self.message.private_text.strip(), self.game.codeword, self.game.rule,
                              search=self.search, base="italic")
        return Content.styled("private › ", "bold") + thought
