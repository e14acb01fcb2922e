"""The ways a message can be read, for the referee: as stored, as rendered, as displayed.

A model reads the characters as they are stored. A person reads them rendered (HTML tags,
comments and what a browser hides - `hidden` and `display:none` elements, scripts, styles,
CDATA - taken out, a markdown link shown as its text, character entities and terminal escapes
interpreted) and displayed (a right-to-left override shows the letters it covers in reverse).
The referee counts a mention in any reading, so that neither markup nor bidi controls can hide
a word from it, while a word written as markup ("<ring>", "&ring;") still counts as stored.
A reader who decodes (the strict rule) also reads URL escapes decoded ("r%69ng") and text
turned upside down turned back ("ƃuıɹ").

Every reading marks with JOINER the places a reader may take either as nothing or as a word
break: hidden markup, and camelCase boundaries ("myRing"). Each reading comes with the index of
the original character behind each of its characters (None when it is the text itself), so
the referee reports mentions as original substrings.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from agents import datafiles

JOINER = "\x00"

Reading = tuple[str, list[int] | None]

# What a renderer hides: terminal escape sequences (CSI and OSC); HTML comments, ended as a
# browser ends them ("<!-->", "--!>"; an unclosed one runs to the end of the text); bogus
# comments, which end at the first ">" ("<!DOCTYPE x>", "<![CDATA[x]]>" outside SVG, "<?x>",
# "</ x>"); and tags, with a start tag's name, attributes and closing slash as groups.
_MARKUP = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|<!--(?:-?>|.*?(?:--!?>|\Z))"
    r"|<(?:!|\?|/(?![A-Za-z]))[^>]*>?"
    r"|</[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?>"
    r"|<([A-Za-z][A-Za-z0-9:-]*)(\s[^<>]*)?(/?)>",
    re.DOTALL,
)
# Elements whose content a browser never shows, and attributes that hide an element.
_UNSHOWN_ELEMENTS = frozenset({"script", "style", "template"})
_RAW_TEXT_ELEMENTS = frozenset({"script", "style"})
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_ZERO = r"(?:0+(?:\.0*)?|\.0+)(?:px|em|rem|pt|%)?\s*(?:[;\"'}]|$)"
_HIDING_ATTRIBUTES = re.compile(
    r"(?:^|\s)hidden(?=[\s=/]|$)|(?<![\w-])(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
    rf"|content-visibility\s*:\s*hidden|opacity\s*:\s*{_ZERO}|font-size\s*:\s*{_ZERO})",
    re.IGNORECASE,
)
# A markdown link or image shows its text only: "[ri](http://x)ng" reads "ring".
_LINK = re.compile(
    r"!?\[([^\[\]\n]*)\]"
    r"(?:\(\s*+(?:<[^<>\n]*+>|[^()\s]*+)(?:\s++(?:\"[^\"\n]*+\"|'[^'\n]*+'))?\s*+\)|\[[^\[\]\n]*+\])"
)
# URL escapes, decoded by a reader who decodes; a run of them is one UTF-8 sequence.
_URL_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# Character references: numeric ones also without the final ";" (browsers decode "&#114ing"),
# named ones only with it ("AT&T", "&notice" stay as written).
_ENTITY = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
_CAMEL_ASCII = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# A word with a letter outside ASCII, whose case the ASCII pattern cannot see.
_NON_ASCII_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")
_NON_ASCII_LETTER = re.compile(r"[^\x00-\x7f\W\d_]")
_CAMEL_HINT = re.compile(r"[a-z][A-Z]|[A-Z][A-Z][a-z]")

_RLO = "\u202e"
# Each control that opens a level: (opens an isolate, right-to-left, overrides the letters'
# own direction). The first-strong isolate is taken as left-to-right, as Latin text makes it.
_OPENERS = {
    "\u202a": (False, False, False), "\u202b": (False, True, False),
    "\u202d": (False, False, True), _RLO: (False, True, True),
    "\u2066": (True, False, False), "\u2067": (True, True, False), "\u2068": (True, False, False),
}
_PDF, _PDI = "\u202c", "\u2069"
_PARAGRAPH_ENDS = frozenset("\n\r\x1c\x1d\x1e\x85\u2029")
_MAX_DEPTH = 125


def _upside_down() -> dict[str, str]:
    """Each character of upside-down text to the letter it shows turned back
    (game/data/upside_down.txt)."""
    return datafiles.table("game", "upside_down.txt")


_TURNED = _upside_down()
# Characters that occur only in upside-down text (and a few other alphabets): their presence
# is what makes a turned reading worth taking.
_TURNED_MARKS = re.compile("[" + re.escape("".join(c for c in _TURNED if not c.isascii())) + "]")


def readings(text: str, decode: bool = False) -> list[Reading]:
    """The text as stored; rendered, if it has markup; displayed, if it has a right-to-left
    override; and, when `decode`, the last of those with URL escapes decoded and turned back
    from upside down, where it has them."""
    found: list[Reading] = [(text, None)]
    rendered = _rendered(text)
    if rendered is not None:
        found.append(rendered)
    shown = found[-1]
    if _RLO in shown[0]:
        found.append(_displayed(*shown))
    if decode:
        shown = found[-1]
        if "%" in shown[0] and _URL_ESCAPES.search(shown[0]):
            found.append(_replace(*shown, _URL_ESCAPES, lambda m: unquote(m.group())))
        if not shown[0].isascii() and _TURNED_MARKS.search(shown[0]):
            found.append(_turned(*shown))
    return [_camel_joined(*reading) for reading in found]


def _origin(index: list[int] | None, i: int) -> int:
    return i if index is None else index[i]


def _origins(index: list[int] | None, start: int, end: int) -> range | list[int]:
    """The original indices of the characters start to end of a reading."""
    return range(start, end) if index is None else index[start:end]


def _replace(
    text: str, index: list[int] | None, pattern: re.Pattern, replace: Callable[[re.Match], str]
) -> Reading:
    """Each match of the pattern replaced by `replace(match)`, whose characters all stand for the
    match's first character."""
    parts: list[str] = []
    new_index: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        start, end = m.span()
        parts.append(text[pos:start])
        new_index.extend(_origins(index, pos, start))
        replacement = replace(m)
        parts.append(replacement)
        new_index.extend([_origin(index, start)] * len(replacement))
        pos = end
    parts.append(text[pos:])
    new_index.extend(_origins(index, pos, len(text)))
    return "".join(parts), new_index


def _rendered(text: str) -> Reading | None:
    """What a browser or markdown viewer shows: markup and what it hides replaced by JOINERs,
    then entities decoded, in that order ("&lt;b&gt;" shows as "<b>", it is no tag). None when
    nothing would change."""
    hidden: list[tuple[int, int]] = []
    if "<" in text or "\x1b" in text:
        hidden.extend(_markup_spans(text))
    if "](" in text or "][" in text:
        for m in _LINK.finditer(text):
            hidden.extend(((m.start(), m.start(1)), (m.end(1), m.end())))
    reading: Reading = _hide(text, hidden) if hidden else (text, None)
    if "&" in reading[0] and _ENTITY.search(reading[0]):
        reading = _replace(*reading, _ENTITY, lambda m: html.unescape(m.group()))
    return None if reading[1] is None else reading


def _markup_spans(text: str) -> list[tuple[int, int]]:
    """The spans a browser does not show: escapes, comments and tags, and whole elements that
    are hidden or never shown ("ri<span hidden>zz</span>ng" shows "ring")."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := _MARKUP.search(text, pos)) is not None:
        end = m.end()
        name, attributes = m.group(1), m.group(2) or ""
        if name is not None:
            name = name.lower()
            closed = m.group(3) or attributes.rstrip().endswith("/") or name in _VOID_ELEMENTS
            if not closed and (name in _UNSHOWN_ELEMENTS or _HIDING_ATTRIBUTES.search(attributes)):
                end = _element_end(text, name, end)
        spans.append((m.start(), end))
        pos = max(end, m.start() + 1)
    return spans


@lru_cache(maxsize=64)
def _tag_pattern(name: str) -> re.Pattern:
    return re.compile(rf"<(/?){re.escape(name)}(?=[\s/>])[^<>]*>", re.IGNORECASE)


def _element_end(text: str, name: str, pos: int) -> int:
    """Where the element whose start tag ends at `pos` ends: after its end tag, counting nested
    elements of the same name (the first end tag for a script or style); the end of the text
    when it is not closed."""
    depth = 1
    for tag in _tag_pattern(name).finditer(text, pos):
        if tag.group(1):
            depth -= 1
        elif name not in _RAW_TEXT_ELEMENTS:
            depth += 1
        if depth == 0:
            return tag.end()
    return len(text)


def _hide(text: str, spans: list[tuple[int, int]]) -> Reading:
    """The text with each span replaced by one JOINER; overlapping or touching spans are one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for start, end in merged:
        parts.extend((text[pos:start], JOINER))
        index.extend(range(pos, start))
        index.append(start)
        pos = end
    parts.append(text[pos:])
    index.extend(range(pos, len(text)))
    return "".join(parts), index


def _turned(text: str, index: list[int] | None) -> Reading:
    """The text turned back from upside down: the order reversed and each character to the
    letter it shows; letters upside-down text does not use read as spaces."""
    order = range(len(text) - 1, -1, -1)
    chars = [_TURNED.get(text[i], " " if text[i].isalpha() else text[i]) for i in order]
    return "".join(chars), [_origin(index, i) for i in order]


def _displayed(text: str, index: list[int] | None) -> Reading:
    """The characters in display order, after the explicit embeddings, overrides and isolates of
    the Unicode bidirectional algorithm, with a left-to-right base direction. Of its implicit
    rules only the one that matters for Latin letters is kept (a strong letter inside an
    embedding of the other direction keeps its own); that is enough to place Latin letters
    exactly, and an override reverses them. The controls stay, each at the level outside it,
    and are read as invisible characters."""
    levels = _levels(text)
    order = list(range(len(text)))
    for level in range(max(levels, default=0), 0, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] < level:
                i += 1
                continue
            j = i
            while j < len(order) and levels[order[j]] >= level:
                j += 1
            order[i:j] = order[i:j][::-1]
            i = j
    return "".join(text[i] for i in order), [_origin(index, i) for i in order]


def _levels(text: str) -> list[int]:
    """The embedding level of each character; a control gets the level outside it."""
    stack = [(0, None, False)]  # (level, override direction or None, is an isolate)
    levels: list[int] = []
    for char in text:
        level, override, _ = stack[-1]
        if char in _PARAGRAPH_ENDS:
            stack = [(0, None, False)]
            levels.append(0)
        elif char in _OPENERS:
            isolate, rtl, forced = _OPENERS[char]
            inner = (level + 1) | 1 if rtl else (level + 2) & ~1
            levels.append(level)
            if inner > _MAX_DEPTH:
                stack.append((level, override, isolate))
            else:
                stack.append((inner, ("R" if rtl else "L") if forced else None, isolate))
        elif char == _PDF:
            if len(stack) > 1 and not stack[-1][2]:
                stack.pop()
            levels.append(stack[-1][0])
        elif char == _PDI:
            if any(frame[2] for frame in stack[1:]):
                while not stack.pop()[2]:
                    pass
            levels.append(stack[-1][0])
        elif override:
            levels.append(level)
        else:
            kind = unicodedata.bidirectional(char)
            odd = level % 2 == 1
            levels.append(level + 1 if (kind == "L" and odd) or (kind in ("R", "AL") and not odd) else level)
    return levels


def _camel_breaks(text: str) -> list[int]:
    """Where a capital starts a new word inside a word: "my|Ring", "HTML|Ring"."""
    breaks = {m.start() for m in _CAMEL_ASCII.finditer(text)} if _CAMEL_HINT.search(text) else set()
    if not text.isascii() and _NON_ASCII_LETTER.search(text):
        for m in _NON_ASCII_WORD.finditer(text):
            word = m.group()
            if not (word.islower() or word.isupper() or word.istitle()):
                breaks.update(m.start() + i for i in range(1, len(word)) if _starts_word(word, i))
    return sorted(breaks)


def _starts_word(word: str, i: int) -> bool:
    before, char = word[i - 1], word[i]
    return char.isupper() and (
        before.islower() or (before.isupper() and i + 1 < len(word) and word[i + 1].islower())
    )


def _camel_joined(text: str, index: list[int] | None) -> Reading:
    """The reading with a JOINER at each camelCase boundary, standing for the capital after it."""
    breaks = _camel_breaks(text)
    if not breaks:
        return text, index
    parts: list[str] = []
    new_index: list[int] = []
    pos = 0
    for b in breaks:
        parts.extend((text[pos:b], JOINER))
        new_index.extend(_origins(index, pos, b))
        new_index.append(_origin(index, b))
        pos = b
    parts.append(text[pos:])
    new_index.extend(_origins(index, pos, len(text)))
    return "".join(parts), new_index
