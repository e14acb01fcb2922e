"""Hostile text in `mms watch` and the human seat: escape sequences masked, markup shown as written."""

import contextlib
import re

from rich.cells import cell_len
from textual.widgets import Input, Static
from tests.helpers.tui import poll, settle, type_text, until

from game.rules import GameSettings
from game.runner import plan_games
from game.store import Store
from tui.app import play_app, watch_app
from tui.play import human_session
from tui.widgets.long_text import LongText

CLEAR, TITLE, CSI = "\u001b[2J", "\u001b]0;x\u0007", "\u009b"
QUIT = "[@click=app.quit]QUIT[/]"
HOSTILE = f"a{CLEAR}b{TITLE}c{CSI}d{QUIT}"
SHOWN = "a\ufffd[2Jb\ufffd]0;x\ufffdc\ufffdd" + QUIT
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def screen_lines(app) -> list[str]:
    """Every line of the screen exactly as it would be written to the terminal."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def click_each(pilot, word: str) -> int:
    """Click every place `word` is on screen, as a person might; how many there were."""
    found = [(cell_len(line[:x]) + 1, y) for y, line in enumerate(screen_lines(pilot.app))
             for x in (m.start() for m in re.finditer(re.escape(word), line))]
    for x, y in found:
        await pilot.click(offset=(x, y))
        await settle(pilot)
        assert pilot.app.is_running, f"a click at {(x, y)} ran markup's action"
    return len(found)


def hostile_game(writer, outcome: str) -> None:
    run = writer.run(games_planned=1)
    g = writer.game(run, label="lab" + CSI, topic="top" + HOSTILE)
    writer.say(g, 0, "user", "hi " + HOSTILE)
    writer.say(g, 1, "manipulator", "yo " + HOSTILE, "plan " + HOSTILE)
    writer.say(g, 2, "user", "<|START GUESS|>x<|END GUESS|>", phase="guess")
    writer.finish(g, outcome, guess="g" + HOSTILE, error="err" + HOSTILE)


@contextlib.asynccontextmanager
async def watching_hostile_game(writer, outcome):
    """`mms watch` on a hostile game: the pilot and the screen, which holds no raw control."""
    hostile_game(writer, outcome)
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(200, 60)) as pilot:
        await poll(pilot)
        screen = "\n".join(screen_lines(app))
        assert not RAW_CONTROL.search(screen)
        yield pilot, screen


async def test_watch_shows_hostile_messages_guess_and_error_inert(writer):
    async with watching_hostile_game(writer, "error") as (pilot, screen):
        assert "hi " + SHOWN in screen and "yo " + SHOWN in screen and "plan " + SHOWN in screen
        assert "top" + SHOWN in screen
        assert "guess: g" + SHOWN in screen  # the guess message's border
        assert "the game failed: err" + SHOWN in screen  # the verdict banner
        assert await click_each(pilot, "QUIT") >= 6


async def test_watch_verdict_banner_shows_the_guess_inert(writer):
    async with watching_hostile_game(writer, "win") as (pilot, screen):
        assert f"guessed “g{SHOWN}”" in screen
        assert await click_each(pilot, "QUIT") >= 4


async def test_filter_text_and_its_error_are_shown_as_written(writer):
    hostile_game(writer, "win")
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(200, 60), notifications=True) as pilot:
        await poll(pilot)
        await pilot.press("slash")
        await type_text(pilot, "[b]zz")
        await pilot.press("enter")
        await settle(pilot)
        assert "filter [b]zz" in "\n".join(screen_lines(app))  # the games list's border title
        await pilot.press("slash")
        await type_text(pilot, "o:[@click=app.quit]zap")
        await pilot.press("enter")
        await settle(pilot)
        assert "'[@click=app.quit]zap'" in "\n".join(screen_lines(app))  # the error notification
        assert await click_each(pilot, "zap") >= 1


async def test_the_human_seat_shows_the_assistant_and_the_verdict_inert(tmp_path, script):
    manipulator = script("Tell me a story " + HOSTILE, "Lovely.")
    setup = plan_games(GameSettings(codeword="ring", messages_per_player=2), manipulator, "human", 1, seed=3)[0]
    store = Store(tmp_path / "human.db")
    session = human_session(store, store.create_run("play", {}, 1, run_id="human-run"), setup)
    app = play_app(store.path, session, poll_interval=None)
    async with app.run_test(size=(200, 60)) as pilot:
        box = app.screen.query_one("#reply", Input)
        for text in ("Hello", "My ring", "[@click=app.quit]QUIT"):
            await until(pilot, lambda: not box.disabled and session.human.pending is not None)
            if text == "My ring":
                screen = "\n".join(screen_lines(app))
                assert "Tell me a story " + SHOWN in screen and not RAW_CONTROL.search(screen)
            await type_text(pilot, text)
            await pilot.press("enter")
        await until(pilot, lambda: box.placeholder.startswith("game over"))
        await settle(pilot)
        screen = "\n".join(screen_lines(app))
        assert "guessed “[@click=app.quit]QUIT”" in screen and not RAW_CONTROL.search(screen)
        assert await click_each(pilot, "QUIT") >= 2


async def test_a_long_hostile_message_stays_inert_cut_and_whole(writer):
    filler = "and on and on " * 400
    run = writer.run(games_planned=1)
    g = writer.game(run)
    writer.say(g, 0, "manipulator", f"{HOSTILE} {filler}{HOSTILE}", f"{HOSTILE} {filler}")
    writer.finish(g, "no_codeword")
    app = watch_app(writer.store.path, follow=False, poll_interval=None)
    async with app.run_test(size=(200, 60)) as pilot:
        await poll(pilot)
        screen = "\n".join(screen_lines(app))
        assert SHOWN in screen and not RAW_CONTROL.search(screen)
        assert "more characters of the message" in str(app.screen.query_one(".cut-note", Static).visual)
        await pilot.press("o")
        await settle(pilot)
        text = app.screen.query_one(LongText)
        assert not RAW_CONTROL.search(text.document.text)
        top = [text.render_line(y).text for y in range(text.scrollable_content_region.height)]
        assert top[0].startswith(f"private › {SHOWN} and on") and not RAW_CONTROL.search("".join(top))
        text.scroll_end(animate=False, immediate=True)
        bottom = [text.render_line(y).text.rstrip() for y in range(text.scrollable_content_region.height)]
        assert bottom[-1].endswith(f"and on {SHOWN}") and not RAW_CONTROL.search("".join(bottom))
