"""The scale benchmark runs end to end on a tiny load and counts what it measures."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "orchestrator.py"


@pytest.mark.integration  # the benchmark in a process of its own against a loopback server: about 15 s
def test_tiny_run_prints_one_json_object_with_counted_messages():
    done = subprocess.run([sys.executable, str(BENCH), "--json", "--games", "2", "--in-flight", "2",
                           "--messages-per-player", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [level] = result["levels"]
    assert level["in_flight"] == 2 and level["games"] == 2
    assert level["messages"] == 4  # two games, one message per seat, the user never says the codeword
    assert level["cpu_s"] > 0 and level["peak_rss_mb"] > 0
    assert {"msgs_per_s", "cpu_ms_per_msg"} <= level.keys()
    assert result["startup_subtracted"] is True
    assert result["server_requests"] == 4 + 2  # the level's games and the 1-game start-up run
