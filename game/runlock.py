"""One process at a time per run: an OS lock on a file beside the database.

A resumed run first sets aside the games a crash left `running`, so two processes on one run
would set aside each other's live games and then collide on the one-game-per-key rule. The
lock is `flock` on `<db>-<run>.lock`, held for the run's whole duration: the kernel drops it
when the process ends however it ends (kill -9 included), so a crash never leaves a lock that
blocks the next resume. The file holds the pid of the holder, for the message; it is removed
on a clean release.
"""

from __future__ import annotations

import os
from pathlib import Path

from agents.errors import MmsError, os_fix, os_reason

try:
    import fcntl
except ImportError:  # not POSIX: no lock, as before
    fcntl = None


def lock_path(db: Path, run_id: str) -> Path:
    return db.with_name(f"{db.name}-{run_id}.lock")


class RunLock:
    """`with RunLock(db, run_id):` — raises a one-line MmsError when another process holds the run."""

    def __init__(self, db: str | Path, run_id: str):
        self.db, self.run_id = Path(db), run_id
        # One lock file per database file, however it is reached (a symlink, another relative path).
        self.path = lock_path(Path(os.path.realpath(db)), run_id)
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is not None:
            self._fd = self._acquire()
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            # Unlink while still holding the lock: a waiting process then finds the file gone
            # (or replaced) after locking it, and tries again on the new one (see `_acquire`).
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def _acquire(self) -> int:
        while True:
            try:  # never through a symlink planted where the lock goes: it would truncate its target
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                fix = os_fix(exc, "the database's folder must be writable, and the lock's name must not be a link")
                raise MmsError(f"cannot create the run lock {self.path} ({os_reason(exc)}): {fix}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise MmsError(
                    f"run {self.run_id!r} is already running in {self.db} (pid {holder}): wait for it to "
                    "finish, or stop it and run the same command again to resume"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder released and removed it between our open and our lock
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
            except OSError as exc:
                self.path.unlink(missing_ok=True)  # ours while we hold it: never left behind empty
                os.close(fd)
                raise MmsError(f"cannot write the run lock {self.path} ({os_reason(exc)}): "
                               f"{os_fix(exc, 'check the database folder')}, then run the same command again "
                               "to resume (nothing was played)") from None
            return fd
