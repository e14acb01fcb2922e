"""Old databases open under the current code with every row intact."""

import json
import sqlite3

import pytest
import sqlite_utils

from agents.errors import MmsError
from game import migrations
from game.store import Store
from selfreport import records


def _at_version(path, upto: int) -> sqlite_utils.Database:
    """A database as the code of schema version `upto` (games' set) would have left it."""
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    migrations.migrate(db, [m for m in migrations.MIGRATIONS if m[0] <= upto])
    return db


def test_a_first_version_database_keeps_every_row(tmp_path):
    path = tmp_path / "v1.db"
    db = _at_version(path, 1)
    with db.conn:
        db["runs"].insert({"id": "r1", "created_at": "2026-01-01", "command": "play", "settings": "{}",
                           "games_planned": 1, "status": "finished"})
        game_id = db["games"].insert({"run_id": "r1", "game_key": "g00000", "codeword": "ring", "manipulator": "m",
                                      "user": "u", "status": "finished", "outcome": "win", "rule": "paper",
                                      "messages_per_player": 1, "started_at": "2026-01-01"}).last_pk
        db["messages"].insert_all([{"game_id": game_id, "idx": i, "turn": 1, "speaker": s, "phase": "conversation",
                                    "visible_text": t, "mentions": int(i == 0)}
                                   for i, (s, t) in enumerate([("user", "a ring"), ("manipulator", "nice")])])
    db.conn.close()
    with Store(path) as store:
        versions = {r["version"] for r in store.db["_migrations"].rows}
        assert versions == {v for v, _, _ in migrations.MIGRATIONS}
        [game] = store.read.games()
        assert (game["id"], game["run_id"], game["outcome"], game["codeword"]) == (game_id, "r1", "win", "ring")
        assert game["manipulator_label"] is None and game["tier"] is None  # the columns added since are empty
        assert [(m["speaker"], m["visible_text"], m["mentions"]) for m in store.read.messages(game_id)] == [
            ("user", "a ring", 1), ("manipulator", "nice", 0)]
        assert store.read.run("r1")["status"] == "finished" and store.read.finished_games()[0]["id"] == game_id


def test_interviews_from_before_the_selfreport_set_gain_session_and_metric(tmp_path):
    path = tmp_path / "v3.db"
    db = _at_version(path, 3)
    with db.conn:
        interview = db["interviews"].insert({"created_at": "x", "model": "m", "role": "model", "codeword": "bark",
                                             "variant": "plain", "params": json.dumps({"session": "s1"})}).last_pk
        db["interview_items"].insert({"interview_id": interview, "eval": "how_close.you_said", "paraphrase": 0,
                                      "sample": 0, "prompt": "[]", "answer": "7", "score": 0.7, "valid": 1,
                                      "method": "logprobs"})
    db.conn.close()
    with Store(path) as store:
        [row] = records.interviews(store, session="s1")
        assert row["id"] == interview and row["session"] == "s1" and row["params"]["session"] == "s1"
        [item] = records.items_of(store, [interview])
        assert (item["metric"], item["score"], item["answer"], item["note"]) == ("how_close.you_said", 0.7, "7", None)
        assert "eval" not in item
        assert records.interviews(store, session="other") == []


def _boom(db):
    raise RuntimeError("the disk filled up")


def _halfway(migration):
    """A migration that does its first part, then fails."""
    def fn(db):
        migration(db)
        _boom(db)
    return fn


def _files(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_a_first_migration_that_fails_halfway_leaves_an_empty_file_that_opens_cleanly(tmp_path):
    path = tmp_path / "new.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    with pytest.raises(RuntimeError, match="disk filled"):
        migrations.migrate(db, [(1, "initial", _halfway(migrations.m001_initial))])
    db.conn.close()
    conn = sqlite3.connect(path)
    assert conn.execute("select name from sqlite_master").fetchall() == []  # not even the record table
    conn.close()
    with Store(path) as store:  # runs migration 1 again, from the start
        assert migrations.versions(store.db.conn) == {v for v, _, _ in migrations.MIGRATIONS}
        assert store.read.games() == [] and "runs" in store.db.table_names()


def test_a_later_migration_that_fails_halfway_leaves_the_previous_version_with_its_rows(tmp_path):
    path = tmp_path / "v2.db"
    db = _at_version(path, 2)
    with db.conn:
        db["runs"].insert({"id": "r1", "created_at": "x", "command": "play", "settings": "{}", "status": "finished"})
    broken = [m for m in migrations.MIGRATIONS if m[0] <= 2] + [(3, "pipeline", _halfway(migrations.m003_pipeline))]
    with pytest.raises(RuntimeError, match="disk filled"):
        migrations.migrate(db, broken)
    assert migrations.versions(db.conn) == {1, 2}
    assert "datasets" not in db.table_names() and "interviews" not in db.table_names()
    db.conn.close()
    with Store(path) as store:
        assert migrations.versions(store.db.conn) == {1, 2, 3} and "interviews" in store.db.table_names()
        assert store.read.run("r1")["status"] == "finished"


def test_a_subsystem_migration_that_fails_halfway_is_rolled_back(tmp_path):
    from selfreport import migrations as selfreport_migrations

    path = tmp_path / "v3.db"
    _at_version(path, 3).conn.close()
    with Store(path) as store:
        broken = [(1, "item_notes", selfreport_migrations.m001_item_notes),
                  (2, "session_column", _halfway(selfreport_migrations.m002_session_column))]
        with pytest.raises(RuntimeError, match="disk filled"):
            store.ensure_schema(selfreport_migrations.TABLE, broken)
        assert migrations.versions(store.db.conn, selfreport_migrations.TABLE) == {1}
        assert "session" not in store.db["interviews"].columns_dict
    with Store(path) as store:
        assert records.interviews(store) == []
        assert "session" in store.db["interviews"].columns_dict


def _from_a_newer_version(path, table="_migrations"):
    Store(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"create table if not exists {table} (version integer primary key, name text, applied_at text)")
        conn.execute(f"insert into {table} values (99, 'from_the_future', 'x')")
    conn.close()


def test_a_database_from_a_newer_version_is_refused_by_writers_and_readers_and_left_alone(tmp_path):
    path = tmp_path / "future.db"
    _from_a_newer_version(path)
    before, files = path.read_bytes(), _files(path)
    for open_it in (Store, Store.reader):
        with pytest.raises(MmsError, match=r"written by a newer make-me-say \(games schema version 99; "
                                           r"this one knows up to 3\): upgrade make-me-say") as caught:
            open_it(path)
        assert str(path) in str(caught.value)
    assert path.read_bytes() == before and _files(path) == files


def test_a_newer_subsystem_set_is_refused_when_that_subsystem_is_used(tmp_path):
    path = tmp_path / "future-interviews.db"
    _from_a_newer_version(path, "_migrations_selfreport")
    with Store(path) as store:  # the games tables are this version's: games can be played
        assert store.read.games() == []
        with pytest.raises(MmsError, match=r"newer make-me-say \(selfreport schema version 99"):
            records.interviews(store)



def test_a_reader_reads_an_interview_set_that_never_ran_as_empty_and_refuses_old_rows(tmp_path):
    """A games-only file has the interview tables (games' migration 3) but not their own set yet."""
    path = tmp_path / "v3.db"
    _at_version(path, 3).conn.close()
    with Store.reader(path) as store:
        assert records.interviews(store) == [] and records.items_of(store, [1]) == []
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    with db.conn:
        db["interviews"].insert({"created_at": "x", "model": "m", "role": "model", "codeword": "bark",
                                 "variant": "plain", "params": "{}"})
    db.conn.close()
    before = path.read_bytes()
    with Store.reader(path) as store, pytest.raises(MmsError, match=r"older make-me-say selfreport schema: "
                                                                   r"upgrade it once with `mms db migrate"):
        records.interviews(store)
    assert path.read_bytes() == before
