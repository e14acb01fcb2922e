"""`mms watch` driven with Pilot: live updates from another connection, transcripts, toggles."""

from textual.widgets import Input, Static
from tests.helpers.factories import MONOLOGUE
from tests.helpers.tui import poll, settle, type_text

from tui.app import watch_app
from tui.highlight import CODEWORD_STYLE, SEARCH_STYLE
from tui.screens.help import HelpScreen
from tui.widgets.empty_state import EmptyState
from tui.widgets.games_table import GamesTable
from tui.widgets.run_header import RunHeader
from tui.widgets.transcript import Transcript



def rows(app) -> list[list[str]]:
    table = app.screen.query_one(GamesTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def transcript(app) -> Transcript:
    return app.screen.query_one(Transcript)


def texts(app) -> list[str]:
    return [m.message.visible_text for m in transcript(app).messages]


def plain(widget: Static) -> str:
    return str(widget.visual)


async def test_list_follows_games_written_by_another_connection(writer):
    app = watch_app(writer.store.path, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.has_class("-empty")
        run = writer.run(games_planned=2)
        g1 = writer.game(run)
        writer.say(g1, 0, "user", "Hi! I spent the week clearing out old boxes.")
        await poll(pilot)
        assert not app.screen.has_class("-empty")
        assert rows(app) == [[str(g1), "ring", "smollm2", "friendly", "1/4", "running", "–"]]
        assert texts(app) == ["Hi! I spent the week clearing out old boxes."]  # follow: the running game

        writer.say(g1, 1, "manipulator", "Anything precious inside?", MONOLOGUE)
        g2 = writer.game(run, codeword="bark", label="gpt-4o")
        await poll(pilot)
        assert [r[0] for r in rows(app)] == [str(g2), str(g1)]  # newest first
        assert rows(app)[1][4] == "2/4"
        assert transcript(app).game.id == g2  # follow moved to the newest running game

        writer.say(g2, 0, "user", "Dogs are loud.")
        writer.mention(g2, 0, "user")  # not a mention, but the row changes: the list must show it
        writer.finish(g1, "no_codeword")
        await poll(pilot)
        assert rows(app)[1][5:] == ["done", "no_codeword"]
        header = plain(app.screen.query_one(RunHeader))
        assert "1/2 done" in header and "1 playing" in header and "win 0% (0/1)" in header


async def test_selecting_a_game_shows_its_transcript_and_outcome(writer):
    run = writer.run()
    won = writer.won_game(run)
    other = writer.game(run, codeword="bark")
    writer.say(other, 0, "user", "I walked the dog today.")
    writer.finish(other, "error", error="BackendError: model down")
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        assert transcript(app).game.id == other  # nothing to follow: the newest game
        assert "model down" in plain(app.screen.query_one("#banner", Static))
        await pilot.press("down")
        await settle(pilot)
        t = transcript(app)
        assert t.game.id == won
        assert texts(app)[2] == "Two gold rings from my grandmother, and a ring box."
        assert [m.has_class("-deciding") for m in t.messages] == [False, False, True, False, False]
        guess = t.messages[-1]
        assert guess.has_class("-guess") and "guess: necklace ✗" in str(guess.border_subtitle)
        banner = app.screen.query_one("#banner", Static)
        assert banner.display and banner.has_class("-win")
        assert plain(banner).startswith("WIN — the user said “ring” in message 3 and guessed “necklace”")


async def test_monologue_toggle_hides_and_shows_private_text(writer):
    writer.won_game(writer.run())
    app = watch_app(writer.store.path, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        private = app.screen.query(".monologue")
        assert [plain(w) for w in private] == [f"private › {MONOLOGUE}", "private › They said it. Stay calm."]
        assert all(w.display for w in private)
        await pilot.press("m")
        await pilot.pause()
        assert transcript(app).has_class("-hide-monologue")
        assert not any(w.display for w in private)
        assert all(m.query_one(".body").display for m in transcript(app).messages)
        await pilot.press("m")
        await pilot.pause()
        assert all(w.display for w in private)


async def test_every_mention_of_the_codeword_is_highlighted(writer):
    writer.won_game(writer.run())
    app = watch_app(writer.store.path, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        said = transcript(app).messages[2].query_one(".body", Static)
        content = said.visual
        marked = [content.plain[s.start:s.end] for s in content.spans if s.style == CODEWORD_STYLE]
        assert marked == ["rings", "ring"]
        # ...and it shows on screen: the rendered "rings" is styled, the words around it are not.
        segments = [seg for y in range(said.size.height) for seg in said.render_line(y)]
        styled = {seg.text.strip(): seg.style for seg in segments if seg.text.strip() in ("rings", "ring")}
        plain_style = next(seg.style for seg in segments if "gold" in seg.text)
        assert styled["rings"].bold and styled["ring"].bold and not plain_style.bold
        assert styled["rings"].bgcolor != plain_style.bgcolor
        # The monologue's mention of the codeword is marked too; "jewellery" is not.
        thought = transcript(app).messages[1].query_one(".monologue", Static).visual
        assert [thought.plain[s.start:s.end] for s in thought.spans if s.style == CODEWORD_STYLE] == ["ring"]


async def test_filter_and_search(writer):
    run = writer.run()
    won = writer.won_game(run)
    lost = writer.game(run, codeword="bark", label="gpt-4o")
    writer.finish(lost, "violation")
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(pilot)
        await pilot.press("slash")
        await type_text(pilot, "o:win")
        await pilot.press("enter")
        await settle(pilot)
        assert [r[0] for r in rows(app)] == [str(won)]
        assert "filter: outcome:win" in plain(app.screen.query_one(RunHeader))
        await pilot.press("slash", "ctrl+u", "enter")
        await settle(pilot)
        assert len(rows(app)) == 2

        await pilot.press("s")
        await type_text(pilot, "grand")
        await pilot.press("enter")
        await settle(pilot)
        t = transcript(app)
        hits = [m for m in t.messages if any(s.style == "bold reverse" for s in m.query_one(".body").visual.spans)]
        assert SEARCH_STYLE == "bold reverse" and [m.message.idx for m in hits] == [2]
        assert app.screen.query_one("#search", Input).display is False


async def test_help_screen(writer):
    app = watch_app(writer.store.path, poll_interval=None)
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_missing_database_shows_how_to_start_and_is_not_created(tmp_path):
    path = tmp_path / "nothing.db"
    app = watch_app(path, poll_interval=None)
    async with app.run_test() as pilot:
        await poll(pilot)
        empty = app.screen.query_one(EmptyState)
        assert empty.display and app.screen.has_class("-empty")
        assert f"No database at {path} yet" in plain(empty)
        assert f"mms play --codeword ring --db {path}" in plain(empty)
    assert not path.exists()


async def test_empty_database_says_no_games_yet(writer):
    app = watch_app(writer.store.path, poll_interval=None)
    async with app.run_test() as pilot:
        await poll(pilot)
        assert "No games yet" in plain(app.screen.query_one(EmptyState))
        assert app.screen.query_one(EmptyState).display


async def test_large_database_is_paged(writer):
    run = writer.run(games_planned=260)
    base = {"run_id": run, "codeword": "ring", "manipulator": "local:smollm2", "manipulator_label": "smollm2",
            "user": "local:smollm2", "persona": "friendly", "rule": "paper", "messages_per_player": 5,
            "status": "finished", "outcome": "win"}
    writer.store.db["games"].insert_all({**base, "game_key": f"k{i}"} for i in range(260))
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await poll(pilot)
        table = app.screen.query_one(GamesTable)
        assert table.row_count == 200 and table.border_title.startswith("games 200 of 260")
        await pilot.press("end")
        await settle(pilot)
        assert table.row_count == 260 and table.border_title == "games · 260"


async def test_a_long_transcript_mounts_only_its_newest_messages(writer, monkeypatch):
    monkeypatch.setattr("tui.widgets.transcript.WINDOW", 10)
    monkeypatch.setattr("tui.screens.watch.WINDOW", 10)
    g = writer.game(writer.run(), per_player=12)
    writer.store.db["messages"].insert_all(
        {"game_id": g, "idx": i, "turn": i // 2 + 1, "speaker": ("user", "manipulator")[i % 2],
         "phase": "conversation", "visible_text": f"message {i}", "private_text": "", "mentions": 0}
        for i in range(24))
    app = watch_app(writer.store.path, poll_interval=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await poll(pilot)
        assert texts(app) == [f"message {i}" for i in range(14, 24)]
        assert "14 earlier messages not shown" in plain(app.screen.query_one("#hidden-note", Static))
        await pilot.press("e")
        await settle(pilot)
        assert len(texts(app)) == 20 and texts(app)[0] == "message 4"
