"""Hostile text (escape sequences, C1 controls, Rich markup) stays inert wherever it is shown or exported."""

import json
import re

from game.safe_text import json_safe, markup_safe, mask_controls, strip_controls

CLEAR, TITLE, CSI = "\u001b[2J", "\u001b]0;x\u0007", "\u009b"
HOSTILE = f"a{CLEAR}b{TITLE}c{CSI}d"
# Any C0 control but tab and newline, DEL, any C1 control.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_strip_controls_keeps_the_text_and_drops_every_control():
    assert strip_controls(HOSTILE + "\r\ne\rf\tg\n\u202egnir\u202c") == "a[2Jb]0;xcd\ne\nf\tg\ngnir"


def test_mask_controls_keeps_every_offset():
    masked = mask_controls(HOSTILE)
    assert len(masked) == len(HOSTILE) and not RAW_CONTROL.search(masked)
    assert masked == "a\ufffd[2Jb\ufffd]0;x\ufffdc\ufffdd"


def test_markup_safe_is_literal_under_rich():
    from rich.text import Text

    assert Text.from_markup(markup_safe("[bold red]x [/] [@click=app.quit]q" + CLEAR)).plain \
        == "[bold red]x [/] [@click=app.quit]q[2J"


def test_json_safe_round_trips_and_leaves_nothing_raw():
    text = HOSTILE + "\x7f\u202e\\\x9b"
    encoded = json_safe(json.dumps({"t": text}, ensure_ascii=False))
    assert json.loads(encoded) == {"t": text}
    assert not RAW_CONTROL.search(encoded) and "\u202e" not in encoded
