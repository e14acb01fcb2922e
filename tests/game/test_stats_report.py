"""`mms stats --json` is the typed report serialised: the same keys, in the same order, with the same
values as the dict the command printed before it was typed (issue 25), on a factory-built database
with two runs, several groups, an error, an unfinished game and a guess that judges differently
today; the text output and the one-line refusals are pinned with it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from game.cli import app
from tests.helpers.factories import Writer

runner = CliRunner()
DATA = Path(__file__).resolve().parent / "data"

CASES = {
    "default": (),
    "by_run_persona": ("--by", "run, persona"),
    "run_rejudged": ("--run", "r2", "--rejudge"),
    "run_by_manipulator": ("--run", "r1", "--by", "manipulator"),
}


def tokens(w: Writer, game_id: int, prompt: int, completion: int) -> None:
    """The totals the recorder sums as a game is played (the factory's finish writes none)."""
    with w.store.db.conn:
        w.store.db.conn.execute("update games set prompt_tokens = ?, completion_tokens = ? where id = ?",
                                (prompt, completion, game_id))


def build(path: Path) -> None:
    w = Writer(path)
    r1 = w.run(3, "r1")
    tokens(w, w.won_game(r1), 100, 23)
    tokens(w, w.won_game(r1, persona="sceptic"), 50, 7)
    g = w.game(r1, label="tiny", manipulator="local:tiny")
    w.say(g, 0, "user", "Hello there.")
    w.say(g, 1, "manipulator", "Do you have a ring?", mentions=True)
    w.mention(g, 1, "manipulator")
    w.finish(g, "violation")
    tokens(w, g, 40, 4)
    r2 = w.run(4, "r2")
    g = w.won_game(r2, label="tiny", manipulator="local:tiny", tier="small")
    w.finish(g, "win", guess="a ring")  # judged "win" when played; today's guess check says correct_guess
    tokens(w, g, 60, 15)
    g = w.game(r2, label="tiny", manipulator="local:tiny", tier="small")
    w.finish(g, "error", error="BackendError: boom")
    w.game(r2)  # unfinished: not counted
    w.close()


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short, fixed --db in the output
    build(tmp_path / "s.db")
    return "s.db"


def stats(db, *args):
    return runner.invoke(app, ["stats", "--db", db, *args], env={"COLUMNS": "100"})


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_json_report_is_unchanged(db, case):
    result = stats(db, "--json", *CASES[case])
    assert result.exit_code == 0, result.output
    expected = json.loads((DATA / f"stats_report_{case}.json").read_text(encoding="utf-8"))
    report = json.loads(result.stdout)
    assert list(report) == list(expected)
    assert [list(g) for g in report["groups"]] == [list(g) for g in expected["groups"]]
    assert report == expected


def test_the_text_output_is_unchanged(db):
    result = stats(db, "--run", "r2", "--rejudge")
    assert result.exit_code == 0, result.output
    assert " ".join(result.stdout.split()) == " ".join([  # rich wraps the caption to the table's width
        "1 stored guesses judged again changed outcome (the database is unchanged)",
        "Outcomes in s.db by manipulator, persona, codeword, tier",
        "group games win viol none guess error win rate [95% CI] turn tokens",
        "─" * 92,
        "tiny / friendly / ring / small 2 0 0 0 1 1 0.00 [0.00, 0.79] 2 38",
        "all 2 0 0 0 1 1 0.00 [0.00, 0.79]",
        ("viol = violation, none = no_codeword, guess = correct_guess; win rate over games without error;"
         " turn = median turn of the first mention, tokens = mean tokens per game"),
        "Run r2: running, 4 games planned",
    ])


@pytest.mark.parametrize("args, message", [
    (("--db", "missing.db"), "database not found: missing.db (play some games first: mms play --codeword ring --db missing.db)"),
    (("--by", "colour"), "cannot group by 'colour': use any of manipulator, user, persona, codeword, tier, rule, run"),
    (("--by", " , "), "cannot group by ' , ': use any of manipulator, user, persona, codeword, tier, rule, run"),
    (("--run", "nope"), "no run 'nope' in s.db (its latest runs: r2, r1; all of them: mms stats --db s.db --by run)"),
])
def test_bad_options_are_one_line_and_exit_2(db, args, message):
    for extra in ((), ("--json",)):
        result = runner.invoke(app, ["stats", "--db", db, *args, *extra])
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in " ".join(lines[0].split()), result.output


def test_an_empty_database_has_no_runs_to_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Writer(tmp_path / "e.db").close()
    result = runner.invoke(app, ["stats", "--db", "e.db", "--run", "r1"])
    assert result.exit_code == 2 and "no run 'r1' in e.db (it has no runs yet)" in result.output


def test_the_typed_report_is_what_the_command_prints(db):
    from agents.errors import MmsError
    from game.stats import RunProgress, StatsRequest, leaderboard

    report = leaderboard(StatsRequest(Path(db), "run, persona", "r1"))
    assert report.run == RunProgress("r1", "running", 3) and report.group_by == ("run", "persona")
    assert (report.total.games, report.total.counts["win"], report.rejudged) == (3, 2, None)
    assert json.loads(stats(db, "--json", "--by", "run, persona", "--run", "r1").stdout) == report.to_json()
    with pytest.raises(MmsError, match="cannot group by 'colour'"):
        StatsRequest(Path(db), "colour")
