"""A text of any length, read a screenful at a time: wrapped in a thread, drawn line by line.

A `Static` lays out and wraps its whole text on the UI's thread: a megabyte stops the screen
for seconds. Here the wrapping (line offsets, and the styled spans of each line) is computed in
a worker thread whenever the width changes, and only the lines in view are ever drawn (Textual's
Line API), so the screen answers keys however long the text.
"""

from __future__ import annotations

import asyncio
import re
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from textual import events
from textual.cache import LRUCache
from textual.content import Content, Span
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual

_TOKEN = re.compile(r"[^ \n]* *")  # a word and the spaces after it


@dataclass(frozen=True)
class Document:
    """Text safe to draw (controls masked, tabs as spaces: one character for one), a few long
    styled stretches of it (`parts`), and short spans in `mark_style` that never overlap, in
    order (`marks`: start, end, start, end… in a flat array, as `Wrapped` keeps its lines)."""

    text: str
    parts: list[tuple[int, int, str]] = field(default_factory=list)
    marks: array = field(default_factory=lambda: array("q"))
    mark_style: str = ""


@dataclass(frozen=True)
class Wrapped:
    """A document's lines at one width, as offsets into its text: flat arrays, so that a million
    characters cost the garbage collector (and so the screen) nothing to keep."""

    width: int
    starts: array
    ends: array


def wrap_lines(text: str, width: int) -> Wrapped:
    """The lines of `text` wrapped to `width` cells: lines break at newlines and between words;
    a word wider than the line is folded. The spaces after a word stay on its line (they show
    as nothing at its end)."""
    width = max(width, 1)
    starts, ends = array("q"), array("q")
    start = 0
    for paragraph in text.split("\n"):
        end = start + len(paragraph)
        measure = len if paragraph.isascii() else cell_len
        line, used = start, 0
        for token in _TOKEN.finditer(text, start, end):
            word_end = token.start() + len(token.group().rstrip(" "))
            cells = measure(text[token.start():word_end])
            if used and used + cells > width:
                starts.append(line)
                ends.append(token.start())
                line, used = token.start(), 0
            at = token.start()
            while cells > width - used and at < word_end:  # a word longer than a line: fold it
                cut = _fold(text, at, word_end, width - used, measure)
                starts.append(line)
                ends.append(cut)
                cells -= measure(text[at:cut])
                line, at, used = cut, cut, 0
            used += cells + (token.end() - word_end)
        starts.append(line)
        ends.append(end)
        start = end + 1
    return Wrapped(width, starts, ends)


def _fold(text: str, start: int, end: int, room: int, measure) -> int:
    """The offset after the most characters from `start` that fit in `room` cells (one at least)."""
    if measure is len:
        return min(end, start + max(room, 1))
    cut, used = start, 0
    while cut < end and used + cell_len(text[cut]) <= room:
        used += cell_len(text[cut])
        cut += 1
    return max(cut, start + 1)


def line_spans(document: Document, mark_ends: Sequence[int], start: int, end: int) -> list[Span]:
    """The styled spans that fall on the text from `start` to `end`, relative to `start`
    (`mark_ends`: the ends of the document's marks)."""
    spans = [Span(max(a, start) - start, min(b, end) - start, style)
             for a, b, style in document.parts if a < end and b > start]
    marks = document.marks
    i = bisect_right(mark_ends, start)
    while i < len(mark_ends) and marks[2 * i] < end:
        spans.append(Span(max(marks[2 * i], start) - start, min(mark_ends[i], end) - start, document.mark_style))
        i += 1
    return spans


class LongText(ScrollView, can_focus=True):
    """Shows a `Document` once `load` is given one; until then, `placeholder`."""

    DEFAULT_CSS = """
    LongText { scrollbar-gutter: stable; }
    """

    def __init__(self, placeholder: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.placeholder = placeholder
        self.document: Document | None = None
        self.wrapped: Wrapped | None = None
        self._mark_ends = array("q")
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)  # drawn lines: a scroll redraws them all

    @property
    def line_count(self) -> int:
        return len(self.wrapped.starts) if self.wrapped else 0

    def load(self, document: Document) -> None:
        """Show a document (wrapped in a thread at the current width)."""
        self.document, self.wrapped = document, None
        self._mark_ends = document.marks[1::2]
        self._wrap()

    def on_resize(self, _: events.Resize) -> None:
        if self.document is not None and (self.wrapped is None or self._width() != self.wrapped.width):
            self._wrap()

    def _width(self) -> int:
        return self.scrollable_content_region.width

    def _wrap(self) -> None:
        if self._width() > 0:  # else not laid out yet: its first resize wraps it
            self.run_worker(self._rewrap, group="wrap", exclusive=True, exit_on_error=False)

    async def _rewrap(self) -> None:
        document, width = self.document, self._width()
        top = self.wrapped.starts[int(self.scroll_y)] if self.line_count else 0
        wrapped = await asyncio.to_thread(wrap_lines, document.text, width)
        if document is not self.document or width != self._width():
            return  # another text or width since, and so another wrap
        self.wrapped = wrapped
        self._strips.clear()
        self.virtual_size = Size(width, len(wrapped.starts))
        self.scroll_to(y=max(bisect_right(wrapped.starts, top) - 1, 0), animate=False, immediate=True)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self._width()
        index = y + int(self.scroll_y)
        if self.wrapped is None or self.document is None:
            return self._draw(Content(self.placeholder), width) if y == 0 else Strip.blank(width, self.rich_style)
        if index >= self.line_count:
            return Strip.blank(width, self.rich_style)
        key = (index, width)
        if (strip := self._strips.get(key)) is None:
            start, end = self.wrapped.starts[index], self.wrapped.ends[index]
            spans = line_spans(self.document, self._mark_ends, start, end)
            content = Content(self.document.text[start:end], spans, strip_control_codes=False)
            strip = self._strips[key] = self._draw(content, width)
        return strip

    def _draw(self, content: Content, width: int) -> Strip:
        strips = Visual.to_strips(self, content, width, 1, self.visual_style, pad=True)
        return strips[0].crop(0, width) if strips else Strip.blank(width, self.rich_style)
