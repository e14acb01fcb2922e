
import pytest

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


@pytest.mark.parametrize("counts", [{}, {"error": 3}])
def test_no_decided_games_give_no_rate_rather_than_zero_in_the_full_interval(counts):
    s = summarise(counts)
    assert s["games"] == sum(counts.values()) and s["win_rate"] is None and s["win_rate_ci"] is None
