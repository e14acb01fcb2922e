"""The games list: one row per game, newest first, updated in place as games advance."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from game.safe_text import mask_controls

from ..messages import UserNavigated
from ..reader import ListedGame

OUTCOME_STYLES = {"win": "bold green", "correct_guess": "yellow", "violation": "red",
                  "no_codeword": "bright_black", "error": "bold red"}
COLUMNS = (("id", "id"), ("codeword", "codeword"), ("manipulator", "manipulator"), ("user", "seat"),
           ("turn", "turn"), ("status", "status"), ("outcome", "outcome"))


class GamesTable(DataTable):
    """Keyed by game id. Moves the person makes post `UserNavigated`; moves made by code do not."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "Games", key_display="↑↓"),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.games: dict[int, ListedGame] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    # -- contents ----------------------------------------------------------------------------

    @property
    def oldest_id(self) -> int | None:
        return min(self.games) if self.games else None

    @property
    def cursor_game_id(self) -> int | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except RowDoesNotExist:
            return None
        return int(key.value) if key.value is not None else None

    def replace_all(self, games: list[ListedGame]) -> None:
        self.clear()
        self.games.clear()
        self.add_games(games)

    def add_games(self, games: list[ListedGame]) -> None:
        """Add or update games, keeping newest first and the cursor on the same game."""
        keep = self.cursor_game_id
        added = False
        for game in games:
            if game.id in self.games:
                self.update_game(game)
            else:
                self.games[game.id] = game
                self.add_row(*_cells(game), key=str(game.id))
                added = True
        if added:
            self.sort("id", reverse=True)
            if keep is not None:
                self.move_to(keep)

    def update_game(self, game: ListedGame) -> None:
        old = self.games.get(game.id)
        self.games[game.id] = game
        if old == game:
            return
        for (key, _), value in zip(COLUMNS, _cells(game)):
            self.update_cell(str(game.id), key, value, update_width=True)

    def remove_game(self, game_id: int) -> None:
        if self.games.pop(game_id, None) is not None:
            keep = self.cursor_game_id
            self.remove_row(str(game_id))
            if keep is not None and keep != game_id:
                self.move_to(keep)

    def move_to(self, game_id: int) -> bool:
        """Put the cursor on a game (no `UserNavigated`)."""
        try:
            row = self.get_row_index(str(game_id))
        except RowDoesNotExist:
            return False
        self.move_cursor(row=row)
        return True

    # -- the person's own moves --------------------------------------------------------------

    def _moved_by_person(self) -> None:
        self.post_message(UserNavigated())

    def action_cursor_up(self) -> None:
        self._moved_by_person()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._moved_by_person()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self._moved_by_person()
        super().action_page_up()

    def action_page_down(self) -> None:
        self._moved_by_person()
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self._moved_by_person()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._moved_by_person()
        super().action_scroll_bottom()

    async def _on_click(self, event: events.Click) -> None:
        self._moved_by_person()
        await super()._on_click(event)


def _cells(game: ListedGame) -> tuple:
    status = Text("done" if game.status == "finished" else mask_controls(game.status), style="bold cyan" if game.status == "running" else "")
    outcome = Text(mask_controls(game.outcome or "–"), style=OUTCOME_STYLES.get(game.outcome or "", "bright_black"))
    turn = Text(f"{min(game.said, game.total)}/{game.total}", justify="right")
    codeword, label, seat = (mask_controls(t) for t in (game.codeword, game.manipulator_label, game.seat))
    return (game.id, Text(codeword), Text(short(label, 18)), Text(short(seat, 10)),
            turn, status, outcome)


def short(label: str, width: int = 24) -> str:
    """A long spec cut in the middle: `scripted:…/manipulator.json`."""
    if len(label) <= width:
        return label
    prefix, sep, _ = label.partition(":")
    head = prefix + sep if sep and len(prefix) < width // 2 else ""
    return head + "…" + label[len(label) - (width - len(head) - 1):]
