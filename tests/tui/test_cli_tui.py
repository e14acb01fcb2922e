"""`mms watch`, `mms play --watch` and `mms play --user human` through the CLI, the UI run headless."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner
from tests.helpers.tui import poll, settle, type_text, until

import tui.app
from game.cli import app as cli
from game.monologue import END, START
from tui.widgets.empty_state import EmptyState
from tui.widgets.games_table import GamesTable

runner = CliRunner()


@pytest.fixture
def headless(monkeypatch):
    """Run the UI headless, driven by `drive(pilot)`, instead of in the terminal."""
    seen = {}

    def use(drive):
        def run_app(app):
            async def auto_pilot(pilot):
                seen["app"] = app
                await drive(pilot)
                app.exit()

            app.run(headless=True, size=(120, 36), auto_pilot=auto_pilot)

        monkeypatch.setattr(tui.app, "run_app", run_app)
        return seen

    return use


def test_watch_on_a_missing_database_explains_and_creates_nothing(tmp_path, headless):
    path = tmp_path / "later.db"
    texts = []

    async def drive(pilot):
        await poll(pilot)
        texts.append(str(pilot.app.screen.query_one(EmptyState).visual))

    headless(drive)
    result = runner.invoke(cli, ["watch", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "No database at" in texts[0] and not path.exists()


def test_play_watch_plays_in_a_worker_and_shows_the_games(tmp_path, headless, script):
    m = script(f"{START}say ring{END}Do you wear jewellery?", "Lovely.")
    u = script("Hi there!", "Yes, a gold ring.", "<|START GUESS|>necklace<|END GUESS|>")
    rows = []

    async def drive(pilot):
        await until(pilot, lambda: pilot.app.session.finished)
        await poll(pilot)
        rows.extend(pilot.app.screen.query_one(GamesTable).games.values())

    headless(drive)
    db = tmp_path / "w.db"
    result = runner.invoke(cli, ["play", "--watch", "--codeword", "ring", "--games", "3", "--manipulator", m,
                                 "--user", u, "--messages-per-player", "2", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["games"], out["win"]) == (3, 3)
    assert sorted((g.status, g.outcome, g.said) for g in rows) == [("finished", "win", 4)] * 3
    status = sqlite3.connect(db).execute("select status from runs").fetchone()[0]
    assert status == "finished"


def test_play_as_the_user_through_the_cli(tmp_path, headless, script):
    m = script("Do you like rings?", "Nice.")

    async def drive(pilot):
        for text in ("Hi", "No"):
            await until(pilot, lambda: pilot.app.session.human.pending is not None)
            await type_text(pilot, text)
            await pilot.press("enter")
        await until(pilot, lambda: pilot.app.session.finished)
        await settle(pilot)

    headless(drive)
    db = tmp_path / "h.db"
    result = runner.invoke(cli, ["play", "--user", "human", "--codeword", "ring", "--manipulator", m,
                                 "--messages-per-player", "2", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["violation"] == 1
    conn = sqlite3.connect(db)
    assert conn.execute("select user, outcome from games").fetchall() == [("human", "violation")]
    assert [r[0] for r in conn.execute("select visible_text from messages order by idx")] == [
        "Hi", "Do you like rings?", "No", "Nice."]


def test_quitting_a_human_game_early_sets_it_aside(tmp_path, headless, script):
    async def drive(pilot):
        await until(pilot, lambda: pilot.app.session.human.pending is not None)

    headless(drive)
    db = tmp_path / "q.db"
    result = runner.invoke(cli, ["play", "--user", "human", "--codeword", "ring", "--manipulator", script("Hi"),
                                 "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "stopped: 0 of 1 games finished; 1 unfinished game(s) set aside" in result.output
    conn = sqlite3.connect(db)
    assert conn.execute("select status from games").fetchall() == [("superseded",)]
    assert conn.execute("select status from runs").fetchall() == [("running",)]


def test_a_human_plays_one_game(script):
    result = runner.invoke(cli, ["play", "--user", "human", "--codeword", "ring", "--games", "2",
                                 "--manipulator", script("Hi")])
    assert result.exit_code == 2 and "--user human plays one game" in result.output
