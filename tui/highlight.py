"""Mark the codeword in a message: the referee's own spans, so the screen shows what it judged.

Everything shown comes from models, users or a database: it is shown as written, never read as
markup (`[@click=app.quit]` is text), with control characters masked (`game.safe_text`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from textual.content import Content

from agents.errors import MmsError
from game.referee import Mention, Referee
from game.safe_text import mask_controls

CODEWORD_STYLE = "bold $text-warning on $warning-muted"
SEARCH_STYLE = "bold reverse"
# Characters judged at once in a long text: each call then holds the interpreter briefly, so a
# thread judging a megabyte leaves the screen free.
JUDGE_PIECE = 20_000


@cache
def referee(codeword: str, rule: str) -> Referee | None:
    """The referee of a stored game; None if its codeword or rule cannot be judged."""
    try:
        return Referee(codeword, rule)
    except MmsError:
        return None


def warm_referee(codeword: str, rule: str) -> None:
    """Build a game's referee ahead of its transcript (in a worker thread): the first one loads
    the lemmatiser's tables, which takes seconds."""
    judge = referee(codeword, rule)
    if judge is not None:
        judge.find(codeword)


def mentions(text: str, codeword: str, rule: str) -> list[Mention]:
    judge = referee(codeword, rule)
    return judge.find(text) if judge and text else []


def mentions_in_long(text: str, codeword: str, rule: str) -> Iterator[tuple[int, int]]:
    """The spans of `mentions` in a text of any length, judged a piece at a time; a piece ends at
    a paragraph break, else at a space, so no word a reader sees whole is split."""
    at = 0
    while at < len(text):
        end = min(len(text), at + JUDGE_PIECE)
        if end < len(text):
            gap = text.rfind("\n\n", at, end)
            gap = gap if gap > at else text.rfind(" ", at, end)
            end = gap if gap > at else end
        for m in mentions(text[at:end], codeword, rule):
            yield at + m.start, at + m.end
        at = end


def highlighted(text: str, codeword: str, rule: str, *, search: str = "", base: str = "") -> Content:
    """The text with every mention of the codeword (and of a search term) styled."""
    content = inert(text)
    if base:
        content = content.stylize(base)
    for m in mentions(text, codeword, rule):
        content = content.stylize(CODEWORD_STYLE, m.start, m.end)
    for start, end in search_spans(text, search):
        content = content.stylize(SEARCH_STYLE, start, end)
    return content


def inert(text: str, style: str = "") -> Content:
    """Untrusted text for a widget: never markup, each control character shown as a replacement
    sign, one for one, so span offsets into the original text still hold."""
    content = Content(mask_controls(text), strip_control_codes=False)
    return content.stylize(style) if style else content


def search_spans(text: str, term: str) -> list[tuple[int, int]]:
    """Case-insensitive occurrences of a search term."""
    if not term:
        return []
    spans, low, needle = [], text.casefold(), term.casefold()
    start = low.find(needle)
    while start != -1 and len(low) == len(text):  # casefold kept offsets: safe to map back
        spans.append((start, start + len(needle)))
        start = low.find(needle, start + len(needle))
    return spans
