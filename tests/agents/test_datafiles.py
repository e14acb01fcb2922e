"""The one data-file loader (agents/datafiles.py): its rules, and every shipped data file read
through the modules that use it to exactly the values the five loaders it replaced returned
(`data/datafiles_snapshot.json`, written by those loaders before they were replaced)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from agents import datafiles, prompts
from agents.errors import MmsError
from agents.user_files import MAX_ALIAS_VALUES
from behaviors import checks, organism_data, organisms
from game import readings, referee, triggers
from selfreport import battery, third_person

SNAPSHOT = json.loads((Path(__file__).parent / "data" / "datafiles_snapshot.json").read_text(encoding="utf-8"))
PACKAGES = ("agents", "game", "behaviors", "selfreport")


def _plain(value):
    return json.loads(json.dumps(value))


def _loaded(package: str, name: str, kind: str):
    """The value the module that reads a file gets, through its own loader call."""
    if package == "agents":
        return {"text": prompts.text, "lines": prompts.lines}.get(kind, lambda _: prompts.personas())(name)
    if package == "game":
        if kind == "lines":
            return triggers._templates(name)
        if kind == "words":
            return sorted(referee._function_words())
        return {"confusables.txt": referee._confusables, "leetspeak.txt": referee._leetspeak,
                "upside_down.txt": readings._upside_down}[name]()
    if package == "behaviors":
        if kind == "lines":
            return checks.data_lines(name)
        return datafiles.toml(package, name) if kind == "toml" else datafiles.yaml(package, name)
    if kind == "lines":
        return battery.data_lines(name)
    return battery.questions() if name == "questions.toml" else datafiles.toml(package, name)


@pytest.mark.parametrize("key", sorted(SNAPSHOT))
def test_every_data_file_loads_to_the_values_of_its_old_loader(key):
    path, kind = key.split(":")
    package, _, name = path.split("/")
    assert _plain(_loaded(package, name, kind)) == SNAPSHOT[key]


def test_the_snapshot_covers_every_shipped_data_file():
    shipped = {f"{p}/data/{f.name}" for p in PACKAGES for f in resources.files(p).joinpath("data").iterdir()
               if f.is_file()}
    assert shipped == {key.split(":")[0] for key in SNAPSHOT}


def test_the_toml_and_yaml_users_read_through_the_loader():
    recipes = SNAPSHOT["behaviors/data/organisms.toml:toml"]["organisms"]
    assert organisms.recipes()["bark"].data == recipes["bark"]["data"]
    assert organism_data.control_phrasings("bark")["questions"] == [
        str(q).strip() for q in SNAPSHOT["behaviors/data/control_bark.yaml:yaml"]["questions"]]
    assert third_person.phrasings()["person"] == SNAPSHOT["selfreport/data/third_person.toml:toml"]["person"]


@pytest.fixture
def data(monkeypatch):
    """A fake data file: what `_read` returns for any name."""
    content = {}
    monkeypatch.setattr(datafiles, "_read", lambda package, name: content["text"])
    return content


def test_lines_skip_blanks_and_comments_and_read_escapes(data):
    data["text"] = "# a comment\n\n  one  \n   # indented comment\ntwo\\nlines\nnot # a comment\n"
    assert datafiles.lines("agents", "x.txt") == ("one", "two\nlines", "not # a comment")


def test_table_keys_and_values_drop_the_note(data):
    data["text"] = "# key value note\nа a CYRILLIC SMALL LETTER A\n6 gb six\n"
    assert datafiles.table("game", "x.txt") == {"а": "a", "6": "gb"}


def test_text_is_the_whole_file_stripped(data):
    data["text"] = "\n  # kept: a template has no comments\nline {x}\n\n"
    assert datafiles.text("agents", "x.txt") == "# kept: a template has no comments\nline {x}"


def test_yaml_data_keeps_the_alias_limit(data):
    rows = ["a: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 7)]
    data["text"] = "\n".join(rows) + "\n"
    assert 10 ** 7 > MAX_ALIAS_VALUES
    with pytest.raises(MmsError, match=r"behaviors/data/bomb.yaml:\d+: its aliases expand"):
        datafiles.yaml("behaviors", "bomb.yaml")


def test_toml_data_keeps_the_nesting_limit(data):
    data["text"] = "x = " + "[" * 100 + "]" * 100 + "\n"
    with pytest.raises(MmsError, match="selfreport/data/deep.toml:1: lists or objects nested deeper"):
        datafiles.toml("selfreport", "deep.toml")
