
import sqlite3

import pytest
import sqlite_utils

from tests.helpers.factories import other_programs_file
from agents.errors import MmsError
from game.migrations import MIGRATIONS
from game.stats import summarise, wilson_interval
from game.store import Store


def test_migrations_apply_once_and_are_recorded(tmp_path):
    Store(tmp_path / "a.db").close()
    store = Store(tmp_path / "a.db")
    versions = [r["version"] for r in store.db["_migrations"].rows]
    assert versions == [v for v, _, _ in MIGRATIONS]
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    cols = {c.name: c.type for c in store.db["messages"].columns}
    assert cols["visible_text"] == "TEXT" and cols["private_text"] == "TEXT" and cols["latency_s"] == "REAL"
    assert {"outcome", "first_mention_turn", "first_mention_speaker", "guess", "error", "seed"} <= set(
        c.name for c in store.db["games"].columns
    )


def test_a_file_that_is_not_a_database_is_a_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(MmsError, match="cannot open database"):
        Store(path)
    assert path.read_text().startswith("these are my notes")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(MmsError, match="folder does not exist"):
        Store(tmp_path / "nope" / "x.db")


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [(5, 10, 0.2366, 0.7634), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (17, 100, 0.1089, 0.2555)],
)
def test_wilson_interval_matches_known_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_errors_are_left_out_of_the_win_rate():
    s = summarise({"win": 3, "no_codeword": 1, "error": 4})
    assert s["games"] == 8 and s["win_rate"] == 0.75
    assert s["correct_guess"] == 0 and isinstance(s["violation"], int)


def _snapshot(path):
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("opener", [Store, Store.reader], ids=["writer", "reader"])
def test_another_programs_database_is_refused_and_left_byte_identical(tmp_path, opener, wal):
    path = other_programs_file(tmp_path / "other_programs.sqlite", wal)
    before = _snapshot(path)
    with pytest.raises(MmsError, match=r"other_programs.sqlite is not a make-me-say database "
                                       r"\(it holds other tables: bookmarks\): it is left untouched"):
        opener(path)
    assert _snapshot(path) == before


def test_a_reader_never_creates_a_missing_file(tmp_path):
    with pytest.raises(MmsError, match="database not found"):
        Store.reader(tmp_path / "typo.db")
    assert list(tmp_path.iterdir()) == []


def test_a_reader_refuses_an_empty_file_without_setting_it_up(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(MmsError, match="holds no games yet"):
        Store.reader(path)
    assert path.read_bytes() == b"" and [p.name for p in tmp_path.iterdir()] == ["empty.db"]


def test_a_reader_reads_without_writing_and_leaves_no_side_files(tmp_path):
    path = tmp_path / "games.db"
    with Store(path) as store:
        run_id = store.create_run("play", {}, 1)
    before = _snapshot(path)
    with Store.reader(path) as store:
        assert store.read.run(run_id)["status"] == "running"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.finish_run(run_id)
    assert _snapshot(path) == before  # no -wal/-shm left behind either


def test_a_reader_refuses_an_older_schema_and_names_the_upgrade(tmp_path):
    from game import migrations

    path = tmp_path / "v2.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    migrations.migrate(db, migrations.MIGRATIONS[:2])
    db.conn.close()
    before = _snapshot(path)
    with pytest.raises(MmsError, match=rf"v2.db has an older make-me-say games schema: upgrade it once with "
                                       rf"`mms db migrate --db {path}`"):
        Store.reader(path)
    assert _snapshot(path) == before


def test_a_transaction_commits_all_or_nothing(tmp_path):
    with Store(tmp_path / "t.db") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.copy_run({"id": "r1", "created_at": "x", "command": "play", "status": "finished"})
            raise RuntimeError("the second input is broken")
        assert store.read.runs() == []
@pytest.mark.parametrize("counts", [{}, {"error": 3}])
def test_no_decided_games_give_no_rate_rather_than_zero_in_the_full_interval(counts):
    s = summarise(counts)
    assert s["games"] == sum(counts.values()) and s["win_rate"] is None and s["win_rate_ci"] is None
