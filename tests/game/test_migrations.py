"""Old databases open under the current code with every row intact."""

import json
import sqlite3

import sqlite_utils

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
        [game] = store.games()
        assert (game["id"], game["run_id"], game["outcome"], game["codeword"]) == (game_id, "r1", "win", "ring")
        assert game["manipulator_label"] is None and game["tier"] is None  # the columns added since are empty
        assert [(m["speaker"], m["visible_text"], m["mentions"]) for m in store.messages(game_id)] == [
            ("user", "a ring", 1), ("manipulator", "nice", 0)]
        assert store.run("r1")["status"] == "finished" and store.finished_games()[0]["id"] == game_id


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
