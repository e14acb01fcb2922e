"""`mms referee --json` is the typed report serialised, key for key as before it was typed (issue 25);
the text lines and the one-line refusals are pinned with it."""

import json

import pytest
from typer.testing import CliRunner

from game.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args, expected", [
    (("the phone kept ringing",), {"mentioned": False, "matches": []}),
    (("--rule", "strict", "the phone kept ringing",), {"mentioned": True, "matches": ["ringing"]}),
    (("Two RINGS and a ring.",), {"mentioned": True, "matches": ["RINGS", "ring"]}),
])
def test_the_json_report_is_unchanged(args, expected):
    result = runner.invoke(app, ["referee", "--codeword", "ring", "--json", *args])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == list(expected)
    assert report == expected


@pytest.mark.parametrize("args, line", [
    (("Two RINGS and a ring.",), "mentioned (paper rule): 'RINGS', 'ring'"),
    (("--rule", "strict", "the phone kept [bold]ringing",), "mentioned (strict rule): 'ringing'"),
    (("no such word here",), "not mentioned (paper rule)"),
])
def test_the_text_line_is_unchanged(args, line):
    result = runner.invoke(app, ["referee", "--codeword", "ring", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == line + "\n"


@pytest.mark.parametrize("args, message", [
    (("--codeword", "r1ng", "text"), "single word"),
    (("--codeword", "ring", "--rule", "loose", "text"), "unknown rule"),
])
def test_bad_options_are_one_line_and_exit_2(args, message):
    result = runner.invoke(app, ["referee", "--json", *args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


def test_the_typed_report_is_what_the_command_prints():
    from game.referee import RefereeReport, judge

    report = judge("Two RINGS and a ring.", "ring")
    assert report == RefereeReport("paper", ("RINGS", "ring")) and report.mentioned
    assert judge("the phone kept ringing", "ring").to_json() == {"mentioned": False, "matches": []}
