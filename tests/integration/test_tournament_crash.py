"""A tournament on the embedded model, killed with SIGKILL mid-run, then resumed."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.weights]

SPEC = """
name = "crash"
seed = 5
games_per_cell = 3
concurrency = 2

[[manipulators]]
spec = "local:smollm2"

[[users]]
spec = "local:smollm2"

[codewords]
words = ["ring", "bark"]

[game]
messages_per_player = 2
manipulator_max_tokens = 32
user_max_tokens = 24
guess_max_tokens = 8
"""


def mms(*args):
    return [sys.executable, "-c", "from game.cli import main; main()", *args]


def counts(db):
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("select status, count(*) from games group by status").fetchall())
    except sqlite3.OperationalError:  # tables not created yet
        return {}
    finally:
        conn.close()


def test_kill_minus_nine_then_resume_finishes_exactly_the_plan(tmp_path):
    spec, db = tmp_path / "crash.toml", tmp_path / "crash.db"
    spec.write_text(SPEC)
    proc = subprocess.Popen(mms("tournament", str(spec), "--db", str(db), "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 300
    try:
        # Wait until the run is visibly mid-way: some games finished, others still being played.
        while True:
            state = counts(db)
            if state.get("finished", 0) >= 1 and state.get("running", 0) >= 1:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"tournament never got going: {state}"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = counts(db)
    assert before.get("finished", 0) < 6

    done = subprocess.run(mms("tournament", str(spec), "--db", str(db), "--json"),
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["games"] == 6 and result["error"] == 0
    assert result["played"] == 6 - before["finished"]

    conn = sqlite3.connect(db)
    live = conn.execute("select id, game_key from games where status = 'finished'").fetchall()
    assert len(live) == 6 and len({k for _, k in live}) == 6
    assert counts(db).get("superseded", 0) == before.get("running", 0)
    assert conn.execute("select count(*) from games where status = 'running'").fetchone()[0] == 0
    for game_id, _ in live:
        idx = [r[0] for r in conn.execute("select idx from messages where game_id = ? order by idx", [game_id])]
        conversation = conn.execute(
            "select count(*) from messages where game_id = ? and phase = 'conversation'", [game_id]).fetchone()[0]
        assert idx == list(range(len(idx))) and conversation == 4
