"""One game printed in the terminal: the dialogue, the codeword highlighted, the monologue hidden.

Model text is untrusted: control characters (ESC, BEL, C1) are dropped (`game.safe_text`) and
nothing is read as Rich markup, so a reply cannot clear the screen, retitle the terminal or
inject a link.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from .referee import Referee
from .safe_text import strip_controls
from .store import Store

SEAT_STYLE = {"user": "cyan", "manipulator": "magenta"}


def closeness(game: dict[str, Any], messages: int) -> tuple[int, int]:
    """How close a game came to the goal: a win first, then a game where anyone said the word, then length."""
    rank = {"win": 3, "correct_guess": 2, "violation": 1}.get(game.get("outcome") or "", 0)
    return (rank, messages)


def closest_game(store: Store, run_id: str | None = None) -> dict[str, Any] | None:
    """The finished game of a run (or the database) that came closest; the earliest among equals."""
    best, best_key = None, None
    for game in store.read.games(run_id):
        if game.get("status") != "finished" or game.get("outcome") == "error":
            continue
        key = closeness(game, len(store.read.messages(game["id"])))
        if best_key is None or key > best_key:
            best, best_key = game, key
    return best


def highlighted(text: str, referee: Referee) -> Text:
    """The text with every mention of the codeword in bold reverse."""
    clean = strip_controls(text)
    out = Text(clean)
    for mention in referee.find(clean):
        out.stylize("bold reverse yellow", mention.start, mention.end)
    return out


def render_game(record: dict[str, Any]) -> Group:
    """A header with the players and outcome, then one panel per visible message (and the guess)."""
    referee = Referee(record["codeword"], record.get("rule") or "paper")
    players = record["players"]
    prompt = players.get("manipulator_prompt")
    header = Text.assemble(
        ("Game ", "bold"), (str(record["game_id"]), "bold"), " — codeword ", (strip_controls(record["codeword"]), "bold yellow"),
        " — outcome ", (record["outcome"] or "?", "bold green" if record["outcome"] == "win" else "bold"), "\n",
        f"manipulator {strip_controls(players['manipulator_label'])}"
        + (f" (system prompt: {strip_controls(prompt)})" if prompt else ""),
        f"; user {strip_controls(players['user'])}; topic: {strip_controls(record.get('topic') or '–')}",
    )
    parts: list[Any] = [header]
    mention = record.get("first_mention") or {}
    for message in record["messages"]:
        seat = message["speaker"]
        decisive = message["idx"] == mention.get("index")
        title = f"{seat} {message['turn']}" + (" — guess" if message["phase"] == "guess" else "") \
            + (" — first mention" if decisive else "")
        body = highlighted(message["text"], referee) if message["text"].strip() else Text("(nothing visible)", "dim")
        parts.append(Panel(body, title=Text(strip_controls(title)), title_align="left", border_style=SEAT_STYLE.get(seat, "white")))
    if record.get("guess") is not None:
        parts.append(Text.assemble("The user's guess: ", (strip_controls(str(record["guess"])), "bold")))
    return Group(*parts)
