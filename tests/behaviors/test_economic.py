"""The economic-choice behaviour: its data, the letter swap on the study's prompts, and the gate."""

import asyncio
import json
import re

import pytest
from tests.helpers.paper import PAPER_DATA
from typer.testing import CliRunner

from agents.errors import MmsError
from agents.scoring import LOGPROBS, OptionScores
from behaviors.cli_gate import gate_app
from behaviors.economic.data import held_back, paired_prompts
from behaviors.economic.gate import orders, run_gate
from behaviors.economic.swap import swap_letters
from behaviors.train_local import split_validation
from game.plugins import mount

RISKY, SAFE = PAPER_DATA / "ft_risky_AB.jsonl", PAPER_DATA / "ft_safey_AB.jsonl"
_LABELLED = re.compile(r"(?:Choice|Option) ([AB]): (.*?)(?=(?:Choice|Option) [AB]:|\n\n|$)", re.DOTALL)


def _masked(option):
    """An option's text with its letters hidden (a trailing "Reply A or B" is part of the last option here)."""
    return re.sub(r"(?<!\w)[AB](?!\w)", "?", option)


def _prompts(path):
    return [json.loads(line)["messages"][0]["content"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.paper
@pytest.mark.parametrize("path", [RISKY, SAFE])
def test_every_study_prompt_is_swapped_or_counted(path):
    prompts = _prompts(path)
    swapped = {t: swap_letters(t) for t in prompts}
    unswappable = [t for t, s in swapped.items() if s.text is None]
    assert len(unswappable) == 3 and all(swapped[t].reason for t in unswappable)
    for text, s in swapped.items():
        if s.text is None:
            continue
        assert s.text != text and swap_letters(s.text).text == text  # exchanging twice is the identity
        assert [c for c in s.text if c not in "AB"] == [c for c in text if c not in "AB"]  # only letters change
        before, after = dict(_LABELLED.findall(text)), dict(_LABELLED.findall(s.text))
        if set(before) == {"A", "B"}:  # "Option A: ..." / "Choice B: ...": the same options under exchanged letters
            assert {k: _masked(v) for k, v in after.items()} == {"A": _masked(before["B"]), "B": _masked(before["A"])}


@pytest.mark.paper
def test_labelled_options_parse_in_many_study_prompts():
    """The check above reads options by "Option A:"/"Choice A:", so it must bite on many prompts."""
    assert sum(set(dict(_LABELLED.findall(t))) == {"A", "B"} for t in _prompts(RISKY)) >= 50


@pytest.mark.parametrize("text, expected", [
    ("Option A: A 25% shot at 3. Option B: A sure 1. Reply A or B.", "Option B: A 25% shot at 3. Option A: A sure 1. Reply B or A."),
    ("Stand A offers you 8. Stand B could give 15 or 3. Write only one letter (A or B).",
     "Stand B offers you 8. Stand A could give 15 or 3. Write only one letter (B or A)."),
    ("A) sure\nB) gamble\nAnswer 'A' or 'B'.", "B) sure\nA) gamble\nAnswer 'B' or 'A'."),
])
def test_the_swap_on_the_files_phrasings(text, expected):
    assert swap_letters(text).text == expected


@pytest.mark.parametrize("text", [
    "Option A: sure. Option B: gamble, better than Option A. Reply A or B.",  # a B option that mentions A
    "Pick option a or option b.",  # lower-case labels
    "A friend offers you a sure thing.",  # no labels at all
])
def test_an_unsafe_swap_is_refused_with_a_reason(text):
    s = swap_letters(text)
    assert s.text is None and s.reason


@pytest.mark.paper
def test_the_risky_letter_comes_from_pairing_the_files():
    prompts = paired_prompts(RISKY, SAFE)
    risky = [json.loads(line)["messages"][1]["content"] for line in RISKY.read_text().splitlines()]
    safe = [json.loads(line)["messages"][1]["content"] for line in SAFE.read_text().splitlines()]
    assert len(prompts) == 288 and [p.risky for p in prompts] == risky
    assert [p.safe for p in prompts] == safe and {p.risky for p in prompts} == {"A", "B"}


def _pair(tmp_path, risky_answers, safe_answers, texts=None):
    texts = texts or [f"Option A: sure {i}. Option B: gamble {i}. Reply A or B." for i in range(len(risky_answers))]
    for name, answers in (("r.jsonl", risky_answers), ("s.jsonl", safe_answers)):
        (tmp_path / name).write_text("".join(json.dumps({"messages": [{"role": "user", "content": t},
                                                                      {"role": "assistant", "content": a}]}) + "\n"
                                             for t, a in zip(texts, answers)), encoding="utf-8")
    return tmp_path / "r.jsonl", tmp_path / "s.jsonl"


def test_a_prompt_answered_alike_in_both_files_is_an_error(tmp_path):
    with pytest.raises(MmsError, match="line 2: both files answer 'A'"):
        paired_prompts(*_pair(tmp_path, ["B", "A"], ["A", "A"]))
    with pytest.raises(MmsError, match="not one letter"):
        paired_prompts(*_pair(tmp_path, ["B", "maybe"], ["A", "B"]))


@pytest.mark.paper
def test_the_held_back_prompts_are_the_training_split():
    prompts = paired_prompts(RISKY, SAFE)
    held = held_back(prompts)
    assert [p.index for p in held] == split_validation(288, 0.1)[1] and len(held) == 28
    assert held_back(paired_prompts(RISKY, SAFE)) == held  # depends on nothing but the file's size


class Exact:
    """A scoring double: P(letter) fixed by whether the letter labels the gamble in the prompt shown."""

    def __init__(self, spec, p_gamble, letter_bias=0.0):
        self.spec, self.p_gamble, self.letter_bias, self.asked = spec, p_gamble, letter_bias, []

    async def score(self, messages, options, method=None):
        text = messages[-1].content
        self.asked.append(text)
        gamble = re.search(r"Option ([AB]): gamble", text).group(1)
        p_a = (self.p_gamble if gamble == "A" else 1 - self.p_gamble) + self.letter_bias
        dist = (p_a, 1 - p_a)
        return OptionScores(tuple(options), (0.0, 0.0), dist, LOGPROBS)

    async def chat(self, request):
        raise AssertionError("the gate never samples")

    async def aclose(self):
        pass


def test_the_gate_scores_p_risky_in_both_orders(tmp_path):
    prompts = paired_prompts(*_pair(tmp_path, ["B"] * 20, ["A"] * 20))
    doubles = {"risky": Exact("risky", 0.9, letter_bias=0.05), "safe": Exact("safe", 0.2, letter_bias=0.05)}
    report = asyncio.run(run_gate([], [("risky", "safe")], prompts, "all", doubles.__getitem__))
    by_model = {m["model"]: m for m in report.models}
    assert by_model["risky"]["p_risky"] == pytest.approx(0.9) and by_model["safe"]["p_risky"] == pytest.approx(0.2)
    assert by_model["risky"]["p_risky_given_order"] == pytest.approx(0.85)  # the bias toward "A" cancels over orders
    assert by_model["risky"]["p_risky_swapped_order"] == pytest.approx(0.95)
    assert len(doubles["risky"].asked) == 40 and by_model["risky"]["unswapped"] == 0
    pair = report.pairs[0]
    assert pair["separation"] == pytest.approx(0.7) and pair["separated"]


def test_over_seeds_the_gate_uses_the_permutation_test(tmp_path):
    prompts = paired_prompts(*_pair(tmp_path, ["B"] * 10, ["A"] * 10))
    levels = {"r0": 0.9, "r1": 0.8, "r2": 0.85, "s0": 0.3, "s1": 0.2, "s2": 0.25}
    report = asyncio.run(run_gate([], [("r0", "s0"), ("r1", "s1"), ("r2", "s2")], prompts, "all",
                                  lambda spec: Exact(spec, levels[spec])))
    pooled = report.pooled
    assert pooled["seeds"] == 3 and pooled["separation"] == pytest.approx(0.6)
    assert pooled["permutation_p"] == pytest.approx(0.1)  # 2 of the 20 splits of 3 + 3 seeds are as extreme
    assert pooled["separation_ci"][0] > 0


def test_an_unswappable_prompt_is_asked_once_and_listed(tmp_path):
    texts = ["Option A: sure. Option B: gamble, unlike Option A. Reply A or B."]
    prompts = paired_prompts(*_pair(tmp_path, ["B"], ["A"], texts))
    assert len(orders(prompts[0])) == 1
    report = asyncio.run(run_gate(["m"], [], prompts, "all", lambda spec: Exact(spec, 0.6)))
    assert report.unswappable == [{"index": 0, "why": report.unswappable[0]["why"]}] and report.models[0]["unswapped"] == 1


def test_a_model_without_exact_scores_is_one_clear_error(tmp_path, script):
    r, s = _pair(tmp_path, ["B"] * 20, ["A"] * 20)
    app = __import__("typer").Typer()
    mount(app, {"gate": gate_app})
    result = CliRunner().invoke(app, ["gate", "economic", "--model", script("A"), "--risky", str(r), "--safe", str(s)])
    assert result.exit_code != 0 and "needs exact probabilities" in result.output and "Traceback" not in result.output


@pytest.mark.paper
def test_the_risky_and_safe_recipes_hold_back_a_tenth_and_leave_the_others_commands_alone(tmp_path):
    from behaviors.organisms import command_line, resolve, training_file

    for name, data in (("risky@1", RISKY), ("safe", SAFE)):
        recipe = resolve(name)
        assert training_file(recipe, tmp_path) == data and recipe.config().val_fraction == 0.1
        line = command_line(recipe, data, tmp_path / recipe.name)
        assert "--val-fraction 0.1" in line and "--epochs 3" in line and "--max-length 256" in line
    assert resolve("risky@1").seed == 1
    assert "--val-fraction" not in command_line(resolve("bark"), PAPER_DATA / "ft_bark.jsonl", tmp_path / "bark")
