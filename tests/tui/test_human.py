"""A person in the user's seat, typing into the UI, against a scripted manipulator: real rules."""

import asyncio

import pytest
from textual.widgets import Input, Static
from tests.helpers.tui import settle, type_text, until

from agents.human import HumanPlayer, prompt_for
from agents.players import Turn
from agents import prompts
from game.monologue import END, START
from game.rules import GameSettings
from game.runner import plan_games
from game.store import Store
from tui.app import play_app
from tui.highlight import CODEWORD_STYLE
from tui.play import human_session

SECRET = "Jewellery is the way to make them say it"


@pytest.fixture
def human_game(tmp_path, script):
    """A fresh human game against a manipulator with a monologue; returns (app, store, session)."""

    def make(*lines: str, per_player: int = 2):
        manipulator = script(*lines)
        settings = GameSettings(codeword="ring", messages_per_player=per_player)
        setup = plan_games(settings, manipulator, "human", 1, seed=3)[0]
        store = Store(tmp_path / "human.db")
        run_id = store.create_run("play", {}, 1, run_id="human-run")
        session = human_session(store, run_id, setup)
        return play_app(store.path, session, poll_interval=None), store, session

    return make


def bubbles(app) -> list[str]:
    return [str(b.visual) for b in app.screen.query(".bubble")]


async def answer(pilot, text: str) -> None:
    box = pilot.app.screen.query_one("#reply", Input)
    await until(pilot, lambda: not box.disabled and pilot.app.screen.seat.pending is not None)
    await type_text(pilot, text)
    await pilot.press("enter")


async def test_a_person_plays_from_opening_to_verdict(human_game):
    app, store, session = human_game(f"{START}{SECRET}{END}Tell me about your jewellery.", "How lovely.")
    async with app.run_test(size=(100, 30)) as pilot:
        await answer(pilot, "Hello")
        await answer(pilot, "My ring")
        box = app.screen.query_one("#reply", Input)
        await until(pilot, lambda: session.human.pending is not None)
        assert session.human.pending.kind == "guess"
        assert "Which word do you think it was" in str(app.screen.query_one("#human-status", Static).visual)
        await type_text(pilot, "a b")
        await pilot.press("enter")
        await pilot.pause()
        assert session.human.pending is not None  # refused: a guess is one word
        await pilot.press(*["backspace"] * 3)
        await type_text(pilot, "necklace")
        await pilot.press("enter")
        await until(pilot, lambda: box.placeholder.startswith("game over"))
        await settle(pilot)

        status = str(app.screen.query_one("#human-status", Static).visual)
        assert status.startswith("The assistant won. Its secret word was “ring”: you said it in message 3")
        shown = bubbles(app)
        assert shown == ["Hello", "Tell me about your jewellery.", "My ring", "How lovely.", "necklace"]
        assert not any(SECRET in text or "Game status" in text for text in shown)
        said = app.screen.query(".bubble")[2].visual
        assert [said.plain[s.start:s.end] for s in said.spans if s.style == CODEWORD_STYLE] == ["ring"]

    game = store.read.games("human-run")[0]
    assert (game["user"], game["status"], game["outcome"], game["guess"]) == ("human", "finished", "win", "necklace")
    assert (game["first_mention_speaker"], game["first_mention_index"]) == ("user", 2)
    msgs = store.read.messages(game["id"])
    assert [(m["speaker"], m["phase"], m["visible_text"]) for m in msgs] == [
        ("user", "conversation", "Hello"),
        ("manipulator", "conversation", "Tell me about your jewellery."),
        ("user", "conversation", "My ring"),
        ("manipulator", "conversation", "How lovely."),
        ("user", "guess", "necklace"),
    ]
    assert msgs[1]["private_text"] == SECRET


async def test_the_person_never_sees_monologue_or_status_notes(human_game):
    app, _, session = human_game(f"{START}{SECRET}{END}Do you like rings?", "Nice.", per_player=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await answer(pilot, "Hi")
        await until(pilot, lambda: session.human.pending is not None)
        history = session.human.pending.history
        assert [(line.speaker, line.text) for line in history] == [("you", "Hi"), ("assistant", "Do you like rings?")]
        assert not any(SECRET in b for b in bubbles(app))
        await answer(pilot, "No")
        await until(pilot, lambda: app.screen.query_one("#reply", Input).placeholder.startswith("game over"))
        assert "broke the rules" in str(app.screen.query_one("#human-status", Static).visual)


def test_the_guess_prompt_shows_only_what_the_user_saw():
    history = [Turn("user", "Hi there", "Hi there"),
               Turn("manipulator", "Lovely.", f"{START}{SECRET}{END}Lovely.", "Game status: turn 1 of 2")]
    prompt = prompt_for("guess", history)
    assert prompt.kind == "guess" and prompt.question == prompts.text("user_guess.txt") and prompt.number == 2
    assert [(line.speaker, line.text) for line in prompt.history] == [("you", "Hi there"), ("assistant", "Lovely.")]
    assert prompt_for("reply", []).kind == "reply" and prompt_for("reply", []).history == ()


async def test_the_seat_waits_for_the_persons_text():
    seen = []
    asked = asyncio.Event()
    seat = HumanPlayer(on_prompt=lambda prompt: (seen.append(prompt), asked.set()))

    reply = asyncio.ensure_future(seat.reply([]))
    await asked.wait()
    assert seen[0].kind == "reply" and seen[0].number == 1 and not reply.done()
    seat.answer("hello")
    assert (await reply).text == "hello" and seat.pending is None
