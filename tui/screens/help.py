"""The help screen: every key, and how to write a filter."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..filters import HELP

KEYS = (
    ("↑ ↓  j k  PgUp PgDn  Home End", "move through the games; the end of the list loads older games"),
    ("enter, tab / shift+tab", "read the selected transcript; move between the panes"),
    ("f", "follow the newest running game (moving through the list yourself stops it)"),
    ("m", "show or hide the manipulator's private monologue"),
    ("/", "filter the games (an empty filter shows them all)"),
    ("s, n", "search the transcript, then jump to the next match"),
    ("e", "show earlier messages of a very long transcript"),
    ("o", "read all of a long message shown cut (or click its note)"),
    ("r", "read the database now (it is read every half second anyway)"),
    ("escape", "close the filter or search box"),
    ("?", "this help"),
    ("q", "quit"),
)

ABOUT = ("A manipulator model secretly tries to make the user say a codeword. The list shows every game "
         "in the database, newest first; the right pane shows the selected game as a chat.")
TRANSCRIPT = ("The codeword is highlighted wherever the referee counts it; the message that decided the game "
              "is marked ◆; the guess says whether it was right. The monologue is what the manipulator "
              "thought privately: the user never sees it.")


def help_content() -> Content:
    width = max(len(key) for key, _ in KEYS)
    parts = [Content.styled("make-me-say · watch\n\n", "bold"), Content(ABOUT + "\n\n")]
    for key, does in KEYS:
        parts += [Content.styled(key.ljust(width + 2), "bold $text-accent"), Content(does + "\n")]
    parts += [Content.styled("\nFilter  ", "bold"), Content(HELP + "\n"),
              Content.styled("\nTranscript  ", "bold"), Content(TRANSCRIPT)]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_content())
