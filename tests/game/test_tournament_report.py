"""`mms tournament --json` is the typed tournament report serialised: the same keys, in the same
order, with the same values as the dict the command printed before it was typed (issue 25); the
human table is unchanged too."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from game.cli import app
from tests.helpers.tournament import SPEC, write_spec_dir

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "tournament_report.json"
runner = CliRunner()

# name → (spec file, options): a fresh run, the same run again, a shard, a run with games in error
# and its resume, which replays them.
CASES = {
    "fresh": ("spec.toml", "t.db"),
    "again": ("spec.toml", "t.db"),
    "shard": ("spec.toml", "s.db", "--shard", "1/2"),
    "errors": ("half.toml", "h.db"),
    "resumed": ("half.toml", "h.db"),
}


@pytest.fixture
def spec_dir(tmp_path):
    write_spec_dir(tmp_path)
    (tmp_path / "short.json").write_text(json.dumps(["Only one line."]))  # runs out on the second turn
    (tmp_path / "half.toml").write_text(SPEC.replace('spec = "scripted:m.json"\nlabel = "b"',
                                                     'spec = "scripted:short.json"\nlabel = "b"'))
    return tmp_path


def _outputs(spec_dir: Path) -> dict:
    """Every case's --json report in order (they share databases), the db path as its name."""
    found = {}
    for name, (spec, db, *extra) in CASES.items():
        result = runner.invoke(app, ["tournament", str(spec_dir / spec), "--db", str(spec_dir / db), "--json", *extra])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        report["db"] = Path(report["db"]).name
        found[name] = report
    return found


def test_the_json_report_is_unchanged(spec_dir):
    found = _outputs(spec_dir)
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert list(found) == list(expected)
    for name in expected:
        assert list(found[name]) == list(expected[name]), name
        assert found[name] == expected[name], name


HUMAN = """\
                                  Tournament t                                  
group              games win viol none guess error win rate [95% CI] turn tokens
────────────────────────────────────────────────────────────────────────────────
a / friendly /         2   0    0    2     0     0 0.00 [0.00, 0.66]          11
bark                                                                            
a / friendly /         2   2    0    0     0     0 1.00 [0.34, 1.00]    2     14
ring                                                                            
b / friendly /         2   0    0    2     0     0 0.00 [0.00, 0.66]          11
bark                                                                            
b / friendly /         2   2    0    0     0     0 1.00 [0.34, 1.00]    2     14
ring                                                                            
all                    8   4    0    4     0     0 0.50 [0.22, 0.78]            
viol = violation, none = no_codeword, guess = correct_guess; win rate over games
without error; turn = median turn of the first mention, tokens = mean tokens per
                                      game                                      
"""


def test_the_human_table_and_header_are_unchanged(spec_dir):
    result = runner.invoke(app, ["tournament", str(spec_dir / "spec.toml"), "--db", str(spec_dir / "x.db")])
    assert result.exit_code == 0, result.output
    assert result.stdout == HUMAN
    assert result.stderr.splitlines()[0] == "tournament t: 8 games, 0 already finished"
    shard = runner.invoke(app, ["tournament", str(spec_dir / "half.toml"), "--db", str(spec_dir / "y.db"),
                                "--shard", "2/2"])
    assert shard.exit_code == 0, shard.output
    again = runner.invoke(app, ["tournament", str(spec_dir / "half.toml"), "--db", str(spec_dir / "y.db"),
                                "--shard", "2/2"])
    assert " ".join(again.stderr.split()).startswith(  # rich wraps stderr at the runner's width
        "tournament t: 4 games in shard 2/2, 2 already finished, 2 game(s) that ended in error replayed games ")


@pytest.mark.parametrize("change, message", [
    ({"shard": "3/2"}, "--shard 3/2: need 1 ≤ i ≤ n"),
    ({"shard": "half"}, "--shard must look like i/n"),
    ({"spec_path": "missing.toml"}, "spec file not found"),
    ({"call_timeout": -1.0}, "timeout"),
])
def test_a_bad_tournament_request_is_refused_when_made(spec_dir, change, message):
    from agents.errors import MmsError
    from game.tournament import TournamentRequest

    args = {"spec_path": spec_dir / "spec.toml"} | change
    if isinstance(args["spec_path"], str):
        args["spec_path"] = spec_dir / args["spec_path"]
    with pytest.raises(MmsError) as raised:
        TournamentRequest(**args)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_request_takes_the_specs_limits_and_concurrency_unless_overridden(spec_dir):
    from game.tournament import TournamentRequest

    plain = TournamentRequest(spec_dir / "spec.toml")
    assert plain.workers == 4 and plain.limits == plain.spec.call_limits() and plain.slice is None
    chosen = TournamentRequest(spec_dir / "spec.toml", shard="2/3", concurrency=1, call_timeout=5.0, max_requests="7")
    assert chosen.workers == 1 and chosen.slice == (2, 3)
    assert (chosen.limits.timeout_s, chosen.limits.budget_s, chosen.limits.max_requests) == (
        5.0, plain.limits.budget_s, 7)
