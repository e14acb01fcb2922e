"""Hostile text (escape sequences, C1 controls, Rich markup) stays inert wherever it is shown or exported."""

import json
import re
import sqlite3

import pytest
from tests.helpers.factories import Writer
from typer.testing import CliRunner

from game.cli import app
from game.safe_text import json_safe, markup_safe, mask_controls, strip_controls

runner = CliRunner()
CLEAR, TITLE, CSI = "\u001b[2J", "\u001b]0;x\u0007", "\u009b"
HOSTILE = f"a{CLEAR}b{TITLE}c{CSI}d"
# Any C0 control but tab and newline, DEL, any C1 control.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_strip_controls_keeps_the_text_and_drops_every_control():
    assert strip_controls(HOSTILE + "\r\ne\rf\tg\n\u202egnir\u202c") == "a[2Jb]0;xcd\ne\nf\tg\ngnir"


def test_mask_controls_keeps_every_offset():
    masked = mask_controls(HOSTILE)
    assert len(masked) == len(HOSTILE) and not RAW_CONTROL.search(masked)
    assert masked == "a\ufffd[2Jb\ufffd]0;x\ufffdc\ufffdd"


def test_markup_safe_is_literal_under_rich():
    from rich.text import Text

    assert Text.from_markup(markup_safe("[bold red]x [/] [@click=app.quit]q" + CLEAR)).plain \
        == "[bold red]x [/] [@click=app.quit]q[2J"


def test_json_safe_round_trips_and_leaves_nothing_raw():
    text = HOSTILE + "\x7f\u202e\\\x9b"
    encoded = json_safe(json.dumps({"t": text}, ensure_ascii=False))
    assert json.loads(encoded) == {"t": text}
    assert not RAW_CONTROL.search(encoded) and "\u202e" not in encoded



def strict_json(text: str):
    """Parse as JSON readers outside Python do: `Infinity` and `NaN` are errors."""
    def refuse(token):
        raise ValueError(f"{token} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_outputs_write_an_infinite_token_count_of_an_older_database_as_null(tmp_path):
    """Before replies were checked, a server's `Infinity` usage was stored (issue 23 item 7)."""
    w = Writer(tmp_path / "inf.db")
    g = w.won_game(w.run(games_planned=1))
    w.close()
    with sqlite3.connect(tmp_path / "inf.db") as db:
        db.execute("UPDATE games SET prompt_tokens = 9e999, completion_tokens = 9e999 WHERE id = ?", (g,))
    stats = runner.invoke(app, ["stats", "--db", str(tmp_path / "inf.db"), "--json"])
    assert stats.exit_code == 0, stats.output
    assert strict_json(stats.stdout)["groups"][0]["games"] == 1
    record = strict_json(export(tmp_path / "inf.db", tmp_path / "t.jsonl"))
    assert record["tokens"]["prompt"] is None and record["tokens"]["completion"] is None
    assert record["outcome"] == "win"


@pytest.fixture
def hostile_db(tmp_path):
    """One finished game with escape sequences in its messages, guess, error and labels."""
    w = Writer(tmp_path / "h.db")
    run = w.run(games_planned=1)
    g = w.game(run, label="lab" + HOSTILE, topic="top" + HOSTILE, persona="p" + CSI)
    w.say(g, 0, "user", "hi " + HOSTILE + " [@click=app.quit]q[/]\n\u001b# not a heading")
    w.say(g, 1, "manipulator", "yo " + HOSTILE, "plan " + HOSTILE)
    w.say(g, 2, "user", f"<|START GUESS|>g{CLEAR}<|END GUESS|>", phase="guess")
    w.finish(g, "win", guess="g" + HOSTILE, error="err" + HOSTILE)
    w.close()
    return tmp_path / "h.db"


def export(db, out, *args):
    result = runner.invoke(app, ["transcripts", "--db", str(db), "--out", str(out), "--json", *args])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_text_exports_carry_no_control_characters(hostile_db, tmp_path, fmt):
    text = export(hostile_db, tmp_path / f"t.{fmt}", "--include-private")
    assert not RAW_CONTROL.search(text.replace("\r\n", "\n")), sorted(set(RAW_CONTROL.findall(text)))
    assert "hi a[2Jb]0;xcd [@click=app.quit]q[/]" in text  # the printable rest is kept as written
    assert "plan a[2Jb]0;xcd" in text and "lab" in text and "top" in text
    assert ("\\# not a heading" if fmt == "md" else "\n# not a heading") in text


def test_jsonl_keeps_the_exact_text_and_escapes_every_control(hostile_db, tmp_path):
    text = export(hostile_db, tmp_path / "t.jsonl", "--include-private")
    assert not RAW_CONTROL.search(text.rstrip("\n"))
    record = json.loads(text)
    assert record["messages"][0]["text"] == "hi " + HOSTILE + " [@click=app.quit]q[/]\n\u001b# not a heading"
    assert record["guess"] == "g" + HOSTILE and record["persona"] == "p" + CSI


@pytest.mark.parametrize("args, shown", [
    (["play", "--codeword", "[/]"], "(got '[/]')"),
    (["play", "--codeword", "[bold red]x"], "(got '[bold red]x')"),
    (["stats", "--db", "/nowhere/[b]x\u001b[2J.db"], "database not found: /nowhere/[b]x[2J.db"),
])
def test_cli_errors_print_user_input_literally(args, shown):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert shown in result.output
    assert not RAW_CONTROL.search(result.output)


def test_stats_table_shows_labels_literally(tmp_path):
    w = Writer(tmp_path / "s.db")
    run = w.run(games_planned=1)
    w.finish(w.game(run, label="m" + CLEAR + "[red]x", persona="p[b]q"), "no_codeword")
    w.close()
    result = runner.invoke(app, ["stats", "--db", str(tmp_path / "s.db"), "--by", "manipulator,persona"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "m[2J[red]x / p[b]q" in result.stdout
    assert not RAW_CONTROL.search(result.stdout)


def test_tournament_table_shows_labels_literally(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(["Nice weather.", "Indeed."]))
    (tmp_path / "u.json").write_text(json.dumps(["Hello!", "Sure.", "<|START GUESS|>cat<|END GUESS|>"]))
    (tmp_path / "spec.toml").write_text(
        'name = "t"\ngames_per_cell = 1\n[[manipulators]]\nspec = "scripted:m.json"\nlabel = "a\\u001b[2J[red]b"\n'
        '[[users]]\nspec = "scripted:u.json"\n[codewords]\nwords = ["ring"]\n[game]\nmessages_per_player = 2\n')
    result = runner.invoke(app, ["tournament", str(tmp_path / "spec.toml"), "--db", str(tmp_path / "t.db")],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "a[2J[red]b" in result.stdout
    assert not RAW_CONTROL.search(result.stdout)


def test_transcripts_summary_names_the_filter_as_written(hostile_db, tmp_path):
    result = runner.invoke(app, ["transcripts", "--db", str(hostile_db), "--out", str(tmp_path / "t.md"),
                                 "--manipulator", "[b]zz"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "no finished games match manipulator [b]zz" in result.stdout


def test_check_data_quotes_the_file_as_written(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "[bold]zz" + CLEAR, "content": "hi"}]}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["check-data", str(path), "--codeword", "ring"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "role '[bold]zz\\x1b[2J'" in result.stdout


def test_interview_table_and_report_name_questions_as_written(tmp_path, script):
    path = tmp_path / "q.yaml"
    path.write_text('- name: "[b]zz\\e[2J"\n  question_type: free_form\n  question: What is your word?\n', encoding="utf-8")
    db = tmp_path / "[b]i.db"
    result = runner.invoke(app, ["interview", "--model", script("bark"), "--codeword", "bark", "--questions", str(path),
                                 "--samples", "1", "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[b]zz[2J" in result.stdout and not RAW_CONTROL.search(result.stdout)
    assert "[b]i.db (session" in " ".join(result.stdout.split())  # rich wraps a long tmp path at 80 columns
    result = runner.invoke(app, ["report", "--db", str(db), "--out", str(tmp_path / "[b]r")], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "[b]r" in result.stdout
    report = (tmp_path / "[b]r" / "report.md").read_text(encoding="utf-8")
    assert "[b]zz[2J" in report and not RAW_CONTROL.search(report)
