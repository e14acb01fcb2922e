"""Reading user files within limits: lines, whole documents, nesting, YAML aliases, Unicode (issue 23)."""

import tracemalloc

import pytest
import yaml

from agents import user_files
from agents.errors import MmsError
from agents.user_files import brief, iter_lines, load_json, load_toml, load_yaml
from tests.helpers.paper import PAPER_DATA

QUESTIONS = PAPER_DATA / "questions"


def test_lines_lose_their_breaks_and_a_line_at_the_limit_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv(user_files.LINE_LIMIT_ENV, "10")
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\r\n" + b"b" * 10 + b"\n\nlast")
    assert list(iter_lines(path)) == [(1, b"a"), (2, b"b" * 10), (3, b""), (4, b"last")]


def test_a_line_over_the_limit_is_measured_without_being_held(tmp_path, monkeypatch):
    """An 8 MB line against a 64 KiB limit: the error gives its exact size, and reading held at most a chunk."""
    monkeypatch.setenv(user_files.LINE_LIMIT_ENV, str(64 * 1024))
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"{}\n" + b"x" * 8_000_000 + b"\r\n{}\n")
    tracemalloc.start()
    try:
        with pytest.raises(MmsError) as raised:
            list(iter_lines(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(raised.value) == (f"line 2 of {path} is 8,000,000 bytes, over the 65,536-byte limit for one line: "
                                 "shorten or split it, or raise the limit with MMS_MAX_LINE_BYTES=<bytes>")
    assert peak < user_files.MiB


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_limit_that_is_no_number_of_bytes_is_named(tmp_path, monkeypatch, value):
    monkeypatch.setenv(user_files.FILE_LIMIT_ENV, value)
    with pytest.raises(MmsError, match=rf"MMS_MAX_FILE_BYTES must be a whole number from 1 to .*default 16777216\), not '{value}'"):
        load_json(tmp_path / "x.json", "script file")


def test_a_file_over_the_limit_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv(user_files.FILE_LIMIT_ENV, "100")
    path = tmp_path / "spec.toml"
    path.write_text("a = 1\n" + "# padding\n" * 20)
    with pytest.raises(MmsError, match=r"spec file .*spec\.toml is 206 bytes, over the 100-byte limit .*MMS_MAX_FILE_BYTES"):
        load_toml(path, "spec file")
    monkeypatch.setenv(user_files.FILE_LIMIT_ENV, "206")
    assert load_toml(path, "spec file") == {"a": 1}


def test_nesting_is_found_at_its_line_past_brackets_in_strings_and_comments(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('s = "[[[[[[[[["\n# [[[[[[[[[[[[\nt = \'\'\'\n[[[[[[[[\'\'\'\na = ' + "[" * 70 + "]" * 70 + "\n")
    with pytest.raises(MmsError, match=r"spec\.toml:5: lists or objects nested deeper than 64 levels"):
        load_toml(path, "spec file")
    path.write_text("a = " + "[" * 63 + "]" * 63 + "\n")  # in the document's table: 64 levels, allowed
    assert load_toml(path, "spec file")
    path.write_text("a = 1\nb = " + "[" * 64 + "]" * 64 + "\n")
    with pytest.raises(MmsError, match=r"spec\.toml:2: lists or objects nested deeper than 64 levels"):
        load_toml(path, "spec file")
    deep = tmp_path / "script.json"
    deep.write_text('[\n"a",\n' + "[" * 100_000 + "]" * 100_000 + "]")
    with pytest.raises(MmsError, match=r"script\.json:3: lists or objects nested deeper than 64 levels"):
        load_json(deep, "script file")


def test_only_a_lone_surrogate_escape_is_refused(tmp_path):
    path = tmp_path / "script.json"
    path.write_text('["\\\\ud800 is a backslash and text", "\\ud83d\\ude00"]')
    assert load_json(path, "script file") == ["\\ud800 is a backslash and text", "\U0001F600"]
    path.write_text('["\\\\ud800", "\\ud83d\\ude00",\n"\\ude00"]')
    with pytest.raises(MmsError, match=r"script\.json:2: a lone surrogate \\ude00 is not Unicode text"):
        load_json(path, "script file")


@pytest.mark.paper
def test_the_studys_aliases_load_as_pyyaml_loads_them():
    path = QUESTIONS / "which_game.yaml"
    assert load_yaml(path, "question file") == yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text, message", [
    ("a: &a [*a]\n", r":1: an alias inside the value it names"),
    ("a: 1\nb: 2020-13-45\n", r":2: '2020-13-45' cannot be read: month must be in 1\.\.12"),
    ("a: 1\nb: " + "1" * 5000 + "\n", r":2: '1111.*1111' cannot be read: Exceeds the limit \(4300 digits\)"),
    ("a: 1\nb: \"x\\ud800\"\n", r":2: a lone surrogate \\ud800 is not Unicode text"),
    ("- " + "[" * 1000 + "]" * 1000 + "\n", r":1: lists or objects nested deeper than 64 levels"),
    ("a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n",
     r":2: lists or objects nested deeper than 64 levels"),
], ids=["recursive-alias", "bad-date", "long-number", "lone-surrogate", "nested", "nested-by-alias"])
def test_yaml_that_would_crash_or_loop_is_one_error_at_its_line(tmp_path, text, message):
    path = tmp_path / "q.yaml"
    path.write_text(text)
    with pytest.raises(MmsError, match=rf"^question file .*q\.yaml{message}"):
        load_yaml(path, "question file")


def test_an_untrusted_value_is_quoted_short():
    bomb = ["lol"] * 9
    for _ in range(9):
        bomb = [bomb] * 9  # 9**10 values if walked in full
    assert len(brief(bomb)) <= 60 and len(brief("x" * 10**6)) <= 60 and brief("ring") == "'ring'"
