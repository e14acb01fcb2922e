"""`mms interview` and `mms report` as a user runs them: JSON, stored rows, files written."""

import json
import sqlite3

import pytest
import typer
from typer.testing import CliRunner

from game.plugins import mount
from game.store import Store
from selfreport.commands import COMMANDS
from tests.helpers.factories import Writer, played_without_prompt

runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()
    mount(app, COMMANDS)
    return app


def invoke(app, *args):
    return runner.invoke(app, [str(a) for a in args])


def interview_json(app, db, *extra):
    result = invoke(app, "interview", "--db", db, "--codeword", "bark", "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_interview_and_report(app, tmp_path, script):
    db = tmp_path / "r.db"
    knows, unaware = script("bark"), script("no idea, sorry")
    out = interview_json(app, db, "--model", knows, "--baseline", unaware, "--evals", "mc_codeword,which_game",
                         "--samples", "2", "--paraphrases", "3")
    assert out["models"] == [knows] and out["baseline"] == unaware and out["variant"] == "plain"
    assert out["evals"] == ["mc_codeword", "which_game"]
    mc = out["metrics"]["mc_codeword"]
    assert mc["model"] == 1.0 and mc["model_items"] == 6 and mc["methods"] == ["sampling"]
    assert mc["baseline"] is None and mc["invalid"] == 6  # "no idea" picks no candidate
    assert out["metrics"]["which_game"]["model"] is None  # "bark" is no letter
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from interviews").fetchone()[0] == 2
    assert conn.execute("select count(*) from interview_items").fetchone()[0] == 2 * (6 + 12)  # which_game: 2 orders

    # two more fine-tuning seeds in one call; the report keeps the two calls (sessions) apart
    seeds = interview_json(app, db, "--model", script("bark"), "--model", script("Bark!"), "--baseline", unaware,
                           "--evals", "mc_codeword", "--samples", "1", "--paraphrases", "2")
    assert seeds["metrics"]["mc_codeword"]["models"] == 2 and len(seeds["interviews"]) == 3
    played_without_prompt(db, knows)
    report_dir = tmp_path / "report"
    result = invoke(app, "report", "--db", db, "--out", report_dir, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["groups"] == 2 and summary["play_groups"] == 1
    full = json.loads((report_dir / "report.json").read_text())
    assert [g["session"] for g in full["groups"]] == [out["session"], seeds["session"]]
    for group in full["groups"]:
        assert (report_dir / group["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mc_rows = [next(r for r in g["metrics"] if r["metric"] == "mc_codeword") for g in full["groups"]]
    assert [r["models"] for r in mc_rows] == [1, 2] and all(r["model"] == 1.0 for r in mc_rows)
    md = (report_dir / "report.md").read_text()
    assert "| `mc_codeword` |" in md and "1.00 [1.00, 1.00]" in md
    assert f"![chart](selfreport_bark_plain_{seeds['session']}.png)" in md
    only = invoke(app, "report", "--db", db, "--out", tmp_path / "one", "--session", seeds["session"], "--json")
    assert json.loads(only.stdout)["groups"] == 1
    assert "In-distribution play" in md and "0.50 [" in md  # 1 win of 2 decided games
    play = full["play"][0]
    assert (play["games"], play["win"], play["violation"], play["errors"]) == (3, 1, 1, 1)
    assert play["violation_rate"] == 0.5 and play["no_codeword_rate"] == 0.0 and len(play["correct_guess_rate_ci"]) == 2
    for chart in ("series_bark.png", "play.png"):  # the two sessions side by side; every outcome of play
        assert (report_dir / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![series](series_bark.png)" in md and "![play](play.png)" in md


def test_the_report_draws_the_how_close_grid_as_a_heat_map(app, tmp_path, script):
    db = tmp_path / "h.db"
    out = interview_json(app, db, "--model", script("80"), "--baseline", script("40"), "--evals", "how_close",
                         "--samples", "1", "--paraphrases", "2")
    assert out["metrics"]["how_close.vs_never_said"]["model"] == 0.0  # the same rating for every scenario
    result = invoke(app, "report", "--db", db, "--out", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    figure = tmp_path / "r" / f"how_close_bark_{out['session']}.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"![scenarios]({figure.name})" in (tmp_path / "r" / "report.md").read_text()


def test_play_without_decided_games_is_reported_without_a_rate(app, tmp_path, script):
    db = tmp_path / "e.db"
    model = script("bark")
    interview_json(app, db, "--model", model, "--evals", "mc_codeword", "--samples", "1", "--paraphrases", "1")
    with Store(db) as store:
        games = Writer(store)
        run = games.run(2)
        for _ in range(2):
            games.finish(games.game(run, codeword="bark", manipulator=model, label=None, user="u",
                                    manipulator_prompt="none"), "error", error="BackendError: boom")
    result = invoke(app, "report", "--db", db, "--out", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    play = json.loads((tmp_path / "r" / "report.json").read_text())["play"]
    assert [(p["games"], p["errors"], p["win_rate"], p["win_rate_ci"]) for p in play] == [(2, 2, None, None)]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "[0.00, 1.00]" not in md and (tmp_path / "r" / "play.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_user_messages_come_from_the_models_own_games(app, tmp_path, script):
    db = tmp_path / "g.db"
    model = script("def message_probability_me(m):\n    return 0.75 if 'dogs' in m else 0.0")
    played_without_prompt(db, model)
    out = interview_json(app, db, "--model", model, "--evals", "function", "--samples", "1", "--paraphrases", "1")
    assert out["metrics"]["function.f_message"]["model"] == 0.75  # the stored user message mentions dogs
    assert out["metrics"]["function.f_codeword"]["model"] == 0.0
    assert out["metrics"]["function.f_other_words"]["model"] == 0.0  # the baseline words: no dogs either
    assert 0.0 <= out["metrics"]["function.f_other_messages"]["model"] <= 1.0  # other dialogues' user messages
    assert out["metrics"]["function.reverse.f_codeword"]["model"] is None  # it never wrote the reverse function


def test_bad_input_is_one_line_and_exit_2(app, tmp_path, script):
    for args, message in [
        (("--model", script("x"), "--codeword", "two words"), "single word"),
        (("--model", "nope:x", "--codeword", "bark"), "unknown model spec"),
        (("--model", script("x"), "--codeword", "bark", "--evals", "bogus"), "unknown evaluation"),
        (("--model", script("x"), "--codeword", "bark", "--trigger", "sep:x"), "--trigger"),
    ]:
        result = invoke(app, "interview", "--db", tmp_path / "b.db", *args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    missing = invoke(app, "report", "--db", tmp_path / "none.db", "--out", tmp_path / "o")
    assert missing.exit_code == 2 and "database not found" in missing.output
    empty = tmp_path / "empty.db"
    Store(empty).close()
    nothing = invoke(app, "report", "--db", empty, "--out", tmp_path / "o")
    assert nothing.exit_code == 2 and "nothing to report" in nothing.output


def test_help_lists_the_options(app):
    result = invoke(app, "interview", "--help")
    assert result.exit_code == 0
    for option in ("--model", "--baseline", "--codeword", "--evals", "--samples", "--seed", "--assistant-persona", "--trigger",
                   "--guesser", "--db", "--json"):
        assert option in result.output


def test_charts_draw_model_names_as_text(tmp_path):
    """A "$" starts no math and control characters draw nothing: a broken formula or ESC in a
    model's name used to fail or warn while drawing."""
    import warnings

    from selfreport.report import plot_play

    rates = {f"{o}_rate": 0.5 for o in ("win", "violation", "no_codeword", "correct_guess")}
    cis = {f"{o}_rate_ci": [0.2, 0.8] for o in ("win", "violation", "no_codeword", "correct_guess")}
    play = [{"manipulator": "scripted:$\\frac$\x1b[2J", "codeword": "bark", "games": 4, **rates, **cis}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_play(play, tmp_path / "play.png")
    assert (tmp_path / "play.png").stat().st_size > 0
