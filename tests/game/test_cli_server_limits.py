"""`--call-timeout`, `--retry-budget` and a spec's `call_timeout`/`retry_budget` reach the model
calls of `mms play`, `mms tournament` and `mms interview`; a bad value or server address is one
line and exit 2 before any game starts."""

import pytest
from http_loopback import Canned, LoopbackServer, as_json, completion
from typer.testing import CliRunner

from agents.backend import CallLimits
from agents.errors import MmsError
from game.cli import app

runner = CliRunner()
USER_LINES = ("Hi!", "<|START GUESS|>glove<|END GUESS|>")


@pytest.fixture
def dripping():
    """A server whose reply would take about 13 s to arrive in full."""
    loopback = LoopbackServer()
    loopback.replies = [Canned(as_json(completion()).body, drip_s=0.05)]
    yield f"openai:tiny@{loopback.url}"
    loopback.close()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("port", ["99999", "0"])
def test_a_server_port_out_of_range_is_refused_before_any_game(tmp_path, script, port):
    db = tmp_path / "p.db"
    line = one_line_error(run("play", "--codeword", "ring", "--manipulator", f"openai:x@http://127.0.0.1:{port}/v1",
                              "--user", script(*USER_LINES), "--db", db))
    assert f"the port in 'http://127.0.0.1:{port}/v1' is not a number from 1 to 65535" in line
    assert not db.exists()


@pytest.mark.parametrize("option,value", [("--call-timeout", "nan"), ("--call-timeout", "0"), ("--retry-budget", "-5"),
                                          ("--retry-budget", "inf")])
def test_a_bad_limit_is_refused_before_any_game(tmp_path, script, option, value):
    db = tmp_path / "p.db"
    line = one_line_error(run("play", "--codeword", "ring", "--manipulator", script("Hello"), "--user",
                              script(*USER_LINES), "--db", db, option, value))
    assert line.startswith(f"error: {option} must be a positive number of seconds")
    assert not db.exists()


def test_play_cuts_a_dripping_server_off_at_the_call_timeout(tmp_path, script, dripping):
    result = run("play", "--codeword", "ring", "--manipulator", dripping, "--user", script(*USER_LINES),
                 "--db", tmp_path / "p.db", "--call-timeout", "0.3", "--retry-budget", "0.3", "--json")
    assert result.exit_code == 1, result.output
    assert (f"1 × BackendError: {dripping}: timed out after 1 attempt (no complete reply within 0.3 s; --call-timeout "
            "sets it); not retried: the 0.3 s retry budget is spent (--retry-budget)") in result.stderr


SPEC = """
name = "limits"
games_per_cell = 1
{limits}

[[manipulators]]
spec = "{manipulator}"

[[users]]
spec = "{user}"

[codewords]
words = ["ring"]

[game]
messages_per_player = 1
"""


def write_spec(tmp_path, manipulator, user, limits):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(manipulator=manipulator, user=user, limits=limits))
    return path


@pytest.mark.parametrize("extra,within", [((), "0.4 s, what was left of the retry budget"),
                                          (("--call-timeout", "0.2", "--retry-budget", "0.2"), "0.2 s;")])
def test_a_tournament_takes_its_limits_from_the_spec_or_the_options(tmp_path, script, dripping, extra, within):
    spec = write_spec(tmp_path, dripping, script(*USER_LINES), "call_timeout = 10\nretry_budget = 0.4")
    result = run("tournament", spec, "--db", tmp_path / "t.db", "--json", *extra)
    assert result.exit_code == 1, result.output
    assert f"(no complete reply within {within}" in result.stderr


@pytest.mark.parametrize("limits,said", [('call_timeout = "60"', "call_timeout: give a number without quotes"),
                                         ("call_timeout = inf", "call_timeout: Input should be a finite number"),
                                         ("retry_budget = 0", "retry_budget: Input should be greater than 0")])
def test_a_bad_limit_in_a_spec_names_the_field(tmp_path, script, limits, said):
    spec = write_spec(tmp_path, "scripted:m.json", script(*USER_LINES), limits)
    assert said in one_line_error(run("tournament", spec, "--db", tmp_path / "t.db"))


def test_limits_do_not_change_which_run_a_spec_resumes(tmp_path, script):
    from game.tournament import load_spec

    user = script(*USER_LINES)
    before = load_spec(write_spec(tmp_path, user, user, "")).spec_hash()
    assert load_spec(write_spec(tmp_path, user, user, "call_timeout = 5\nretry_budget = 9")).spec_hash() == before


def test_interview_passes_its_limits_to_the_backends(tmp_path, script, monkeypatch):
    seen = []

    async def interviews(store, plan, backends=None, progress=None):
        seen.append(backends.get("openai:x@http://127.0.0.1:9/v1").limits)  # made, never called
        await backends.aclose()
        raise MmsError("stopped here")

    monkeypatch.setattr("selfreport.interview.run_interviews", interviews)
    result = run("interview", "--model", script("bark"), "--codeword", "bark", "--evals", "mc_codeword",
                 "--db", tmp_path / "i.db", "--call-timeout", "7", "--retry-budget", "9")
    assert result.exit_code == 2 and seen == [CallLimits(7.0, 9.0)]
