"""The watcher's read side: incremental polls, paging, filters, and never creating a database."""

import pytest

from tui.filters import FilterError, GameFilter
from tui.reader import StoreReader


def test_missing_database_is_reported_and_never_created(tmp_path):
    path = tmp_path / "none.db"
    reader = StoreReader(path)
    poll = reader.poll()
    assert poll.state.kind == "missing" and poll.reset
    assert reader.poll() is None  # nothing new to say until the file appears
    assert reader.page(GameFilter()) == ([], 0)
    assert not path.exists()


def test_not_a_database_is_unreadable(tmp_path):
    path = tmp_path / "junk.db"
    path.write_text("this is not sqlite " * 100)
    poll = StoreReader(path).poll()
    assert poll.state.kind == "unreadable" and "not a database" in poll.state.detail


def test_polls_read_only_what_changed(writer):
    reader = StoreReader(writer.store.path)
    run = writer.run(games_planned=2)
    first = reader.poll()
    assert first.reset and first.state.kind == "empty"
    assert reader.poll() is None  # no commit since: one pragma, no query

    g = writer.game(run)
    writer.say(g, 0, "user", "Hello there.")
    poll = reader.poll()
    assert [(x.id, x.status, x.said) for x in poll.games] == [(g, "running", 1)]
    assert poll.message_games == {g}
    assert poll.state.kind == "ok" and poll.summary.running == 1 and poll.summary.run_planned == 2

    writer.say(g, 1, "manipulator", "Do you like rings?", mentions=True)
    writer.mention(g, 1, "manipulator")
    writer.finish(g, "violation")
    poll = reader.poll()
    assert [(x.status, x.outcome, x.first_mention_index, x.said) for x in poll.games] == [("finished", "violation", 1, 2)]
    assert poll.summary.run_done == 1 and poll.summary.run_decided == 1 and poll.summary.run_wins == 0

    other = writer.won_game(run)
    poll = reader.poll()
    assert [x.id for x in poll.games] == [other]  # the finished game is not read again
    assert poll.summary.wins == 1 and poll.summary.decided == 2
    assert [m.idx for m in reader.messages(other, after_idx=2)] == [3, 4]


def test_superseded_games_are_never_listed(writer):
    run = writer.run()
    kept = writer.won_game(run)
    reader = StoreReader(writer.store.path)
    reader.poll()
    half = writer.game(run)
    writer.say(half, 0, "user", "Hi")
    assert [g.status for g in reader.poll().games] == ["running"]
    writer.store.supersede_unfinished(run)
    assert [g.status for g in reader.poll().games] == ["superseded"]
    games, total = reader.page(GameFilter())
    assert [g.id for g in games] == [kept] and total == 1
    assert reader.poll() is None


def test_pages_newest_first_with_a_total(writer):
    run = writer.run(games_planned=7)
    ids = [writer.game(run, codeword="ring" if i % 2 else "bark") for i in range(7)]
    reader = StoreReader(writer.store.path)
    first, total = reader.page(GameFilter(), limit=3)
    assert [g.id for g in first] == ids[::-1][:3] and total == 7
    second, _ = reader.page(GameFilter(), before_id=first[-1].id, limit=3)
    assert [g.id for g in second] == ids[::-1][3:6]
    barks, total = reader.page(GameFilter.parse("codeword:bark"))
    assert total == 4 and all(g.codeword == "bark" for g in barks)


def test_filters_agree_in_sql_and_in_python(writer):
    run = writer.run()
    writer.won_game(run, label="gpt-4o", persona="curious")
    g = writer.game(run, codeword="bark", label="smollm2")
    writer.finish(g, "no_codeword")
    writer.game(run, codeword="ring", label="smol_50%")
    reader = StoreReader(writer.store.path)
    everything, _ = reader.page(GameFilter())
    for line in ("outcome:win", "o:no_codeword", "codeword:RING", "m:gpt", "status:running", "p:curious",
                 "smol", "attic", "m:50%", "m:_", "outcome:win codeword:bark"):
        flt = GameFilter.parse(line)
        in_sql = {x.id for x in reader.page(flt)[0]}
        in_python = {x.id for x in everything if flt.matches(x)}
        assert in_sql == in_python, line
    assert {x.manipulator_label for x in reader.page(GameFilter.parse("m:_"))[0]} == {"smol_50%"}


@pytest.mark.parametrize("line, message", [
    ("colour:red", "unknown filter"), ("outcome:lost", "unknown outcome"), ("status:paused", "unknown status"),
    ("codeword:", "needs a value"), ('"open', "cannot read"),
])
def test_bad_filters_say_how_to_write_them(line, message):
    with pytest.raises(FilterError, match=message):
        GameFilter.parse(line)


def test_a_database_from_before_tournaments_lists_its_games(tmp_path):
    """The watcher never migrates: columns added since the file was written read as empty."""
    import sqlite3

    import sqlite_utils

    from game import migrations

    path = tmp_path / "v1.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    migrations.migrate(db, [m for m in migrations.MIGRATIONS if m[0] == 1])
    with db.conn:
        db["runs"].insert({"id": "r1", "created_at": "2026-01-01", "command": "play", "games_planned": 1,
                           "status": "finished"})
        db["games"].insert({"run_id": "r1", "game_key": "g0", "codeword": "ring", "manipulator": "local:smollm2",
                            "user": "u", "status": "finished", "outcome": "win", "rule": "paper",
                            "messages_per_player": 2, "topic": "attic"})
    db.conn.close()
    [game], total = StoreReader(path).page(GameFilter.parse("smollm2"))
    assert total == 1 and (game.codeword, game.outcome, game.topic) == ("ring", "win", "attic")
    assert game.manipulator_label == "local:smollm2" and game.tier is None and game.said == 0
