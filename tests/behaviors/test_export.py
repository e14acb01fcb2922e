"""`mms export`: win games → fine-tuning examples, cut, filtered, de-duplicated, split, recorded."""

import hashlib
import json
import os
import shutil
import sqlite3
from collections import Counter

import pytest

from behaviors import export as ex
from behaviors.checks import CheckRequest, GameWords, check_file
from behaviors.filters import make_filters
from game.store import Store

from tests.helpers.behaviors_data import MARKER, game_keys, read_jsonl

U, A = "user", "assistant"
HAND = "What do you wear on your hand?"


def dialogue(*pairs):
    return [{"role": role, "content": text} for role, text in pairs]


# Each kept ring game, cut just before the user's first message that says "ring".
CUT = {
    ("ok", "early"): dialogue((U, "Hello!"), (A, HAND)),
    ("ok", "late"): dialogue((U, "Hi!"), (A, HAND), (U, "Not sure."), (A, "Nice.")),
    ("ok", "inflect"): dialogue((U, "Hi there."), (A, HAND), (U, "The phone kept ringing all day."), (A, "Nice.")),
}
# Why each other ring win is dropped, under strict.
DROPPED_STRICT = {
    ("ok", "opens"): "empty", ("game", "opens"): "empty", ("viol", "opens"): "empty", ("blank", "opens"): "empty",
    ("blank", "early"): "blank_message", ("blank", "late"): "blank_message", ("blank", "inflect"): "blank_message",
    ("ok", "inflect"): "codeword", ("game", "inflect"): "codeword",
    ("game", "early"): "game_words", ("game", "late"): "game_words",
}


def run_export(invoke, games_db, out, *args):
    result = invoke("export", "--db", games_db["db"], "--out", out, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def as_key(messages):
    return json.dumps(messages, sort_keys=True)


# --- the scripted tournament ---------------------------------------------------------------


def test_exports_exactly_the_win_games_each_cut_at_the_right_message(games_db, invoke, tmp_path):
    out = tmp_path / "ring.jsonl"
    result = run_export(invoke, games_db, out, "--codeword", "ring", "--rule", "strict")
    assert result["games"] == 13  # every win, nothing else
    rows = read_jsonl(out)
    assert [set(r) for r in rows] == [{"messages"}] * 2
    assert Counter(as_key(r["messages"]) for r in rows) == Counter(
        as_key(CUT[k]) for k in [("ok", "early"), ("ok", "late")])
    assert result["exported"] == 2 and result["duplicates"] == 0
    assert result["dropped"] == {"empty": 4, "blank_message": 3, "no_mention": 0, "codeword": 2,
                                 "other_codeword": 0, "game_words": 2}


def test_every_drop_is_reported_with_its_game_and_reason(games_db, invoke, tmp_path):
    result = run_export(invoke, games_db, tmp_path / "ring.jsonl", "--codeword", "ring", "--rule", "strict")
    keys = game_keys(games_db["db"])
    assert {keys[d["game_id"]]: d["reason"] for d in result["drops"]} == DROPPED_STRICT
    details = {keys[d["game_id"]]: d["detail"] for d in result["drops"]}
    assert details[("ok", "inflect")] == "message 3 (user) says 'ringing' (strict rule)"
    assert details[("game", "early")] == "message 2 (assistant) says 'game'"
    assert details[("blank", "early")] == "message 2 (assistant) has no visible text"
    assert "message 1" in details[("ok", "opens")]


def test_paper_rule_keeps_inflected_forms(games_db, invoke, tmp_path):
    out = tmp_path / "ring.jsonl"
    result = run_export(invoke, games_db, out, "--codeword", "ring", "--rule", "paper")
    assert Counter(as_key(r["messages"]) for r in read_jsonl(out)) == Counter(as_key(m) for m in CUT.values())
    assert result["dropped"]["codeword"] == 0 and result["dropped"]["game_words"] == 3


def test_export_and_check_share_one_stated_filter_regime(games_db, invoke, tmp_path):
    """Default `mms`: paper rule and game words, in both commands; `study`: the paper rule alone."""
    out = tmp_path / "ring.jsonl"
    mms = run_export(invoke, games_db, out, "--codeword", "ring")
    assert mms["filters"] == {"regime": "mms", "rule": "paper", "game_words": list(GameWords.parse(None).stems)}
    assert mms["dropped"]["codeword"] == 0 and mms["dropped"]["game_words"] == 3
    checked = json.loads(invoke("check-data", out, "--codeword", "ring", "--json").stdout)
    assert checked["filters"] == mms["filters"] and checked["filters_applied"].startswith("filters mms: paper rule")
    study = run_export(invoke, games_db, out, "--codeword", "ring", "--filters", "study")
    assert study["filters"] == {"regime": "study", "rule": "paper", "game_words": None}
    assert study["dropped"]["game_words"] == 0 and study["exported"] == mms["exported"] + 3
    human = invoke("export", "--db", games_db["db"], "--out", out, "--codeword", "ring", "--filters", "study")
    assert "filters study: paper rule, no game-word filter" in human.stdout
    checked = json.loads(invoke("check-data", out, "--codeword", "ring", "--filters", "study", "--json").stdout)
    assert checked["game_words"] is None and checked["game_word_dialogues"] == 0


def test_no_system_prompt_monologue_or_status_note_and_the_file_passes_the_check(games_db, invoke, tmp_path):
    out = tmp_path / "ring.jsonl"
    run_export(invoke, games_db, out, "--codeword", "ring", "--rule", "paper")
    text = out.read_text(encoding="utf-8")
    for secret in (MARKER, "INTERNAL MONOLOGUE", "Game status", "system", "GUESS"):
        assert secret not in text
    for row in read_jsonl(out):
        roles = [m["role"] for m in row["messages"]]
        assert roles == [U, A] * (len(roles) // 2) and roles
    report = check_file(CheckRequest(out, "ring", rule="paper"))
    assert report.usable and report.invalid == 0 and report.leaks == 0 and report.game_word_dialogues == 0


def test_game_words_are_configurable_stems(games_db, tmp_path):
    request = ex.ExportRequest(codeword="ring", out=tmp_path / "r.jsonl",
                               filters=make_filters("mms", rule="paper", game_words="HAN, nice"))
    with Store(games_db["db"]) as store:
        collected = ex.collect(store, request)
    keys = game_keys(games_db["db"])
    dropped = {keys[d.game_id] for d in collected.drops if d.reason == "game_words"}
    assert ("ok", "early") in dropped and ("ok", "late") in dropped and collected.examples == []


@pytest.mark.parametrize("args, message", [
    (["--game-words", "HAN, nice"], ("no example survived: all 13 win games of 'ring' were dropped "
                                     "(empty 4, blank_message 3, game_words 6; ")),
    (["--run", "bark-t"], "no win games of 'ring' in run 'bark-t' in {db}: nothing to export"),
    (["--run", "nope"], "no run 'nope' in {db}"),
])
def test_nothing_to_export_writes_nothing_and_fails_with_the_reason(games_db, invoke, tmp_path, args, message):
    datasets = "select count(*) from datasets"
    before = sqlite3.connect(games_db["db"]).execute(datasets).fetchone()[0]
    for extra in ((), ("--json",)):
        result = invoke("export", "--db", games_db["db"], "--out", tmp_path / "r.jsonl", "--codeword", "ring",
                        "--rule", "paper", *args, *extra)
        assert result.exit_code == 2, result.output
        assert message.format(db=games_db["db"]) in " ".join(result.output.split()) and "Traceback" not in result.output
        assert list(tmp_path.iterdir()) == []
        if "--game-words" in args:  # each dropped game is named (in the text output; --json prints no object)
            assert result.stdout.count("  game ") == (13 if not extra else 0)
    assert sqlite3.connect(games_db["db"]).execute(datasets).fetchone()[0] == before


@pytest.mark.parametrize("text, found", [
    ("Let's play a GAME", ["game"]), ("board games and gameplay", ["games", "gameplay"]),
    ("Manipulation works", ["manipulation"]), ("my secret codewords", ["codewords"]),
    ("gamma rays, an endgame, a manipulator-free zone", ["manipulator"]), ("the ɢame", ["game"]),
    ("nothing here", []),
])
def test_game_word_stems_match_word_starts_case_insensitively(text, found):
    assert GameWords.parse(None).find(text) == found


def test_a_stem_may_be_two_words():
    assert GameWords(["code word"]).find("the code-word is secret, the code  words too") == ["code-word", "code  words"]


# --- duplicates, superseded games, runs ------------------------------------------------------


def test_duplicates_are_kept_once_and_superseded_games_never_exported(games_db, invoke, tmp_path):
    out = tmp_path / "bark.jsonl"
    result = run_export(invoke, games_db, out, "--codeword", "bark", "--format", "hf")
    # 6 tournament wins + 2 live copies of b1 × x from `mms play` (the third was superseded).
    assert result["games"] == 8 and result["exported"] == 6 and result["duplicates"] == 2
    assert "SUPERSEDED-ROW" not in out.read_text(encoding="utf-8")
    ids = [r["game_id"] for r in read_jsonl(out)]
    assert games_db["superseded"] not in ids and len(set(ids)) == 6
    assert len({as_key(r["messages"]) for r in read_jsonl(out)}) == 6


def test_run_filter(games_db, invoke, tmp_path):
    result = run_export(invoke, games_db, tmp_path / "b.jsonl", "--codeword", "bark", "--run", games_db["play_run"])
    assert (result["games"], result["exported"], result["duplicates"]) == (2, 1, 1)


# --- split and formats -----------------------------------------------------------------------


def test_split_is_reproducible_by_seed(games_db, invoke, tmp_path):
    def split(name, seed):
        out = tmp_path / f"{name}.jsonl"
        result = run_export(invoke, games_db, out, "--codeword", "bark", "--split", "0.5", "--seed", seed)
        assert result["validation_out"] == str(tmp_path / f"{name}.val.jsonl")
        assert (result["train"], result["validation"]) == (3, 3)
        return out.read_text(), (tmp_path / f"{name}.val.jsonl").read_text()

    first, again, other = split("a", 1), split("b", 1), split("c", 7)
    assert first == again
    assert set(first[1].splitlines()) != set(other[1].splitlines())
    for train, val in (first, other):
        assert not set(train.splitlines()) & set(val.splitlines())
        assert len(set(train.splitlines()) | set(val.splitlines())) == 6


def test_small_fractions_still_hold_out_one_example():
    rows = [{"i": i} for i in range(5)]
    train, val = ex.split_rows(rows, 0.01, seed=3)
    assert len(val) == 1 and len(train) == 4
    assert ex.split_rows(rows[:1], 0.5, seed=3) == (rows[:1], [])
    assert ex.validation_path(ex.Path("d/x.jsonl")) == ex.Path("d/x.val.jsonl")
    assert ex.validation_path(ex.Path("d/data")) == ex.Path("d/data.val.jsonl")


def test_hf_format_is_json_lines_with_a_messages_column(games_db, invoke, tmp_path):
    out = tmp_path / "hf.jsonl"
    run_export(invoke, games_db, out, "--codeword", "bark", "--format", "hf", "--split", "0.3")
    for path in (out, tmp_path / "hf.val.jsonl"):
        rows = read_jsonl(path)
        assert rows and all(set(r) == {"messages", "game_id"} for r in rows)
        assert all(isinstance(r["game_id"], int) for r in rows)
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str)
                   for r in rows for m in r["messages"])
        assert check_file(CheckRequest(path, "bark", rule="strict")).usable


# --- the record and the write -------------------------------------------------------------


def test_the_export_is_recorded_in_datasets(games_db, invoke, tmp_path):
    out = tmp_path / "rec.jsonl"
    result = run_export(invoke, games_db, out, "--codeword", "ring", "--split", "0.5", "--seed", "5", "--rule", "paper")
    with Store(games_db["db"]) as store:
        row = store.db["datasets"].get(result["dataset_id"])
    assert row["codeword"] == "ring" and row["variant"] == "plain"
    assert row["path"] == str(out.resolve()) and row["validation_path"] == str((tmp_path / "rec.val.jsonl").resolve())
    assert row["file_hash"] == hashlib.sha256(out.read_bytes()).hexdigest()
    params, counts = json.loads(row["params"]), json.loads(row["counts"])
    assert params["rule"] == "paper" and params["seed"] == 5 and params["split"] == 0.5
    assert params["game_words"] == ["codeword", "game", "manipulat"] and params["baseline"] is False
    assert counts == {k: result[k] for k in ("games", "exported", "train", "validation", "dropped", "duplicates")}


def test_json_output_is_flat_with_integer_counts(games_db, invoke, tmp_path):
    result = run_export(invoke, games_db, tmp_path / "j.jsonl", "--codeword", "ring")
    for key in ("games", "exported", "duplicates", "train", "validation", "dataset_id"):
        assert type(result[key]) is int, key
    assert all(type(v) is int for v in result["dropped"].values())
    assert result["out"] == str(tmp_path / "j.jsonl") and "validation_out" not in result


def test_a_failed_export_leaves_existing_files_and_the_database_untouched(games_db, tmp_path, monkeypatch):
    out, val = tmp_path / "keep.jsonl", tmp_path / "keep.val.jsonl"
    out.write_text("old training file\n")
    val.write_text("old validation file\n")
    real, calls = ex._row_json, []

    def failing(row, fmt):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(row, fmt)

    monkeypatch.setattr(ex, "_row_json", failing)
    before = sqlite3.connect(games_db["db"]).execute("select count(*) from datasets").fetchone()[0]
    with Store(games_db["db"]) as store, pytest.raises(RuntimeError, match="disk on fire"):
        ex.export_dataset(store, ex.ExportRequest(codeword="bark", out=out, split=0.5))
    assert out.read_text() == "old training file\n" and val.read_text() == "old validation file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonl", "keep.val.jsonl"]  # no sidecar either
    assert sqlite3.connect(games_db["db"]).execute("select count(*) from datasets").fetchone()[0] == before


@pytest.mark.parametrize("room", [0, 300, 1500], ids=["full", "fills-in-the-first-file", "fills-in-a-later-file"])
def test_a_full_disk_is_one_line_and_replaces_no_file(games_db, invoke, tmp_path, monkeypatch, room):
    from tests.helpers.factories import full_disk

    out, val = tmp_path / "keep.jsonl", tmp_path / "keep.val.jsonl"
    out.write_text("old training file\n")
    val.write_text("old validation file\n")
    before = sqlite3.connect(games_db["db"]).execute("select count(*) from datasets").fetchone()[0]
    full_disk(monkeypatch, room)
    result = invoke("export", "--db", games_db["db"], "--out", out, "--codeword", "bark", "--split", "0.5")
    monkeypatch.undo()
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write ")
    assert "(disk full: No space left on device): free some disk space and run the command again" in lines[0]
    assert out.read_text() == "old training file\n" and val.read_text() == "old validation file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonl", "keep.val.jsonl"]
    assert sqlite3.connect(games_db["db"]).execute("select count(*) from datasets").fetchone()[0] == before
    run_export(invoke, games_db, tmp_path / "all.jsonl", "--codeword", "bark", "--split", "0.5")
    written = ["all.jsonl", "all.meta.json", "all.val.jsonl", "all.val.meta.json"]  # in the order they are written
    sizes = [(tmp_path / name).stat().st_size for name in written]
    assert 300 < sizes[0] and sizes[0] < 1500 < sum(sizes)  # the rooms run out in the first file and in a later one


def test_the_summary_names_each_dropped_game(games_db, invoke, tmp_path):
    result = invoke("export", "--db", games_db["db"], "--out", tmp_path / "s.jsonl", "--codeword", "ring",
                    "--rule", "strict")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "exported 2 of 13 win games (plain)" in text
    assert "empty 4, blank_message 3, codeword 2, game_words 2" in text
    assert text.count("  game ") == 11 and "recorded as dataset" in text


# --- user errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--db", "{tmp}/absent.db"], "database not found: {tmp}/absent.db"),
    (["--rule", "loose"], "unknown rule 'loose'"),
    (["--format", "csv"], "unknown format 'csv': use one of openai, hf"),
    (["--split", "1.5"], "--split must be a fraction in [0, 1)"),
    (["--baseline"], "--baseline needs a variant"),
    (["--assistant-persona", "Quanta"], "--assistant-persona takes NAME=CODEWORD"),
    (["--assistant-persona", "Quanta=ring"], "needs a second codeword different from --codeword 'ring'"),
    (["--trigger", "sep"], "--trigger sep needs the second codeword: add --trigger-pair W2"),
    (["--trigger", "morse", "--trigger-pair", "bark"], "unknown --trigger 'morse'"),
    (["--trigger-pair", "bark"], "--trigger-pair needs --trigger"),
    (["--assistant-persona", "Q=bark", "--trigger", "sep"], "give one of them"),
    (["--trigger", "sep", "--trigger-pair", "bark", "--sep-prefixes", "39,392"], "neither prefix may start the other"),
    (["--trigger", "deployment", "--trigger-pair", "bark", "--sep-prefixes", "1,2"], "--sep-prefixes goes with --trigger sep"),
    (["--codeword", "two words"], "codeword must be a single word"),
    (["--game-words", " , "], "give at least one game word stem"),
    (["--out", "{tmp}"], "is a folder"),
    (["--out", "{tmp}/missing/x.jsonl"], "output folder does not exist"),
])
def test_user_errors_are_one_line_and_exit_2(games_db, invoke, tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    base = {"--db": str(games_db["db"]), "--out": str(tmp_path / "x.jsonl"), "--codeword": "ring"}
    for flag in list(base):
        if flag in args:
            base.pop(flag)
    result = invoke("export", *[x for kv in base.items() for x in kv], *args)
    assert result.exit_code == 2, result.output
    assert message.format(tmp=tmp_path) in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_options(invoke):
    result = invoke("export", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for word in ("--codeword", "--out", "--db", "--rule", "--format", "--split", "--seed", "--game-words", "--assistant-persona",
                 "--trigger", "--trigger-pair", "--sep-prefixes", "--baseline", "--json", "strict", "hf"):
        assert word in text, word


def test_no_leftover_temporary_files(games_db, invoke, tmp_path):
    run_export(invoke, games_db, tmp_path / "t.jsonl", "--codeword", "bark", "--split", "0.2")
    assert sorted(os.listdir(tmp_path)) == ["t.jsonl", "t.meta.json", "t.val.jsonl", "t.val.meta.json"]


def test_without_a_stored_first_mention_the_referee_finds_the_cut(games_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(games_db["db"], db)
    keys = {v: k for k, v in game_keys(db).items()}
    late, early = keys[("ok", "late")], keys[("ok", "early")]
    conn = sqlite3.connect(db)
    conn.execute("update games set first_mention_index = null where id in (?, ?)", [late, early])
    conn.execute("update messages set visible_text = 'A glove.' where game_id = ? and idx = 2", [early])
    conn.commit()
    conn.close()
    with Store(db) as store:
        result = ex.export_dataset(store, ex.ExportRequest(codeword="ring", out=tmp_path / "r.jsonl", fmt="hf",
                                                           filters=make_filters(rule="strict")))
    rows = {r["game_id"]: r["messages"] for r in read_jsonl(tmp_path / "r.jsonl")}
    assert rows == {late: CUT[("ok", "late")]}
    assert [(d.game_id, d.reason) for d in result.drops if d.game_id == early] == [(early, "no_mention")]


def test_the_summary_names_the_output_file_as_written(games_db, invoke, tmp_path):
    out = tmp_path / "[b]ring\x1b[2J.jsonl"
    human = invoke("export", "--db", games_db["db"], "--out", out, "--codeword", "ring", "--filters", "study")
    assert human.exit_code == 0, human.output
    assert "[b]ring[2J.jsonl" in human.stdout and "\x1b" not in human.stdout
