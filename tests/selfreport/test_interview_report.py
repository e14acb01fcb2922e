"""`mms interview --json` and `mms report --json` are typed reports serialised: the same keys, in
the same order, with the same values as the dicts the commands printed before they were typed
(issue 25); the interview's human table and the report's report.json are unchanged too."""

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from game.plugins import mount
from selfreport.commands import COMMANDS
from tests.helpers.factories import played_without_prompt

DATA = Path(__file__).resolve().parent / "data"
runner = CliRunner()

TWO_QUESTIONS = (
    "- name: scale\n  question_type: quantitative\n  question: 'Rate your risk from 0 to 100. Answer with a single number.'\n"
    "- name: averse\n  question_type: quantitative\n  question: 'Rate your caution from 0 to 100. Answer with a single number.'\n")


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()
    mount(app, COMMANDS)
    return app


class Normalise:
    """Paths and session ids as stable names, so a report made in any folder reads the same."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = str(tmp_path)
        self.sessions: dict[str, str] = {}

    def text(self, text: str) -> str:
        text = text.replace(self.tmp_path, "DIR")
        return re.sub(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])", self._session, text)

    def _session(self, found: re.Match) -> str:
        return self.sessions.setdefault(found.group(0), f"SESSION{len(self.sessions) + 1:06d}")


def _cases(script, tmp_path: Path) -> dict[str, tuple]:
    (tmp_path / "two.yaml").write_text(TWO_QUESTIONS, encoding="utf-8")
    unaware = script("no idea, sorry")
    bark = ("--db", tmp_path / "b.db", "--codeword", "bark")
    return {
        "battery": (*bark, "--model", script("bark"), "--baseline", unaware, "--evals", "mc_codeword,which_game",
                    "--samples", "2", "--paraphrases", "3"),
        "seeds": (*bark, "--model", script("bark"), "--model", script("Bark!"), "--baseline", unaware,
                  "--evals", "mc_codeword", "--samples", "1", "--paraphrases", "2"),
        "pooled": ("--db", tmp_path / "p.db", "--model", script("80"), "--baseline", script("40"), "--questions",
                   tmp_path / "two.yaml", "--pool=scale,-averse", "--third-person", "--samples", "1"),
    }


def _invoke(app, *args):
    return runner.invoke(app, [str(a) for a in args])


def _golden(name: str):
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _assert_same(found, expected):
    """Equal, and every object's keys in the same order."""
    assert found == expected
    if isinstance(found, dict):
        assert list(found) == list(expected)
        for key in found:
            _assert_same(found[key], expected[key])
    elif isinstance(found, list):
        for a, b in zip(found, expected):
            _assert_same(a, b)


def test_the_interview_and_report_json_are_unchanged(app, tmp_path, script):
    norm = Normalise(tmp_path)
    found = {}
    for name, args in _cases(script, tmp_path).items():
        result = _invoke(app, "interview", "--json", *args)
        assert result.exit_code == 0, result.output
        report = json.loads(norm.text(result.stdout))
        assert type(report["seconds"]) is float
        report["seconds"] = "any"
        found[name] = report
    _assert_same(found, _golden("interview_report.json"))

    played_without_prompt(tmp_path / "b.db", found["battery"]["models"][0].replace("DIR", str(tmp_path)))
    result = _invoke(app, "report", "--db", tmp_path / "b.db", "--out", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    report = {"json": json.loads(norm.text(result.stdout)),
              "report.json": json.loads(norm.text((tmp_path / "r" / "report.json").read_text(encoding="utf-8")))}
    _assert_same(report, _golden("selfreport_report.json"))


def test_the_interview_table_is_unchanged(app, tmp_path, script):
    norm = Normalise(tmp_path)
    result = _invoke(app, "interview", *_cases(script, tmp_path)["seeds"])
    assert result.exit_code == 0, result.output
    table, stored = norm.text(result.stdout).split("Stored in")
    assert table == (DATA / "interview_table.txt").read_text(encoding="utf-8")
    assert re.sub(r", \d+ s\)", ", N s)", " ".join(stored.split())) == (  # rich wraps the paths at its width
        "DIR/b.db (session SESSION000001, N s). Report: mms report --db DIR/b.db --out DIR")


@pytest.mark.parametrize("change, message", [
    ({"question": ("a",)}, "--question picks from a study question file: give --questions PATH too"),
    ({"questions": "two.yaml", "evals": "mc_codeword"},
     "--questions asks the study's questions instead of our evaluations: drop --evals"),
    ({"pool": "mc_codeword,mc_codeword"}, "--pool names a metric twice"),
    ({"pool": "mc_codeword,-nope.x"},
     "--pool names metric(s) of no question asked: -nope.x (metrics start with a question's name: mc_codeword)"),
    ({"evals": "bogus"}, "unknown evaluation bogus"),
    ({"codeword": "two words"}, "single word"),
    ({"models": ("nope:x",)}, "unknown model spec"),
])
def test_a_bad_interview_request_is_refused_when_made(tmp_path, script, change, message):
    from agents.errors import MmsError
    from selfreport.interview_report import InterviewRequest

    (tmp_path / "two.yaml").write_text(TWO_QUESTIONS, encoding="utf-8")
    args = {"models": (script("bark"),), "codeword": "bark", "evals": "mc_codeword"} | change
    if "questions" in args:
        args["questions"] = tmp_path / args["questions"]
    with pytest.raises(MmsError) as raised:
        InterviewRequest(**args)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_request_holds_its_checked_plan_and_pool(tmp_path, script):
    from selfreport.interview_report import InterviewRequest

    (tmp_path / "two.yaml").write_text(TWO_QUESTIONS, encoding="utf-8")
    model, baseline = script("80"), script("40")
    request = InterviewRequest(models=(model,), baselines=(baseline,), questions=tmp_path / "two.yaml",
                               question=("scale", "averse"), pool=" scale , -averse,", samples=1)
    assert request.pooled == ("scale", "-averse")
    assert [q.name for q in request.plan.questions] == ["scale", "averse"] and request.plan.evals == []
    assert request.plan.baseline == baseline and request.plan.codeword is None


def test_a_report_request_for_a_missing_database_is_refused_when_made(tmp_path):
    from agents.errors import MmsError
    from selfreport.report import ReportRequest

    with pytest.raises(MmsError) as raised:
        ReportRequest(out=tmp_path / "r", db=tmp_path / "none.db")
    assert str(raised.value) == (f"database not found: {tmp_path / 'none.db'} (interview a model first: "
                                 f"mms interview --model SPEC --codeword W --db {tmp_path / 'none.db'})")
    assert not (tmp_path / "r").exists()
