"""Tournament specs, resume after a crash, sharding and merging — on scripted players."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.errors import MmsError
from game.cli import app
from game.merge import merge_databases
from game.tournament import load_spec, plan
from tests.helpers.factories import corrupt_messages_table
from tests.helpers.tournament import SPEC, write_spec_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


@pytest.fixture
def spec_dir(tmp_path):
    return write_spec_dir(tmp_path)


def tournament(spec, db, *extra):
    result = runner.invoke(app, ["tournament", str(spec), "--db", str(db), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_is_the_full_matrix_with_stable_keys_and_seeds(spec_dir):
    spec = load_spec(spec_dir / "spec.toml")
    games = plan(spec)
    assert len(games) == 2 * 1 * 2 * 2
    assert [g.key for g in games][:3] == ["m0.u0.ring.0000", "m0.u0.ring.0001", "m0.u0.bark.0000"]
    assert [g.seed for g in plan(load_spec(spec_dir / "spec.toml"))] == [g.seed for g in games]
    assert len({g.seed for g in games}) == len(games)


def test_tournament_plays_every_cell_and_stats_show_them(spec_dir):
    db = spec_dir / "t.db"
    out = tournament(spec_dir / "spec.toml", db)
    assert out["games"] == 8 and out["played"] == 8 and out["win"] == 4 and out["no_codeword"] == 4
    stats = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json", "--by", "manipulator,codeword"]).stdout)
    cells = {(g["manipulator"], g["codeword"]): g for g in stats["groups"]}
    assert set(cells) == {("a", "ring"), ("a", "bark"), ("b", "ring"), ("b", "bark")}
    assert cells[("a", "ring")]["win"] == 2 and cells[("a", "ring")]["median_first_mention_turn"] == 2
    assert cells[("a", "bark")]["no_codeword"] == 2 and cells[("a", "bark")]["median_first_mention_turn"] is None


def test_rerun_plays_nothing_twice(spec_dir):
    db = spec_dir / "t.db"
    tournament(spec_dir / "spec.toml", db)
    again = tournament(spec_dir / "spec.toml", db)
    assert again["played"] == 0 and again["skipped"] == 8 and again["games"] == 8
    assert sqlite3.connect(db).execute("select count(*) from games").fetchone()[0] == 8


def test_resume_replays_an_interrupted_game_and_keeps_finished_ones(spec_dir):
    db = spec_dir / "t.db"
    tournament(spec_dir / "spec.toml", db)
    conn = sqlite3.connect(db)
    # Simulate a crash: one game never finished, one never started.
    victim = conn.execute("select id from games where game_key = 'm1.u0.bark.0001'").fetchone()[0]
    conn.execute("update games set status = 'running', outcome = null where id = ?", [victim])
    conn.execute("delete from messages where game_id = ? and idx > 1", [victim])
    gone = conn.execute("select id from games where game_key = 'm0.u0.ring.0000'").fetchone()[0]
    conn.execute("delete from messages where game_id = ?", [gone])
    conn.execute("delete from games where id = ?", [gone])
    finished_before = conn.execute("select id, finished_at from games where status = 'finished' order by id").fetchall()
    conn.commit()

    out = tournament(spec_dir / "spec.toml", db)
    assert out["played"] == 2 and out["games"] == 8
    assert conn.execute("select id, finished_at from games where id in (%s) order by id" %
                        ",".join(str(r[0]) for r in finished_before)).fetchall() == finished_before
    live = conn.execute("select game_key, count(*) from games where status = 'finished' group by game_key").fetchall()
    assert len(live) == 8 and all(n == 1 for _, n in live)
    old = conn.execute("select status from games where id = ?", [victim]).fetchone()[0]
    assert old == "superseded"
    # Each counted game has one complete, ordered transcript.
    for (game_id,) in conn.execute("select id from games where status = 'finished'"):
        idx = [r[0] for r in conn.execute("select idx from messages where game_id = ? order by idx", [game_id])]
        assert idx == list(range(len(idx))) and len(idx) >= 4


def test_a_changed_spec_under_the_same_name_is_refused(spec_dir):
    db = spec_dir / "t.db"
    tournament(spec_dir / "spec.toml", db)
    (spec_dir / "spec.toml").write_text(SPEC.replace("games_per_cell = 2", "games_per_cell = 3"))
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(db)])
    assert result.exit_code == 2 and "different spec" in result.output


def test_two_shards_merged_equal_the_unsharded_run(spec_dir):
    whole = spec_dir / "whole.db"
    tournament(spec_dir / "spec.toml", whole)
    tournament(spec_dir / "spec.toml", spec_dir / "s1.db", "--shard", "1/2")
    tournament(spec_dir / "spec.toml", spec_dir / "s2.db", "--shard", "2/2")
    shutil.copy(spec_dir / "s1.db", spec_dir / "s1-again.db")
    stats = merge_databases(spec_dir / "merged.db", [spec_dir / "s1.db", spec_dir / "s2.db", spec_dir / "s1-again.db"])
    assert stats.games == 8 and stats.duplicates == 4

    def games(path):
        rows = sqlite3.connect(path).execute(
            "select game_key, codeword, manipulator_label, seed, topic, seed_word, settings, outcome "
            "from games where status = 'finished' order by game_key").fetchall()
        return rows

    assert games(spec_dir / "merged.db") == games(whole)
    merged = sqlite3.connect(spec_dir / "merged.db")
    assert merged.execute("select count(*) from messages").fetchone()[0] == \
        sqlite3.connect(whole).execute("select count(*) from messages").fetchone()[0]


def test_merging_shards_of_different_specs_is_refused(spec_dir, tmp_path):
    tournament(spec_dir / "spec.toml", spec_dir / "a.db")
    (spec_dir / "spec.toml").write_text(SPEC.replace("seed = 3", "seed = 4"))
    tournament(spec_dir / "spec.toml", spec_dir / "b.db")
    with pytest.raises(MmsError, match="different spec"):
        merge_databases(spec_dir / "m.db", [spec_dir / "a.db", spec_dir / "b.db"])
    assert not list(spec_dir.glob("m.db*"))  # no partial output: a.db's run and games were not kept


def test_a_failed_merge_leaves_an_existing_output_as_it_was(spec_dir):
    tournament(spec_dir / "spec.toml", spec_dir / "out.db", "--shard", "1/2")
    tournament(spec_dir / "spec.toml", spec_dir / "s2.db", "--shard", "2/2")
    (spec_dir / "spec.toml").write_text(SPEC.replace("name = \"t\"", "name = \"u\"").replace("seed = 3", "seed = 4"))
    tournament(spec_dir / "spec.toml", spec_dir / "u.db")
    (spec_dir / "spec.toml").write_text(SPEC.replace("seed = 3", "seed = 4"))
    tournament(spec_dir / "spec.toml", spec_dir / "other.db")

    def rows(path):
        conn = sqlite3.connect(path)
        return [conn.execute(f"select * from {t} order by id").fetchall() for t in ("runs", "games", "messages")]

    before = rows(spec_dir / "out.db")
    with pytest.raises(MmsError, match="different spec"):  # s2.db and u.db merge fine; other.db does not
        merge_databases(spec_dir / "out.db", [spec_dir / "s2.db", spec_dir / "u.db", spec_dir / "other.db"])
    assert rows(spec_dir / "out.db") == before


def test_a_merge_checks_every_input_before_writing_the_output(spec_dir):
    tournament(spec_dir / "spec.toml", spec_dir / "s1.db", "--shard", "1/2")
    tournament(spec_dir / "spec.toml", spec_dir / "s2.db", "--shard", "2/2")
    conn = sqlite3.connect(spec_dir / "s2.db")
    with conn:
        conn.execute("insert into _migrations values (99, 'from_the_future', 'x')")
    conn.close()
    (spec_dir / "notes.sqlite").write_bytes(b"")
    other = sqlite3.connect(spec_dir / "notes.sqlite")
    with other:
        other.execute("create table notes (text)")
    other.close()
    for bad, message in (("s2.db", "s2.db was written by a newer make-me-say"), ("notes.sqlite", "not a make-me-say")):
        with pytest.raises(MmsError, match=message):
            merge_databases(spec_dir / "merged.db", [spec_dir / "s1.db", spec_dir / bad])
        assert not list(spec_dir.glob("merged.db*"))
    with pytest.raises(MmsError, match="not a make-me-say"):  # nor merged into another program's file
        merge_databases(spec_dir / "notes.sqlite", [spec_dir / "s1.db"])
    assert sqlite3.connect(spec_dir / "notes.sqlite").execute("select name from sqlite_master").fetchall() == [("notes",)]


def test_a_damaged_input_is_named_as_the_damaged_file(spec_dir):
    """A page of an input that cannot be read is that input's fault, not the output's."""
    tournament(spec_dir / "spec.toml", spec_dir / "s1.db", "--shard", "1/2")
    tournament(spec_dir / "spec.toml", spec_dir / "s2.db", "--shard", "2/2")
    corrupt_messages_table(spec_dir / "s2.db")
    with pytest.raises(MmsError, match=r"input database .*s2\.db cannot be read"):
        merge_databases(spec_dir / "merged.db", [spec_dir / "s1.db", spec_dir / "s2.db"])
    assert not list(spec_dir.glob("merged.db*"))


def test_the_same_run_started_while_it_runs_is_refused_without_touching_its_games(spec_dir):
    """The first process is mid-game (a game `running`, the run's lock held); the second one stops at once."""
    import os

    from game.runlock import RunLock

    db = spec_dir / "t.db"
    tournament(spec_dir / "spec.toml", db)
    conn = sqlite3.connect(db)
    victim = conn.execute("select id from games where game_key = 'm0.u0.ring.0000'").fetchone()[0]
    with conn:
        conn.execute("update games set status = 'running', outcome = null where id = ?", [victim])
    before = conn.execute("select id, status, outcome from games order by id").fetchall()
    with RunLock(db, "t"):
        second = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(db)])
        assert second.exit_code == 2
        assert f"run 't' is already running in {db} (pid {os.getpid()}): wait for it" in second.output
        assert "Traceback" not in second.output and len(second.output.strip().splitlines()) == 1
        assert conn.execute("select id, status, outcome from games order by id").fetchall() == before
    resumed = tournament(spec_dir / "spec.toml", db)  # once the first is gone, the same command resumes
    assert resumed["played"] == 1 and resumed["games"] == 8
    assert conn.execute("select status from games where id = ?", [victim]).fetchone()[0] == "superseded"
    assert not (spec_dir / "t.db-t.lock").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (('games_per_cell = 2', 'games_per_cell = 0'), "games_per_cell: Input should be greater than or equal to 1"),
        (('spec = "scripted:u.json"', 'spec = "gpt4"'), "users.0.spec: unknown model spec"),
        (('words = ["ring", "bark"]', 'words = ["ring", "two words"]'), "codewords.words: codeword must be a single word"),
        (('words = ["ring", "bark"]', 'tier = "hard"'), "codewords: Value error, tier 'hard' needs count"),
        (('messages_per_player = 2', 'messages_per_player = 2\nrulez = "paper"'), "game.rulez: unknown field"),
        (('[game]', '[game]\nrule = "loose"'), "game.rule: unknown rule"),
        (('label = "a"', 'label = "a"\nprompt = "sneaky"'), "manipulators.0.prompt"),
        (('name = "t"', 'name = "has space"'), "name: String should match pattern"),
        (('spec = "scripted:m.json"\nlabel = "a"', 'spec = "scripted:missing.json"\nlabel = "a"'), "script file not found"),
        (('spec = "scripted:u.json"', 'spec = "hf:absent-folder"'), "users.0.spec: model 'absent-folder' is neither"),
    ],
)
def test_spec_errors_name_the_field_before_any_game(spec_dir, change, message):
    (spec_dir / "bad.toml").write_text(SPEC.replace(*change))
    db = spec_dir / "never.db"
    result = runner.invoke(app, ["tournament", str(spec_dir / "bad.toml"), "--db", str(db)])
    assert result.exit_code == 2
    assert message.removeprefix("codewords: Value error, ") in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (("messages_per_player = 2", 'messages_per_player = "2"'),
         'game.messages_per_player: give a whole number without quotes, such as 5 or 1_000_000, not the string "2"'),
        (("messages_per_player = 2", "messages_per_player = true"), "game.messages_per_player: give a whole number"),
        (("messages_per_player = 2", "messages_per_player = 2.0"), "not the number 2.0"),
        (("[game]", '[game]\nstop_on_mention = "yes"'),
         'game.stop_on_mention: give true or false, without quotes, not the string "yes"'),
        (("[game]", "[game]\nstop_on_mention = 1"), "game.stop_on_mention: give true or false"),
        (("[game]", "[game]\ntemperature = true"), "game.temperature: give a number without quotes, such as 0.7, not true"),
        (("[game]", '[game]\ntop_p = "0.5"'), "game.top_p: give a number"),
        (("[game]", "[game]\nrule = 3"), "game.rule: give text in quotes, not the number 3"),
        (("[game]", "[game]\nsetup = 1979-05-27"), "game.setup: give text in quotes, not the date or time 1979-05-27"),
        (("games_per_cell = 2", "games_per_cell = true"), "games_per_cell: give a whole number"),
        (("concurrency = 4", 'concurrency = "4"'), "concurrency: give a whole number"),
        (("seed = 3", "seed = false"), "seed: give a whole number"),
        (('label = "a"', "label = 1"), "manipulators.0.label: give text in quotes"),
        (('words = ["ring", "bark"]', 'words = ["ring", "bark"]\nseed = "1"'), "codewords.seed: give a whole number"),
        (('words = ["ring", "bark"]', 'words = "ring"'), 'codewords.words: give a list, not the string "ring"'),
        (('words = ["ring", "bark"]', 'words = ["ring", 7]'), "codewords.words.1: give text in quotes"),
    ],
)
def test_spec_values_of_the_wrong_type_are_refused_naming_the_field_and_file(spec_dir, change, message):
    """TOML values have types: a quoted number, or a boolean where a number belongs, is a slip."""
    assert change[0] in SPEC
    (spec_dir / "typed.toml").write_text(SPEC.replace(*change))
    result = runner.invoke(app, ["tournament", str(spec_dir / "typed.toml"), "--db", str(spec_dir / "never.db")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert text.startswith(f"error: {spec_dir / 'typed.toml'}: ") and message in text
    assert len(result.output.strip().splitlines()) == 1
    assert not (spec_dir / "never.db").exists()


def test_a_whole_number_for_a_fractional_setting_is_taken(spec_dir):
    (spec_dir / "t1.toml").write_text(SPEC.replace("[game]", "[game]\ntemperature = 1\ntop_p = 1"))
    assert load_spec(spec_dir / "t1.toml").game.temperature == 1.0


def test_broken_toml_and_missing_file(spec_dir):
    (spec_dir / "broken.toml").write_text("name = \n")
    result = runner.invoke(app, ["tournament", str(spec_dir / "broken.toml")])
    assert result.exit_code == 2 and "not valid TOML" in result.output
    result = runner.invoke(app, ["tournament", str(spec_dir / "absent.toml")])
    assert result.exit_code == 2 and "spec file not found" in result.output


def test_files_that_are_not_utf8_are_one_line_naming_the_file(spec_dir):
    (spec_dir / "latin1.toml").write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    result = runner.invoke(app, ["tournament", str(spec_dir / "latin1.toml"), "--db", str(spec_dir / "never.db")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"spec file {spec_dir / 'latin1.toml'} is not UTF-8" in " ".join(result.output.split())
    (spec_dir / "m.json").write_bytes('["caf\u00e9"]'.encode("latin-1"))
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(spec_dir / "never.db")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"script file {spec_dir / 'm.json'} is not UTF-8" in " ".join(result.output.split())
    assert not (spec_dir / "never.db").exists()



@pytest.mark.parametrize("file, text, message", [
    pytest.param("spec.toml", SPEC + "deep = " + "[" * 10_000 + "]" * 10_000 + "\n",
                 f"spec file {{dir}}/spec.toml:{SPEC.count(chr(10)) + 1}: lists or objects nested deeper than 64 levels",
                 id="nested-toml"),  # was a RecursionError
    pytest.param("spec.toml", SPEC.replace("games_per_cell = 2", "games_per_cell = " + "1" * 5000),
                 "spec file {dir}/spec.toml:4: a number of more than 4,300 digits", id="long-number"),  # was a ValueError
    pytest.param("m.json", '["Hi",\n' + "[" * 10_000 + "]" * 10_000 + "]",
                 "script file {dir}/m.json:2: lists or objects nested", id="nested-script"),
    pytest.param("m.json", '["Hi",\n"\\ud800"]', "script file {dir}/m.json:2: a lone surrogate \\ud800 is not Unicode text",
                 id="surrogate-script"),  # was stored, then failed to encode
])
def test_a_file_python_cannot_use_is_one_line_at_its_line(spec_dir, file, text, message):
    (spec_dir / file).write_text(text)
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(spec_dir / "never.db")])
    assert result.exit_code == 2 and "Traceback" not in result.output and result.stderr.count("\n") == 1
    assert message.format(dir=spec_dir) in result.stderr
    assert not (spec_dir / "never.db").exists()


def test_a_spec_over_the_file_limit_is_refused_unread(spec_dir, monkeypatch):
    monkeypatch.setenv("MMS_MAX_FILE_BYTES", "1000")
    (spec_dir / "spec.toml").write_text(SPEC + "# a comment\n" * 100)
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(spec_dir / "never.db")])
    size = (spec_dir / "spec.toml").stat().st_size
    assert result.exit_code == 2 and f"is {size:,} bytes, over the 1,000-byte limit" in result.stderr
    assert "MMS_MAX_FILE_BYTES" in result.stderr and not (spec_dir / "never.db").exists()

def test_some_games_failed_is_a_warning_with_the_reasons_and_exit_0(spec_dir):
    (spec_dir / "short.json").write_text(json.dumps(["Only one line."]))  # runs out on the second turn
    (spec_dir / "half.toml").write_text(SPEC.replace('spec = "scripted:m.json"\nlabel = "b"',
                                                     'spec = "scripted:short.json"\nlabel = "b"'))
    result = runner.invoke(app, ["tournament", str(spec_dir / "half.toml"), "--db", str(spec_dir / "h.db"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["error"] == 4
    text = " ".join(result.stderr.split())
    assert "warning: 4 of 8 games of run t ended in error" in text
    assert f"4 × BackendError: scripted:{spec_dir / 'short.json'}: script ran out after 1 lines" in text


def test_every_game_failed_exits_1_with_the_reasons_also_when_resumed(spec_dir):
    (spec_dir / "m.json").write_text(json.dumps(["Only one line."]))
    db = spec_dir / "f.db"
    for _ in range(2):  # the second run replays the games, which fail again: still nothing decided
        result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(db)])
        assert result.exit_code == 1, result.output
        text = " ".join(result.stderr.split())
        assert "error: no game could be played: all 8 game(s) of run t ended in error" in text
        assert "8 × BackendError:" in text and "script ran out" in text and "Traceback" not in result.output


def test_bad_shard_is_refused(spec_dir):
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--shard", "3/2"])
    assert result.exit_code == 2 and "--shard" in result.output


def test_shipped_examples_are_valid():
    for path in EXAMPLES.glob("*.toml"):
        assert plan(load_spec(path)), path


def test_the_study_recipe_example_plays_the_study_setup():
    spec = load_spec(EXAMPLES / "study_data_generation.toml")
    setups = plan(spec)
    assert {s.settings.setup for s in setups} == {"study"} and {s.settings.guess_max_tokens for s in setups} == {192}
    assert not any(s.seed_word == "bark" for s in setups)


# -- a spec's identity is its content, not its path --------------------------------------------

def finished(db):
    return sqlite3.connect(db).execute(
        "select game_key, codeword, manipulator_label, seed, topic, seed_word, settings, outcome "
        "from games where status = 'finished' order by game_key").fetchall()


def test_the_same_spec_resumes_from_another_folder_and_by_absolute_path(spec_dir, tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    monkeypatch.chdir(spec_dir)
    first = tournament("spec.toml", db, "--shard", "1/2")  # half the run, as a crash would leave it
    assert first["played"] == 4
    monkeypatch.chdir(spec_dir.parent)
    rest = tournament(Path(spec_dir.name) / "spec.toml", db)
    assert rest["played"] == 4 and rest["skipped"] == 4 and rest["games"] == 8
    again = tournament((spec_dir / "spec.toml").resolve(), db)
    assert again["played"] == 0 and again["skipped"] == 8


def test_a_copy_of_the_spec_with_its_scripts_elsewhere_is_the_same_spec(spec_dir, tmp_path):
    db = tmp_path / "t.db"
    tournament(spec_dir / "spec.toml", db, "--shard", "1/2")
    copy = shutil.copytree(spec_dir, tmp_path.parent / f"{tmp_path.name}-copy", ignore=shutil.ignore_patterns("*.db*"))
    rest = tournament(copy / "spec.toml", db)
    assert rest["played"] == 4 and rest["games"] == 8


def test_an_edited_script_is_a_different_spec(spec_dir, tmp_path):
    db = tmp_path / "t.db"
    tournament(spec_dir / "spec.toml", db, "--shard", "1/2")
    (spec_dir / "m.json").write_text(json.dumps(["Do you wear gloves?", "Nice."]))
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(db)])
    assert result.exit_code == 2 and "different spec" in result.output


def test_shards_run_from_different_folders_merge(spec_dir, tmp_path, monkeypatch):
    whole = tmp_path / "whole.db"
    tournament(spec_dir / "spec.toml", whole)
    copy = shutil.copytree(spec_dir, tmp_path.parent / f"{tmp_path.name}-elsewhere", ignore=shutil.ignore_patterns("*.db*"))
    monkeypatch.chdir(spec_dir)
    tournament("spec.toml", tmp_path / "s1.db", "--shard", "1/2")
    monkeypatch.chdir(copy.parent)
    tournament(copy / "spec.toml", tmp_path / "s2.db", "--shard", "2/2")
    stats = merge_databases(tmp_path / "merged.db", [tmp_path / "s1.db", tmp_path / "s2.db"])
    assert stats.games == 8 and stats.duplicates == 0
    assert finished(tmp_path / "merged.db") == finished(whole)
    players = "select distinct manipulator, user, manipulator_label from games"
    rows = sqlite3.connect(tmp_path / "merged.db").execute(players).fetchall()
    assert rows == sqlite3.connect(whole).execute(players).fetchall()  # the players as the spec names them
    assert all(str(spec_dir) not in "".join(map(str, row)) for row in rows)


def test_a_run_recorded_with_the_old_path_hash_resumes_from_that_path(spec_dir, tmp_path):
    """Databases written before the hash was content-based: accepted from the path they were
    run from, and their record is brought up to the content hash (so they merge with new shards)."""
    import hashlib

    db, path = tmp_path / "t.db", spec_dir / "spec.toml"
    tournament(path, db, "--shard", "1/2")
    spec = load_spec(path)
    then = spec.model_dump(exclude={"concurrency", "call_timeout", "retry_budget", "max_requests"})  # the fields specs had then
    legacy = hashlib.sha256(json.dumps(then, sort_keys=True).encode()).hexdigest()[:16]
    conn = sqlite3.connect(db)
    conn.execute("update runs set spec_hash = ?", [legacy])
    conn.commit()
    rest = tournament(path, db)
    assert rest["played"] == 4
    assert conn.execute("select spec_hash from runs").fetchone()[0] == spec.spec_hash() != legacy


# -- planning is lazy: a plan of any size costs the memory of its cells ------------------------

def test_a_huge_plan_is_lazy_and_its_first_games_come_at_once(spec_dir):
    import itertools
    import tracemalloc

    (spec_dir / "huge.toml").write_text(SPEC.replace("games_per_cell = 2", "games_per_cell = 100_000_000"))
    spec = load_spec(spec_dir / "huge.toml")
    plan(spec)[0]  # word lists and the referee's data load once, before memory is traced
    tracemalloc.start()
    try:
        games = plan(spec, (2, 3))
        first = list(itertools.islice(games, 3))
        last = games[-1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(games) == 4 * 100_000_000 // 3
    assert [g.key for g in first] == ["m0.u0.ring.0001", "m0.u0.ring.0004", "m0.u0.ring.0007"]
    assert last.key == "m1.u0.bark.99999997" and last.shard == "2/3"
    assert peak < 2_000_000, peak


def test_a_lazy_plan_builds_the_same_games_as_its_shards(spec_dir):
    spec = load_spec(spec_dir / "spec.toml")
    whole = {g.key: g for g in plan(spec)}
    shards = [g for i in (1, 2, 3) for g in plan(spec, (i, 3))]
    assert sorted(g.key for g in shards) == sorted(whole)
    assert all(g.seed == whole[g.key].seed and g.seed_word == whole[g.key].seed_word for g in shards)


def test_a_huge_run_is_prepared_without_planning_every_game(spec_dir, tmp_path):
    import itertools

    from game.store import Store
    from game.tournament import prepare_run

    (spec_dir / "huge.toml").write_text(SPEC.replace("games_per_cell = 2", "games_per_cell = 100_000_000"))
    spec = load_spec(spec_dir / "huge.toml")
    with Store(tmp_path / "t.db") as store:
        store.create_run("tournament", {}, 4 * 100_000_000, run_id="t", spec_hash=spec.spec_hash())
        game_id = store.create_game("t", plan(spec)[1].row())
        store.finish_game(game_id, outcome="win", guess=None, error=None)
        _, todo, already, _ = prepare_run(store, spec, "huge.toml", None)
        assert already == 1 and store.read.run("t")["games_planned"] == 4 * 100_000_000
        assert [g.key for g in itertools.islice(todo, 2)] == ["m0.u0.ring.0000", "m0.u0.ring.0002"]


def test_a_float_game_count_is_refused_with_the_field_named(spec_dir):
    (spec_dir / "float.toml").write_text(SPEC.replace("games_per_cell = 2", "games_per_cell = 1e11"))
    result = runner.invoke(app, ["tournament", str(spec_dir / "float.toml"), "--db", str(spec_dir / "never.db")])
    assert result.exit_code == 2
    assert "games_per_cell: give a whole number" in result.output and "Traceback" not in result.output
    assert not (spec_dir / "never.db").exists()


def test_a_spec_planning_more_games_than_a_run_can_count_is_refused(spec_dir):
    (spec_dir / "vast.toml").write_text(SPEC.replace("games_per_cell = 2", "games_per_cell = 1_000_000_000_000"))
    result = runner.invoke(app, ["tournament", str(spec_dir / "vast.toml"), "--db", str(spec_dir / "never.db")])
    assert result.exit_code == 2 and "games_per_cell" in result.output and "at most" in result.output


# -- an outage: games in error are replayed on resume ------------------------------------------

@pytest.fixture
def server(monkeypatch):
    """The scripted players behind a server that goes down after `up_for` calls (None: it is up)."""
    from agents.backend import BackendError
    from agents.scripted import ScriptedBackend

    state = {"calls": 0, "up_for": None}
    play = ScriptedBackend.chat

    async def chat(self, request):
        state["calls"] += 1
        if state["up_for"] is not None and state["calls"] > state["up_for"]:
            raise BackendError(f"{self.spec}: connection refused (the server is down)")
        return await play(self, request)

    monkeypatch.setattr(ScriptedBackend, "chat", chat)
    return state


def test_after_an_outage_the_same_command_finishes_the_games_in_error(spec_dir, server):
    db, spec = spec_dir / "t.db", str(spec_dir / "spec.toml")
    server["up_for"] = 9  # one game (5 calls) finishes, the second fails on its guess, the rest at once
    first = tournament(spec, db, "--concurrency", "1")
    assert first["games"] == 8 and first["error"] == 7 and first["win"] == 1
    conn = sqlite3.connect(db)
    decided = conn.execute("select id, finished_at from games where outcome != 'error'").fetchall()

    server["up_for"] = None
    result = runner.invoke(app, ["tournament", spec, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "tournament t: 8 games, 1 already finished, 7 game(s) that ended in error replayed" in " ".join(result.stderr.split())

    live = conn.execute("select game_key, count(*) from games where status = 'finished' group by game_key").fetchall()
    assert len(live) == 8 and all(n == 1 for _, n in live)
    assert conn.execute("select count(*) from games where status = 'finished' and outcome = 'error'").fetchone()[0] == 0
    assert conn.execute("select status, outcome, count(*) from games where status = 'superseded' "
                        "group by status, outcome").fetchall() == [("superseded", "error", 7)]
    assert conn.execute("select id, finished_at from games where id in (%s)" % ",".join(str(r[0]) for r in decided)
                        ).fetchall() == decided
    stats = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    assert (stats["games"], stats["win"], stats["no_codeword"], stats["error"]) == (8, 4, 4, 0)
    out = spec_dir / "all.jsonl"
    assert runner.invoke(app, ["transcripts", "--db", str(db), "--out", str(out)]).exit_code == 0
    assert len(out.read_text().splitlines()) == 8

    again = tournament(spec, db)
    assert (again["played"], again["skipped"], again["replayed_errors"]) == (0, 8, 0)


def test_a_shard_replays_only_its_own_games_in_error(spec_dir, server):
    db, spec = spec_dir / "t.db", str(spec_dir / "spec.toml")
    server["up_for"] = 0
    for shard in ("1/2", "2/2"):
        result = runner.invoke(app, ["tournament", spec, "--db", str(db), "--shard", shard])
        assert result.exit_code == 1 and "game(s) of run t ended in error" in " ".join(result.stderr.split())
    server["up_for"] = None
    resumed = tournament(spec, db, "--shard", "1/2")
    assert (resumed["played"], resumed["replayed_errors"], resumed["error"]) == (4, 4, 4)
    left = sqlite3.connect(db).execute("select shard, count(*) from games where status = 'finished' "
                                       "and outcome = 'error' group by shard").fetchall()
    assert left == [("2/2", 4)]


def test_resuming_on_a_full_disk_is_one_line_and_leaves_no_lock_file(spec_dir, monkeypatch):
    from tests.helpers.factories import full_disk

    db, spec = spec_dir / "t.db", str(spec_dir / "spec.toml")
    tournament(spec, db)
    before = sqlite3.connect(db).execute("select * from games order by id").fetchall()
    full_disk(monkeypatch)
    result = runner.invoke(app, ["tournament", spec, "--db", str(db)])
    monkeypatch.undo()
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write the run lock {spec_dir / 't.db-t.lock'} "
                                                   "(disk full: No space left on device): free some disk space")
    assert not (spec_dir / "t.db-t.lock").exists()
    assert sqlite3.connect(db).execute("select * from games order by id").fetchall() == before
    assert tournament(spec, db)["skipped"] == 8


@pytest.mark.parametrize("change, message", [
    (('spec = "scripted:u.json"', 'spec = "scripted:u.json"\npersona = "pirate"'), "users.0.persona: unknown persona 'pirate'"),
    (('words = ["ring", "bark"]', 'tier = "easy"\ncount = 100000'), "codewords: tier 'easy' has only"),
    (('label = "a"', 'label = "a"\nprompt = "sneaky"'), "manipulators.0.prompt: unknown manipulator prompt 'sneaky'"),
    (('[game]', '[game]\ntemperature = 3.0'), "game.temperature: temperature must be between 0 and 2"),
])
def test_our_checks_inside_the_spec_are_one_line_at_the_field(spec_dir, change, message):
    """The checks the spec borrows (personas, tiers, prompts, game settings) name the field, on one line."""
    (spec_dir / "bad.toml").write_text(SPEC.replace(*change))
    with pytest.raises(MmsError) as raised:
        load_spec(spec_dir / "bad.toml")
    text = str(raised.value)
    assert message in text and "\n" not in text and "Value error" not in text
