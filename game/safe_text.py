"""Untrusted text made safe for a terminal, a Rich/Textual renderer or a text export.

Model replies, guesses, error messages, labels and paths typed by a user reach terminals and
files that terminals show (`cat transcripts.md`). A control character there is an instruction:
ESC and C1 open escape sequences (clear the screen, retitle the window, write hyperlinks), BEL
rings, CR and BS overwrite what was printed. Bidi embedding, override and isolate controls
reorder what a reader sees, so the text on screen is not the text that was judged. Rich and
Textual also read ``[...]`` as markup, actions included (``[@click=app.quit]``).

What is stored is never changed: every sink cleans text on the way out. JSON sinks escape
instead (:func:`json_safe`), so the exact text survives a round trip.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from rich.markup import escape

REPLACEMENT = "\ufffd"

# C0 but tab and newline, DEL, C1; the bidi embeddings, overrides (U+202A-E) and isolates (U+2066-9).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CRLF = re.compile("\r\n?")


def strip_controls(text: str) -> str:
    """The text without unsafe characters; a CR or CRLF line break becomes a newline.

    For terminal output and text exports, where offsets into the text no longer matter.
    """
    return UNSAFE.sub("", _CRLF.sub("\n", text))


def mask_controls(text: str) -> str:
    """Each unsafe character replaced by U+FFFD, one for one, so that spans found in the
    original text (the referee's mentions, search hits) still point at the same characters,
    and a reader sees that something was there."""
    return UNSAFE.sub(REPLACEMENT, text)


def markup_safe(text: str) -> str:
    """Text to put inside a Rich markup string: controls stripped, every ``[`` literal."""
    return escape(strip_controls(text))


def json_safe(encoded: str) -> str:
    """A JSON document (``json.dumps(..., ensure_ascii=False)``) with the unsafe characters
    that JSON leaves raw (DEL, C1, bidi controls) written as ``\\uXXXX``: the same text
    when parsed, inert when the file is shown. Outside strings JSON is ASCII, so only
    string contents are touched."""
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def finite(value: Any) -> Any:
    """`value` with each float that JSON cannot hold (inf, nan) as None, in dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def json_dumps(value: Any, **options: Any) -> str:
    """`json.dumps` that never writes `Infinity` or `NaN`, which are not JSON: a database written
    before server replies were checked may hold such a token count, and it is written as null."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False, **options)
