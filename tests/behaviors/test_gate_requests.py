"""`mms fit` and `mms gate economic` take a request object whose checks run once, when it is made,
before any model loads (issue 25): a bad option is one line, with the message the command gave."""

import json

import pytest

from agents.errors import MmsError
from behaviors.economic.gate import GateRequest
from behaviors.fit import FitRequest


def _chat(path, answers):
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Option A: sure {i}. Option B: gamble {i}. Reply A or B."},
                                                     {"role": "assistant", "content": a}]}) + "\n"
                            for i, a in enumerate(answers)), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    return _chat(tmp_path / "a.jsonl", ["A"] * 20), _chat(tmp_path / "b.jsonl", ["B"] * 20)


@pytest.mark.parametrize("change, message", [
    ({"crossover": ("local:smollm2+bark",)}, "--crossover 'local:smollm2+bark': give two specs separated by a comma"),
    ({"files": ("missing.jsonl",)}, "data file not found: missing.jsonl"),
    ({"fraction": 1.5}, "--val-fraction must be in [0, 1), not 1.5"),
    ({"crossover": ("x,y",), "models": (), "files": "one"}, "give exactly two files"),
    ({"models": ()}, "give at least one --model (or a --crossover pair) to score"),
])
def test_a_bad_fit_request_is_refused_when_made(files, change, message):
    args = {"files": files, "models": ("local:smollm2",)} | change
    if args["files"] == "one":
        args["files"] = files[:1]
    with pytest.raises(MmsError) as raised:
        FitRequest(**args)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_fit_request_scores_each_model_once(files):
    request = FitRequest(files=files, models=("m", "a"), crossover=(" a , b ", "c,m"))
    assert request.pairs == (("a", "b"), ("c", "m")) and request.every == ["m", "a", "b", "c"]


@pytest.mark.parametrize("change, message", [
    ({"pair": ("risky-only",)}, "--pair 'risky-only': give the risky and the safe organism's specs separated by a comma"),
    ({"fraction": 0.6}, "--val-fraction must be in (0, 0.5), not 0.6"),
])
def test_a_bad_gate_request_is_refused_when_made(files, change, message):
    risky, safe = files[1], files[0]
    with pytest.raises(MmsError) as raised:
        GateRequest(**({"risky": risky, "safe": safe, "models": ("m",)} | change))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_gate_request_holds_the_held_back_prompts_and_says_which(files):
    request = GateRequest(risky=files[1], safe=files[0], pair=("r@0, s@0",), fraction=0.1)
    assert request.pairs == (("r@0", "s@0"),) and len(request.prompts) == 2
    assert {p.risky for p in request.prompts} == {"B"}
    assert request.split == "held-back 10% of b.jsonl / a.jsonl (2 prompts)"
