"""A tournament against two vLLM CPU servers on loopback named as replicas of one model
(`openai:smollm2@URL1@URL2`): both take requests, and killing one halfway loses no game — the
requests it held are retried on the other at once, and every game finishes exactly once.

It needs the memory for two vLLM servers (each with a 1 GiB KV cache, as tests/integration/
conftest.py starts them); `make vllm` builds their environment, and without it the test is skipped.
"""

import json
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.weights]

GAMES = 6
DEADLINE_S = 900.0

SPEC = """
name = "replicas"
seed = 3
games_per_cell = {games}
concurrency = 4
call_timeout = 120

[[manipulators]]
spec = "{spec}"

[[users]]
spec = "{spec}"

[codewords]
words = ["bark"]

[game]
messages_per_player = 2
manipulator_max_tokens = 16
user_max_tokens = 16
guess_max_tokens = 8
"""


def mms(*args):
    return [sys.executable, "-c", "from game.cli import main; main()", *map(str, args)]


def finished(db) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("select count(*) from games where status = 'finished'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        conn.close()


def chat_requests(server) -> int:
    """The chat completions the server answered, from its access log (it outlives the server)."""
    return server.log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')


def test_a_tournament_on_two_replicas_loses_no_game_when_one_is_killed(tmp_path, vllm_replicas):
    first, second = vllm_replicas
    spec = f"openai:smollm2@{first.base_url}@{second.base_url}"
    path, db = tmp_path / "replicas.toml", tmp_path / "replicas.db"
    path.write_text(SPEC.format(games=GAMES, spec=spec))
    proc = subprocess.Popen(mms("tournament", path, "--db", db, "--json"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while finished(db) < GAMES // 2:  # halfway
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, f"only {finished(db)} games finished in {DEADLINE_S:g} s"
            time.sleep(0.2)  # polling another process's database, bounded by the deadline
        assert chat_requests(first) > 0 and chat_requests(second) > 0, "both replicas take requests"
        first.kill()
        before = chat_requests(second)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out)
    assert result["games"] == GAMES and result["error"] == 0 and result["played"] == GAMES, result
    rows = sqlite3.connect(db).execute("select game_key, status, outcome from games").fetchall()
    assert len(rows) == GAMES and len({key for key, _, _ in rows}) == GAMES  # each game once, none replayed
    assert all(status == "finished" and outcome != "error" for _, status, outcome in rows), rows
    assert chat_requests(second) > before, "the surviving replica took over"
    killed = [line for line in err.splitlines() if f"(replica {first.base_url})" in line]
    assert all("at once on another replica" in line for line in killed), killed  # no backoff spent on it
