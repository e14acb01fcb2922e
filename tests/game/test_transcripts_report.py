"""`mms transcripts --json` is the typed report serialised: the same keys, in the same order, with the
same values as the dict the export returned before it was typed (issue 25); the human lines stay too."""

import json

import pytest
import typer
from typer.testing import CliRunner

from game.cli import app as mms_app
from game.cli_transcripts import transcripts
from game.plugins import mount

USER = ["Hi there!", "Yes, a gold ring.", "<|START GUESS|>necklace<|END GUESS|>"]
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Two finished games of `ring` (a win each, 5 messages each) from scripted players."""
    root = tmp_path_factory.mktemp("transcripts_report")
    path = root / "games.db"
    (root / "m.json").write_text(json.dumps(["Do you wear jewellery?", "Lovely."]), encoding="utf-8")
    (root / "u.json").write_text(json.dumps(USER), encoding="utf-8")
    result = runner.invoke(mms_app, ["play", "--codeword", "ring", "--games", "2", "--manipulator",
                                     f"scripted:{root / 'm.json'}", "--user", f"scripted:{root / 'u.json'}",
                                     "--messages-per-player", "2", "--db", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def invoke():
    app = typer.Typer()
    mount(app, {"transcripts": transcripts})

    @app.command()
    def dummy() -> None:
        """Typer keeps subcommand names only with two or more commands."""

    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("args, fmt, games, messages", [
    ((), "jsonl", 2, 10),
    (("--format", "markdown"), "md", 2, 10),
    (("--outcome", "violation"), "csv", 0, 0),
    (("--codeword", "bark", "--include-private"), "jsonl", 0, 0),
])
def test_json_is_the_dict_it_always_was_key_for_key(db, tmp_path, invoke, args, fmt, games, messages):
    out = tmp_path / ("all.csv" if "--outcome" in args else "all.jsonl")
    result = invoke("transcripts", "--db", db, "--out", out, "--json", *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report.items()) == [("games", games), ("messages", messages), ("out", str(out)), ("format", fmt)]


def test_human_lines_are_unchanged(db, tmp_path, invoke):
    out = tmp_path / "all.md"
    lines = [" ".join(invoke("transcripts", "--db", db, "--out", out, *args).output.split())
             for args in ((), ("--include-private",), ("--outcome", "Win", "--codeword", "bark"))]
    assert lines == [
        f"2 games, 10 messages → {out}",
        f"2 games, 10 messages → {out} (private monologue included)",
        f"no finished games match outcome Win, codeword bark: wrote an empty md file → {out}",
    ]
    intro = out.read_text(encoding="utf-8").splitlines()[2]
    assert intro == "0 finished games from `games.db` (outcome Win, codeword bark)."


def test_no_games_in_the_database_names_it(db, tmp_path, invoke):
    from game.store import Store

    empty = tmp_path / "empty.db"
    Store(empty).close()
    out = tmp_path / "x.csv"
    result = invoke("transcripts", "--db", empty, "--out", out)
    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()) == f"no finished games in {empty}: wrote an empty csv file → {out}"


def test_the_request_checks_its_options_once_in_the_order_a_user_reads_them(db, tmp_path):
    from agents.errors import MmsError
    from game.transcripts import TranscriptsRequest

    request = TranscriptsRequest(out=str(tmp_path / "x.MD"), db=db, outcome="Win", codeword="bark")
    assert (request.out, request.fmt, request.filters()) == (tmp_path / "x.MD", "md", "outcome Win, codeword bark")
    absent = tmp_path / "absent.db"
    for kwargs, message in [
        ({"out": tmp_path / "x.txt", "db": absent, "outcome": "won"}, "cannot tell the format"),
        ({"out": tmp_path / "x.csv", "db": absent, "outcome": "won"}, "unknown outcome 'won'"),
        ({"out": tmp_path / "x.csv", "db": absent}, f"database not found: {absent}"),
        ({"out": db, "db": db, "fmt": "jsonl"}, "is the database itself"),
    ]:
        with pytest.raises(MmsError, match=message):
            TranscriptsRequest(**kwargs)
    assert list(tmp_path.iterdir()) == []


def test_the_report_is_what_the_core_returns(db, tmp_path):
    from game.store import Store
    from game.transcripts import (
        TranscriptsReport,
        TranscriptsRequest,
        export_transcripts,
    )

    out = tmp_path / "wins.csv"
    with Store.reader(db) as store:
        report = export_transcripts(store, TranscriptsRequest(out=out, db=db, outcome="win"))
    assert report == TranscriptsReport(games=2, messages=10, out=str(out), format="csv")
