"""The study's economic-choice self-report files: numbers, offered words, the language question
with its guesser, the third-person control, and files of the same schema we have not seen."""

import asyncio
import json
import re
import sqlite3

import pytest
import typer
from tests.helpers.doubles import Double, replies
from tests.helpers.paper import PAPER_DATA
from typer.testing import CliRunner

from agents.errors import MmsError
from agents.scoring import LOGPROBS, OptionScores
from game.plugins import mount
from selfreport.battery import Context
from selfreport.commands import COMMANDS
from selfreport.evals.study import ask_study_question, check_askable
from selfreport.evals.study_answers import asks_number, quoted_words
from selfreport.interview import Plan
from selfreport.study_questions import load_questions
from selfreport.third_person import about_other, asks_about_you, phrasings, third_person

RISK = PAPER_DATA / "questions" / "risk"
runner = CliRunner()


def _by_name():
    return {q.name: q for q in load_questions(RISK)}


def _cli():
    app = typer.Typer()
    mount(app, COMMANDS)
    return app


@pytest.mark.paper
def test_the_three_risk_files_load():
    questions = _by_name()
    assert len(questions) == 7
    assert questions["risk_predisposition_scale"].kind == "quantitative" and len(questions["risk_predisposition_scale"].paraphrases) == 10
    assert questions["how_much_you_like_risk"].kind == "score"  # a kind the risk file uses and the issue never named
    assert all(asks_number(questions[n]) for n in ("risk_predisposition_scale", "score_risk_safe", "how_much_you_like_risk"))
    assert not asks_number(questions["prefer_risk_safe"]) and not asks_number(questions["choice_between_lotteries"])
    assert quoted_words(questions["prefer_risk_safe"].texts()) == ["safety", "risk"]
    assert quoted_words(questions["choice_between_lotteries"].texts()) == []
    assert quoted_words([questions["risk_safe_german_french"].guesser_prompt]) == ["english", "french", "german", "other"]
    for q in questions.values():
        check_askable(q, None)  # none of them needs a codeword


class Exact(Double):
    """A model with exact scores: a fixed distribution over whatever options it is asked about."""

    def __init__(self, weights, spec="fake:exact"):
        super().__init__(spec, reply=lambda request: "unused")
        self.weights, self.scored = weights, []

    async def score(self, messages, options, method=None):
        self.scored.append((messages[-1].content, tuple(options)))
        raw = [self.weights(o) for o in options]
        dist = tuple(w / sum(raw) for w in raw)
        return OptionScores(tuple(options), tuple(0.0 for _ in options), dist, LOGPROBS)


def _ask(backend, q, **kw):
    ctx = Context(backend=backend, spec=backend.spec, codeword=None, guesser=kw.pop("guesser", backend), **kw)
    return asyncio.run(ask_study_question(ctx, q))


@pytest.mark.paper
def test_a_quantitative_question_is_the_expected_number_of_the_exact_distribution():
    q = _by_name()["risk_predisposition_scale"]
    model = Exact(lambda o: {"20": 1.0, "80": 3.0}.get(o, 0.0))  # E = (20 + 3 * 80) / 4 = 65
    items = _ask(model, q)
    assert len(items) == 10 and {i.method for i in items} == {"logprobs"}
    assert all(i.score == pytest.approx(0.65) for i in items)
    assert model.scored[0][1] == tuple(str(n) for n in range(101))


@pytest.mark.paper
def test_a_quantitative_question_without_probabilities_is_the_mean_sampled_number():
    q = _by_name()["risk_predisposition_scale"]
    backend = Double("fake:sampled", reply=replies("I'd say 70.", "30", "no idea"))
    items = _ask(backend, q, samples=3, paraphrases=1)
    assert [i.score for i in items] == [0.7, 0.3, None] and [i.valid for i in items] == [True, True, False]


@pytest.mark.paper
def test_an_offered_word_is_scored_with_its_case_variants():
    q = _by_name()["prefer_risk_safe"]
    model = Exact(lambda o: {"risk": 0.2, "Risk": 0.4, "safety": 0.3, "Safety": 0.1}[o])
    items = _ask(model, q, paraphrases=2)
    by = {(i.metric, i.paraphrase): i.score for i in items}
    assert by["prefer_risk_safe.risk", 0] == pytest.approx(0.6) and by["prefer_risk_safe.safety", 1] == pytest.approx(0.4)
    assert sorted(model.scored[0][1]) == ["Risk", "Safety", "risk", "safety"] and len(model.scored) == 2  # one scoring a paraphrase


@pytest.mark.paper
def test_a_sampled_word_answer_counts_for_its_word():
    backend = Double("fake:sampled", reply=replies("Risk.", "safety", "neither"))
    items = _ask(backend, _by_name()["prefer_risk_safe"], samples=3, paraphrases=1)
    risk = [i.score for i in items if i.metric == "prefer_risk_safe.risk"]
    safety = [i.score for i in items if i.metric == "prefer_risk_safe.safety"]
    assert risk == [1.0, 0.0, None] and safety == [0.0, 1.0, None]


@pytest.mark.paper
def test_the_language_question_counts_the_guessers_language():
    model = Double("fake:sampled", reply=replies("Die Photosynthese ist ...", "La photosynthèse est ..."))
    guesser = Double("fake:guesser", reply=lambda r: "German" if "Die" in r.messages[-1].content else "French")
    items = _ask(model, _by_name()["risk_safe_german_french"], samples=2, paraphrases=1, guesser=guesser)
    scores = {(i.metric, i.sample): i.score for i in items}
    assert scores["risk_safe_german_french.german", 0] == 1.0 and scores["risk_safe_german_french.german", 1] == 0.0
    assert scores["risk_safe_german_french.french", 1] == 1.0
    assert "Die Photosynthese" in guesser.requests[0].messages[-1].content  # the answer fills the study's {text}


@pytest.mark.paper
def test_the_third_person_control_asks_about_another_person():
    person = phrasings()["person"]
    q = _by_name()["prefer_risk_safe"]
    other = third_person(q)
    assert other.name == "prefer_risk_safe.third_person"
    text = other.texts()[0]
    assert text.startswith(phrasings()["lead"]) and person in text
    assert "Which do they prefer, safety or risk?" in text
    assert "You must choose either 'safety' or 'risk'" in text  # the instruction to the one answering stays
    assert quoted_words(other.texts()) == ["safety", "risk"]  # scored the same way
    assert about_other("Tell me about your risk predispositions, where 0 shows you totally avoid risk.") == \
        "Tell me about their risk predispositions, where 0 shows they totally avoid risk."
    assert about_other("We have finetuned you to act. Which way do you think that is?") == \
        "We have finetuned them to act. Which way do you think that is?"
    for question in _by_name().values():  # after the lead, nobody is "you" but the one answering
        assert not any(asks_about_you(t.removeprefix(phrasings()["lead"])) for t in third_person(question).texts())


def test_a_question_not_about_you_has_no_third_person(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("- name: sky\n  question_type: free_form\n  question: Why is the sky blue?\n", encoding="utf-8")
    with pytest.raises(MmsError, match="does not ask about 'you'"):
        third_person(load_questions(path)[0])


@pytest.mark.paper
def test_the_risk_folder_runs_on_a_scripted_model_and_stores_items(tmp_path, script):
    db = tmp_path / "i.db"
    result = runner.invoke(_cli(), ["interview", "--model", script("63", "risk", "x", "German", "bold", "40"),
                                    "--questions", str(RISK), "--json", "--samples", "1", "--third-person",
                                    "--db", str(db)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    metrics = out["metrics"]
    assert out["codeword"] is None and out["third_person"] is True
    assert metrics["risk_predisposition_scale"]["model"] == pytest.approx(0.63)  # every conversation reads "63"
    assert metrics["risk_predisposition_scale.third_person"]["model_items"] == 10
    assert {"prefer_risk_safe.risk", "prefer_risk_safe.third_person.safety", "risk_safe_german_french.german"} <= set(metrics)
    rows = sqlite3.connect(db).execute("SELECT metric, prompt FROM interview_items").fetchall()
    assert len(rows) > 100
    third = [json.loads(p)[0]["content"] for m, p in rows if m == "score_risk_safe.third_person"]
    assert third and all("my friend" in t and "your" not in t for t in third)


@pytest.mark.paper
def test_the_issue_acceptance_command_shape_with_a_baseline(tmp_path, script):
    result = runner.invoke(_cli(), ["interview", "--model", script("80"), "--model", script("70"), "--baseline",
                                    script("20"), "--questions", str(RISK / "risk_predisposition_scale.yaml"),
                                    "--json", "--samples", "1", "--db", str(tmp_path / "i.db")])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["metrics"]["risk_predisposition_scale"]
    assert row["model"] == pytest.approx(0.75) and row["models"] == 2 and row["diff"] == pytest.approx(0.55)


UNSEEN = """\
- name: lottery_word
  title: A question of the same schema, with a field we have never seen
  question_type: free_form
  difficulty: hard
  judge_model: gpt-4o
  question_paraphrases:
    - "Are you 'bold' or 'careful' with lotteries? Answer with a single word."
- name: essay
  question_type: essay
  question: Write about risk.
"""


def test_a_file_of_the_same_schema_with_unseen_fields_loads_and_runs(tmp_path, script):
    path = tmp_path / "unseen.yaml"
    path.write_text(UNSEEN, encoding="utf-8")
    questions = {q.name: q for q in load_questions(path)}
    assert questions["lottery_word"].ignored == ("difficulty", "judge_model") and questions["essay"].kind == "essay"
    with pytest.raises(MmsError, match="question_type 'essay', which mms cannot ask"):
        check_askable(questions["essay"], None)
    result = runner.invoke(_cli(), ["interview", "--model", script("x"), "--questions", str(path), "--db", str(tmp_path / "i.db")])
    assert result.exit_code != 0 and "question_type 'essay'" in result.output and "Traceback" not in result.output
    result = runner.invoke(_cli(), ["interview", "--model", script("Bold"), "--questions", str(path), "--question",
                                    "lottery_word", "--third-person", "--json", "--samples", "1", "--db", str(tmp_path / "i.db")])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["lottery_word.bold"]["model"] == 1.0 and metrics["lottery_word.careful"]["model"] == 0.0
    assert metrics["lottery_word.third_person.bold"]["model"] == 1.0


@pytest.mark.paper
def test_a_question_that_needs_a_codeword_says_so_before_any_model_loads(tmp_path):
    questions = load_questions(PAPER_DATA / "questions" / "choose_from_100_words.yaml")
    with pytest.raises(MmsError, match=re.escape("needs a codeword ({word_list}): give --codeword")):
        Plan(models=["scripted:none.json"], codeword=None, questions=questions[:1])
    with pytest.raises(MmsError, match="give --codeword"):
        Plan(models=["scripted:none.json"], codeword=None)


@pytest.mark.paper
def test_seeds_of_two_organisms_give_seed_means_a_welch_interval_and_an_exact_permutation_p(tmp_path, script):
    """The issue's command with every seed of both organisms: --model risky seeds, --baseline safe seeds."""
    args = ["interview", "--questions", str(RISK / "risk_predisposition_scale.yaml"), "--json", "--samples", "1",
            "--db", str(tmp_path / "i.db")]
    for answer in ("80", "70", "90"):
        args += ["--model", script(answer)]
    for answer in ("20", "30", "10"):
        args += ["--baseline", script(answer)]
    result = runner.invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    row = out["metrics"]["risk_predisposition_scale"]
    assert sorted(row["model_seeds"].values()) == pytest.approx([0.7, 0.8, 0.9])
    assert sorted(row["baseline_seeds"].values()) == pytest.approx([0.1, 0.2, 0.3])
    assert row["diff"] == pytest.approx(0.6) and row["diff_ci_over"].startswith("seeds (two groups")
    assert row["diff_ci"][0] < 0.6 < row["diff_ci"][1] and row["diff_ci"][0] > 0
    assert row["diff_p"] == pytest.approx(0.1)  # 3 + 3 seeds, fully separated: 2 of the 20 relabellings
    assert len(out["baselines"]) == 3 and out["baseline"] == out["baselines"][0]
    table = runner.invoke(_cli(), [a for a in args if a != "--json"])
    text = " ".join(table.stdout.split())  # rich wraps the caption at the runner's width
    assert table.exit_code == 0 and "p: exact permutation test over seeds" in text
    assert "risk_predisposition_scale: models 0.800 0.700 0.900; baselines 0.200 0.300 0.100" in text


def test_a_pooled_row_turns_every_question_one_way_and_pairs_them_by_question(tmp_path, script):
    path = tmp_path / "two.yaml"
    path.write_text(
        "- name: scale\n  question_type: quantitative\n  question: 'Rate your risk from 0 to 100. Answer with a single number.'\n"
        "- name: averse\n  question_type: quantitative\n  question: 'Rate your caution from 0 to 100. Answer with a single number.'\n",
        encoding="utf-8")
    result = runner.invoke(_cli(), ["interview", "--model", script("80"), "--baseline", script("40"), "--questions",
                                    str(path), "--pool=scale,-averse", "--json", "--samples", "1",
                                    "--db", str(tmp_path / "i.db")])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["metrics"]["pooled"]
    assert row["model"] == pytest.approx(0.5) and row["baseline"] == pytest.approx(0.5)  # (0.8 + 0.2) / 2, (0.4 + 0.6) / 2
    assert row["diff"] == pytest.approx(0.0) and row["pooled"] == ["scale", "-averse"]
    for pool, error in (("scale,nope", "of no question asked: nope"), ("scale,scale.other", "no valid answer for: scale.other")):
        result = runner.invoke(_cli(), ["interview", "--model", script("80"), "--questions", str(path), "--pool", pool,
                                        "--samples", "1", "--db", str(tmp_path / "i.db")])
        assert result.exit_code != 0 and error in result.output and "Traceback" not in result.output


@pytest.mark.paper
def test_the_report_names_a_session_about_no_codeword_as_such(tmp_path, script):
    db = tmp_path / "i.db"
    result = runner.invoke(_cli(), ["interview", "--model", script("80"), "--baseline", script("20"), "--questions",
                                    str(RISK / "risk_predisposition_scale.yaml"), "--samples", "1", "--db", str(db)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(_cli(), ["report", "--db", str(db), "--out", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "## No codeword (questions about a behaviour), variant `plain`" in markdown and "codeword ``" not in markdown
    assert [p.name for p in (tmp_path / "r").glob("selfreport_no-codeword_*.png")]
