"""The typed rows name exactly the columns the migrations leave, and round-trip a row."""

import sqlite3

import pytest
import sqlite_utils

from game import migrations
from game.messages import GameMessage
from game.rows import RECORDS, GameRow, MessageRow, RunRow


@pytest.fixture
def migrated(tmp_path):
    db = sqlite_utils.Database(sqlite3.connect(str(tmp_path / "fresh.db")))
    migrations.migrate(db)
    yield db
    db.conn.close()


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.TABLE)
def test_each_record_names_its_tables_columns_in_order(migrated, record):
    table = [r[1] for r in migrated.conn.execute(f"pragma table_info([{record.TABLE}])")]
    assert record.COLUMNS == tuple(table)


def test_a_game_row_round_trips_with_its_settings_as_json():
    game = GameRow(id=7, codeword="ring", settings={"b": 1, "a": [2]}, first_mention_index=2,
                   first_mention_turn=2, first_mention_speaker="user")
    row = game.to_row()
    assert tuple(row) == GameRow.COLUMNS and row["settings"] == '{"a": [2], "b": 1}'
    assert GameRow.from_row(row) == game
    assert game.first_mention == {"index": 2, "turn": 2, "speaker": "user"} and GameRow().first_mention is None


def test_a_partial_or_odd_row_reads_without_loss():
    assert GameRow.from_row({"id": 1, "settings": "not json", "said": 3}) == GameRow(id=1, settings="not json")
    assert RunRow.from_row({"id": "r", "settings": "{}"}).settings == {}


def test_a_message_row_is_the_judged_message_as_written():
    msg = GameMessage(3, 2, "manipulator", "conversation", "hi", "plan", "<plan>hi", True, 4, 5, 0.5)
    row = MessageRow.of(9, msg, "now").to_row()
    assert row == {"id": None, "game_id": 9, "idx": 3, "turn": 2, "speaker": "manipulator", "phase": "conversation",
                   "visible_text": "hi", "private_text": "plan", "raw_text": "<plan>hi", "mentions": 1,
                   "created_at": "now", "prompt_tokens": 4, "completion_tokens": 5, "latency_s": 0.5}
