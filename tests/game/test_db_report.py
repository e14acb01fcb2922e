"""`mms db merge --json` and `mms db migrate --json` are typed reports serialised, key for key as
before they were typed (issue 25), on factory-built shards; the text lines and the one-line
refusals are pinned with them."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from game.cli import app
from tests.helpers.factories import Writer

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["db", *args], env={"COLUMNS": "200"})


@pytest.fixture
def shards(tmp_path, monkeypatch):
    """Two shards of run r1 (three games planned) that overlap in one game, and a run r2 left unfinished."""
    monkeypatch.chdir(tmp_path)  # short, fixed paths in the output
    a = Writer(tmp_path / "a.db")
    r1 = a.run(3, "r1")
    a.won_game(r1, game_key="k0")
    a.won_game(r1, game_key="k1")
    a.close()
    b = Writer(tmp_path / "b.db")
    r1 = b.run(3, "r1")
    b.won_game(r1, game_key="k1")
    b.won_game(r1, game_key="k2")
    b.game(b.run(2, "r2"), game_key="k0")
    b.close()
    return ["a.db", "b.db"]


def test_the_merge_json_report_is_unchanged(shards):
    result = invoke("merge", "out.db", *shards, "--json")
    assert result.exit_code == 0, result.output
    expected = {"inputs": 2, "runs": 2, "games": 3, "messages": 15, "duplicates": 1, "unfinished": 1,
                "finished_runs": 1}
    report = json.loads(result.stdout)
    assert list(report) == list(expected)
    assert report == expected


def test_the_merge_text_line_is_unchanged(shards):
    result = invoke("merge", "out.db", *shards)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("merged 3 games (15 messages) from 2 databases into out.db; skipped 1 duplicates and "
                             "1 unfinished games; 1 run(s) now have every planned game and are finished\n")
    again = invoke("merge", "out.db", "b.db")
    assert again.stdout == ("merged 0 games (0 messages) from 1 databases into out.db; skipped 2 duplicates and "
                            "1 unfinished games\n")


@pytest.mark.parametrize("args, message", [
    (("out.db", "a.db", "nope.db", "gone.db"), "input database not found: nope.db, gone.db"),
    (("a.db", "b.db", "a.db"), "the output database must not also be an input"),
])
def test_merge_refusals_are_one_line_and_exit_2(shards, args, message):
    result = invoke("merge", *args, "--json")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: {message}"]


def test_the_migrate_json_report_and_text_line_are_unchanged(shards):
    result = invoke("migrate", "--db", "a.db", "--json")
    assert result.exit_code == 0, result.output
    expected = {"db": "a.db", "games": 3, "behaviors": 0, "selfreport": 3}
    report = json.loads(result.stdout)
    assert list(report) == list(expected)
    assert report == expected
    text = invoke("migrate", "--db", "a.db")
    assert text.stdout == "a.db is up to date: schema games 3, behaviors 0, selfreport 3\n"


def test_migrate_refuses_a_missing_file_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("migrate", "--db", "missing.db", "--json")
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.strip()] == ["error: database not found: missing.db"]
    assert not (tmp_path / "missing.db").exists()


def test_the_requests_refuse_before_any_file_is_opened(shards):
    from agents.errors import MmsError
    from game.merge import MergeReport, MergeRequest, merge
    from game.upgrade import MigrateRequest

    with pytest.raises(MmsError, match="give at least one input database to merge"):
        MergeRequest(Path("out.db"), ())
    with pytest.raises(MmsError, match="database not found: missing.db"):
        MigrateRequest(Path("missing.db"))
    assert not Path("out.db").exists()
    assert merge(MergeRequest(Path("out.db"), (Path("a.db"),))) == MergeReport(inputs=1, runs=1, games=2, messages=10)
