"""One message of a transcript as a chat bubble: who spoke, what the other side saw, and, for the
manipulator, its private monologue (for spectators only).

A long text is shown cut (its first `PREVIEW_CHARS` characters, `PREVIEW_LINES` lines at most),
with a note saying how much is left out; the whole message opens in a screen of its own."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ..highlight import highlighted, inert, search_spans
from ..messages import WholeMessageRequested
from ..reader import ListedGame, MessageRow

PREVIEW_LINES = 40  # lines of one text a bubble shows at most, however short they are
WORD_BACKTRACK = 0.2  # a cut text ends at a word's end if that loses at most this share of it
CUT_STYLE = "italic $text-muted"


def shown_part(text: str, total: int) -> str:
    """What a bubble shows of a text of `total` characters that begins with `text`: at most
    `PREVIEW_LINES` lines; if not all of it, up to the end of a word."""
    lines = text.split("\n", PREVIEW_LINES)
    if len(lines) > PREVIEW_LINES:
        return "\n".join(lines[:PREVIEW_LINES])
    if len(text) < total:
        gap = max(text.rfind(" "), text.rfind("\n"))
        if gap >= len(text) * (1 - WORD_BACKTRACK):
            return text[:gap]
    return text


class CutNote(Static):
    """How much of a message the bubble leaves out; a click opens the whole message."""

    def on_click(self) -> None:
        bubble = self.query_ancestor(ChatMessage)
        self.post_message(WholeMessageRequested(bubble.message, bubble.game))


class ChatMessage(Vertical):
    """A stored message. Classes: -user / -manipulator, -guess, -deciding (the first mention)."""

    def __init__(self, message: MessageRow, game: ListedGame, *, search: str = "") -> None:
        speaker = "manipulator" if message.speaker == "manipulator" else "user"
        super().__init__(classes=f"-{speaker}" + (" -guess" if message.phase == "guess" else ""))
        self.message = message
        self.game = game
        self.search = search
        self.border_title = f"{speaker} · message {message.idx + 1}" if message.phase != "guess" else "user · guess"
        self.shown_text = shown_part(message.visible_text, message.visible_chars)
        self.shown_thought = shown_part(message.private_text, message.private_chars)
        self.hidden_visible = message.visible_chars - len(self.shown_text)
        self.hidden_private = message.private_chars - len(self.shown_thought) if self.shown_thought.strip() else 0

    @property
    def cut(self) -> bool:
        """Whether the bubble leaves part of the message out."""
        return bool(self.hidden_visible or self.hidden_private)

    def compose(self) -> ComposeResult:
        if self.shown_thought.strip():
            yield Static(self._monologue(), classes="monologue")
        yield Static(self._body(), classes="body")
        if self.cut:
            only_monologue = " -monologue" if not self.hidden_visible else ""
            yield CutNote(self._cut_note(), classes="cut-note" + only_monologue)

    def on_mount(self) -> None:
        self.mark(self.game)

    @property
    def body(self) -> Static:
        return self.query_one(".body", Static)

    def mark(self, game: ListedGame) -> None:
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
        if self.shown_thought.strip():
            self.query_one(".monologue", Static).update(self._monologue())
        return self.matches(term)

    def matches(self, term: str) -> bool:
        """Whether the shown part of the message holds the term."""
        return bool(search_spans(self.shown_text, term) or search_spans(self.shown_thought, term))

    def _body(self) -> Content:
        if not self.shown_text.strip():
            return Content.styled("(nothing the user could see)", "italic $text-muted")
        text = highlighted(self.shown_text, self.game.codeword, self.game.rule, search=self.search)
        return text + Content.styled(" …", CUT_STYLE) if self.hidden_visible else text

    def _monologue(self) -> Content:
        thought = highlighted(self.shown_thought.strip(), self.game.codeword, self.game.rule,
                              search=self.search, base="italic")
        thought = thought + Content.styled(" …", CUT_STYLE) if self.hidden_private else thought
        return Content.styled("private › ", "bold") + thought

    def _cut_note(self) -> str:
        parts = []
        if self.hidden_visible:
            parts.append(f"{self.hidden_visible:,} more characters of the message")
        if self.hidden_private:
            parts.append(f"{self.hidden_private:,} of the monologue" if parts
                         else f"{self.hidden_private:,} more characters of the monologue")
        return f"⋯ {' and '.join(parts)} not shown · o or a click shows it all"
