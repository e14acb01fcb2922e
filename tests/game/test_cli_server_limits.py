"""`--call-timeout`, `--retry-budget`, `--max-requests` and a spec's `call_timeout`/`retry_budget`/
`max_requests` reach the model calls of `mms play`, `mms tournament` and `mms interview`; a bad
value, server address or replica list is one line and exit 2 before any game starts."""

import pytest
from tests.helpers.http_loopback import Canned, LoopbackServer, as_json, completion
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

    monkeypatch.setattr("selfreport.interview_report.run_interviews", interviews)  # where the command calls it
    result = run("interview", "--model", script("bark"), "--codeword", "bark", "--evals", "mc_codeword",
                 "--db", tmp_path / "i.db", "--call-timeout", "7", "--retry-budget", "9", "--max-requests", "12")
    assert result.exit_code == 2 and seen == [CallLimits(7.0, 9.0, 12)]


# -- requests in flight per server: --max-requests, a spec's max_requests, MMS_MAX_REQUESTS ----------


@pytest.mark.parametrize("value", ["0", "abc", "4097", "-3", "2.5", ""])
def test_a_bad_max_requests_is_one_line_before_any_game(tmp_path, script, value):
    db = tmp_path / "p.db"
    line = one_line_error(run("play", "--codeword", "ring", "--manipulator", script("Hello"), "--user",
                              script(*USER_LINES), "--db", db, "--max-requests", value))
    assert line.startswith("error: --max-requests must be a whole number from 1 to 4096 (requests in flight "
                           "to one server), not ") and line.endswith(value if value.isdigit() else repr(value))
    assert not db.exists()


@pytest.mark.parametrize("command", ["play", "tournament", "interview"])
def test_max_requests_is_in_the_help(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "--max-requests" in result.output and "MMS_MAX_REQUESTS" in result.output


def test_the_option_overrides_the_spec_which_overrides_the_environment():
    from game.cli_support import call_limits

    assert call_limits(None, None).max_requests is None  # the backend then reads MMS_MAX_REQUESTS, else 256
    assert call_limits(None, None, CallLimits(max_requests=3)).max_requests == 3
    assert call_limits(None, None, CallLimits(max_requests=3), " 5 ").max_requests == 5


@pytest.fixture
def loopback():
    """A server that takes 20 ms a reply: long enough for games at once to overlap their requests."""
    server = LoopbackServer()
    server.replies = [Canned(as_json(completion()).body, delay_s=0.02)]
    yield server
    server.close()


def test_two_specs_on_one_server_share_its_max_requests(tmp_path, loopback):
    """Manipulator and user on one server (a base model and its adapter, say), four games at once:
    one request in flight to the server at a time."""
    result = run("play", "--codeword", "ring", "--manipulator", f"openai:base@{loopback.url}",
                 "--user", f"openai:bark@{loopback.url}/", "--games", "4", "--concurrency", "4",
                 "--messages-per-player", "1", "--db", tmp_path / "p.db", "--max-requests", "1", "--json")
    assert result.exit_code == 0, result.output
    assert loopback.requests >= 8 and loopback.peak == 1


def test_a_spec_max_requests_reaches_the_backends(tmp_path, loopback):
    spec = write_spec(tmp_path, f"openai:base@{loopback.url}", f"openai:bark@{loopback.url}", "max_requests = 1")
    spec.write_text(spec.read_text().replace("games_per_cell = 1", "games_per_cell = 4\nconcurrency = 4"))
    result = run("tournament", spec, "--db", tmp_path / "t.db", "--json")
    assert result.exit_code == 0, result.output
    assert loopback.requests >= 8 and loopback.peak == 1


@pytest.mark.parametrize("limits,said", [("max_requests = 0", "max_requests: Input should be greater than or equal to 1"),
                                         ('max_requests = "8"', "max_requests: give a whole number without quotes"),
                                         ("max_requests = 5000", "max_requests: Input should be less than or equal to 4096")])
def test_a_bad_max_requests_in_a_spec_names_the_field(tmp_path, script, limits, said):
    spec = write_spec(tmp_path, "scripted:m.json", script(*USER_LINES), limits)
    assert said in one_line_error(run("tournament", spec, "--db", tmp_path / "t.db"))


def test_max_requests_does_not_change_which_run_a_spec_resumes(tmp_path, script):
    from game.tournament import load_spec

    user = script(*USER_LINES)
    before = load_spec(write_spec(tmp_path, user, user, "")).spec_hash()
    assert load_spec(write_spec(tmp_path, user, user, "max_requests = 64")).spec_hash() == before


@pytest.mark.parametrize("spec,said", [
    ("openai:m@http://127.0.0.1:8000/v1,http://127.0.0.1:8001/v1", "separate the replicas' addresses with @, not a comma"),
    ("openai:m@http://127.0.0.1:8000/v1@127.0.0.1:8001/v1", "has an @ in its path"),
    ("openai:m@http://localhost:80/v1@http://LOCALHOST/v1/", "names one server twice: 'http://localhost:80/v1' and 'http://LOCALHOST/v1'"),
    ("openai:m@http://127.0.0.1:8000/v1@http://127.0.0.1:0/v1", "the port in 'http://127.0.0.1:0/v1' is not a number"),
])
def test_a_malformed_replica_list_is_one_line_before_any_game(tmp_path, script, spec, said):
    db = tmp_path / "p.db"
    line = one_line_error(run("play", "--codeword", "ring", "--manipulator", spec, "--user", script(*USER_LINES),
                              "--db", db))
    assert said in line
    assert not db.exists()
