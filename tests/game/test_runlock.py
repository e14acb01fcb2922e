"""One process per run: the lock holds against another process and dies with its holder."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agents.errors import MmsError
from game.runlock import RunLock, lock_path

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from game.runlock import RunLock
with RunLock(sys.argv[1], "t"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _holder(db):
    """Another process holding run `t`; returns once it holds the lock (it says so)."""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout.readline() == "locked\n"
    return child


def test_another_process_holding_the_run_is_named_by_its_pid(tmp_path):
    db = tmp_path / "t.db"
    child = _holder(db)
    try:
        with pytest.raises(MmsError, match=rf"run 't' is already running in {db} \(pid {child.pid}\)"):
            RunLock(db, "t").__enter__()
        with RunLock(db, "another-run"):  # other runs of the same database are free
            pass
    finally:
        child.communicate("done\n")
    assert child.returncode == 0 and not lock_path(db, "t").exists()  # a clean release removes the file
    with RunLock(db, "t"):
        pass


def test_a_holder_killed_with_sigkill_never_blocks_the_resume(tmp_path):
    db = tmp_path / "t.db"
    child = _holder(db)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert lock_path(db, "t").read_text() == str(child.pid)  # the stale file stays, its lock does not
    with RunLock(db, "t"):
        assert lock_path(db, "t").read_text() == str(os.getpid())
    child.stdin.close()
    child.stdout.close()


def test_the_lock_is_held_against_this_process_too(tmp_path):
    with RunLock(tmp_path / "t.db", "t"), pytest.raises(MmsError, match="already running"):
        RunLock(tmp_path / "t.db", "t").__enter__()


def test_a_database_reached_through_a_symlink_shares_its_lock(tmp_path):
    db = tmp_path / "games.db"
    db.write_bytes(b"")
    (tmp_path / "alias.db").symlink_to(db)
    with RunLock(db, "t"):
        with pytest.raises(MmsError, match="already running"):
            with RunLock(tmp_path / "alias.db", "t"):
                pass


def test_a_link_planted_where_the_lock_goes_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    db = tmp_path / "games.db"
    db.write_bytes(b"")
    (tmp_path / "games.db-t.lock").symlink_to(victim)
    with pytest.raises(MmsError, match="cannot create the run lock"):
        with RunLock(db, "t"):
            pass
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("stale", [False, True], ids=["new", "left-by-a-killed-holder"])
def test_a_full_disk_is_one_line_and_leaves_no_empty_lock_file(tmp_path, monkeypatch, stale):
    from tests.helpers.factories import full_disk

    db = tmp_path / "t.db"
    if stale:
        lock_path(db, "t").write_text("12345")
    full_disk(monkeypatch)
    with pytest.raises(MmsError) as raised:
        RunLock(db, "t").__enter__()
    monkeypatch.undo()
    assert str(raised.value) == (
        f"cannot write the run lock {lock_path(db, 't')} (disk full: No space left on device): free some disk space, "
        "then run the same command again to resume (nothing was played)")
    assert not lock_path(db, "t").exists()
    with RunLock(db, "t"):  # nothing held on: the next try takes it
        assert lock_path(db, "t").read_text() == str(os.getpid())


def test_no_room_for_the_lock_file_itself_says_the_disk_is_full(tmp_path, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(MmsError, match=r"cannot create the run lock .* \(disk full: No space left on device\): "
                                       r"free some disk space$"):
        RunLock(tmp_path / "t.db", "t").__enter__()
