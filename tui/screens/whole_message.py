"""One message whole, however long: the transcript shows long messages cut; this reads all of one.

The message is read from the store, judged for the codeword and wrapped in threads; the screen
draws only the lines in view, so a megabyte scrolls like a paragraph and escape always answers.
"""

from __future__ import annotations

import asyncio
from array import array

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from game.safe_text import mask_controls

from ..highlight import CODEWORD_STYLE, inert, mentions_in_long
from ..reader import ListedGame, MessageRow, StoreReader
from ..widgets.long_text import Document, LongText

MONOLOGUE_LABEL = "private › "


def document(message: MessageRow, game: ListedGame, *, monologue: bool) -> Document:
    """The message as one text (the monologue first, if shown) with the codeword marked."""
    pieces: list[tuple[str, str, bool]] = []  # (text, style of all of it, whether the referee reads it)
    if monologue and message.private_text.strip():
        pieces += [(MONOLOGUE_LABEL, "bold", False), (message.private_text.strip(), "italic $text-muted", True),
                   ("\n\n", "", False)]
    pieces.append((message.visible_text, "", True))
    parts, marks, at = [], array("q"), 0
    for piece, style, judged in pieces:
        if style:
            parts.append((at, at + len(piece), style))
        if judged:
            for start, end in mentions_in_long(piece, game.codeword, game.rule):
                marks.extend((at + start, at + end))
        at += len(piece)
    text = mask_controls("".join(piece for piece, _, _ in pieces)).replace("\t", " ")  # one for one: spans hold
    return Document(text, parts, marks, CODEWORD_STYLE)


class WholeMessageScreen(Screen[None]):
    BINDINGS = [Binding("escape,q,o", "dismiss", "Back")]
    AUTO_FOCUS = "LongText"

    def __init__(self, reader: StoreReader, game: ListedGame, message: MessageRow, *, monologue: bool = True) -> None:
        super().__init__()
        self.reader = reader
        self.game = game
        self.message = message
        self.monologue = monologue

    def compose(self) -> ComposeResult:
        yield Static(inert(self._title()), id="whole-title")
        yield LongText(f"Reading message {self.message.idx + 1}…", id="whole-text")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._load, name="reading the whole message", group="whole", exit_on_error=False)

    @property
    def text(self) -> LongText:
        return self.query_one(LongText)

    def _title(self) -> str:
        m, game = self.message, self.game
        speaker = "user · guess" if m.phase == "guess" else f"{m.speaker} · message {m.idx + 1}"
        size = f"{m.visible_chars:,} characters" + (f", monologue {m.private_chars:,}" if m.private_chars else "")
        return f"game {game.id} · {speaker} · {size} · escape goes back"

    async def _load(self) -> None:
        whole = await asyncio.to_thread(self.reader.whole_message, self.message.id)
        if whole is None:
            self.text.placeholder = "This message is no longer in the database."
            self.text.refresh()
            return
        self.text.load(await asyncio.to_thread(document, whole, self.game, monologue=self.monologue))
