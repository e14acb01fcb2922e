"""A run spread over machines: shards played as separate processes, each reaching the server by
its own name for it, merge into one run that is finished when all its games are."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.http_loopback import LoopbackServer
from typer.testing import CliRunner

from game.cli import app
from game.merge import merge_databases
from game.tournament import load_spec

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

SPEC = """
name = "t"
seed = 3
games_per_cell = 2

[[manipulators]]
spec = "{manipulator}"

[[users]]
spec = "scripted:u.json"

[codewords]
words = ["ring", "bark"]

[game]
messages_per_player = 2
"""
GAMES = 4


@pytest.fixture
def server():
    loopback = LoopbackServer()
    yield loopback
    loopback.close()


def write_spec(folder: Path, manipulator: str, name: str = "spec.toml") -> Path:
    (folder / "u.json").write_text(json.dumps(["Hello!", "A ring.", "<|START GUESS|>glove<|END GUESS|>"]))
    path = folder / name
    path.write_text(SPEC.format(manipulator=manipulator))
    return path


def tournament(spec: Path, db: Path, *extra) -> dict:
    result = runner.invoke(app, ["tournament", str(spec), "--db", str(db), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_row(db: Path) -> tuple:
    return sqlite3.connect(db).execute("select status, finished_at, games_planned from runs where id = 't'").fetchone()


def test_a_server_address_is_no_part_of_a_specs_identity(tmp_path, server):
    port = server.port
    ways = [f"openai:tiny@http://localhost:{port}/v1", f"openai:tiny@http://127.0.0.1:{port}/v1/",
            "openai:tiny@http://gpu-node-3:8000/v1"]
    hashes = {load_spec(write_spec(tmp_path, way, f"s{i}.toml")).spec_hash() for i, way in enumerate(ways)}
    assert len(hashes) == 1
    other_model = load_spec(write_spec(tmp_path, f"openai:other@http://localhost:{port}/v1", "o.toml"))
    assert other_model.spec_hash() not in hashes


def test_a_run_recorded_with_the_address_in_its_hash_resumes_and_is_brought_up_to_date(tmp_path, server):
    """Databases from before issue 24 hashed the spec with its server address as written."""
    spec_path = write_spec(tmp_path, f"openai:tiny@{server.url}")
    db = tmp_path / "t.db"
    tournament(spec_path, db, "--shard", "1/2")
    spec = load_spec(spec_path)
    then = spec.legacy_spec_hashes()[0]
    assert then != spec.spec_hash()
    conn = sqlite3.connect(db)
    conn.execute("update runs set spec_hash = ?", [then])
    conn.commit()
    assert tournament(spec_path, db)["played"] == GAMES // 2
    assert conn.execute("select spec_hash from runs").fetchone()[0] == spec.spec_hash()


def test_a_merge_that_completes_a_run_marks_it_finished(tmp_path, server):
    spec_path = write_spec(tmp_path, f"openai:tiny@{server.url}")
    for i in (1, 2):
        tournament(spec_path, tmp_path / f"s{i}.db", "--shard", f"{i}/2")
        assert run_row(tmp_path / f"s{i}.db")[0] == "running"  # no shard alone holds every game
    merge_databases(tmp_path / "half.db", [tmp_path / "s1.db"])
    assert run_row(tmp_path / "half.db")[0] == "running"
    stats = merge_databases(tmp_path / "half.db", [tmp_path / "s2.db"])  # the rest, into the same output
    assert stats.finished_runs == 1
    status, finished_at, planned = run_row(tmp_path / "half.db")
    last = sqlite3.connect(tmp_path / "half.db").execute("select max(finished_at) from games").fetchone()[0]
    assert (status, finished_at, planned) == ("finished", last, GAMES)


@pytest.mark.integration  # four processes, each importing the whole CLI: about 15 s of CPU
def test_four_shard_processes_naming_the_server_differently_merge_into_one_finished_run(tmp_path, server):
    """Each shard is its own `mms tournament` process, as on four machines; two reach the server
    as `localhost`, two as `127.0.0.1/` (a spec file each, as each machine would have)."""
    names = [write_spec(tmp_path, f"openai:tiny@http://localhost:{server.port}/v1", "a.toml"),
             write_spec(tmp_path, f"openai:tiny@http://127.0.0.1:{server.port}/v1/", "b.toml")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shards = [subprocess.Popen([sys.executable, "-c", "from game.cli import main; main()", "tournament",
                                str(names[i % 2]), "--shard", f"{i + 1}/4", "--db", str(tmp_path / f"shard-{i}.db"),
                                "--json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
              for i in range(4)]
    for shard in shards:
        out, err = shard.communicate(timeout=120)
        assert shard.returncode == 0, err
        assert json.loads(out)["played"] == 1
    merged = tmp_path / "merged.db"
    result = runner.invoke(app, ["db", "merge", str(merged), *(str(tmp_path / f"shard-{i}.db") for i in range(4)), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout).items() >= {"games": GAMES, "duplicates": 0, "finished_runs": 1}.items()
    shown = json.loads(runner.invoke(app, ["stats", "--db", str(merged), "--run", "t", "--json"]).stdout)
    assert (shown["run_status"], shown["games_planned"], shown["games"], shown["win"]) == ("finished", GAMES, GAMES, 2)
    keys = sqlite3.connect(merged).execute("select game_key from games").fetchall()
    assert len(keys) == len(set(keys)) == GAMES
    assert server.requests == GAMES * 2  # every game played once: two manipulator messages each
