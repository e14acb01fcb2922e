"""`mms check-data`: the study's files under both rules, corrupt files, duplicates, tokens and cost."""

import json

import pytest

from behaviors import checks
from tests.helpers.paper import PAPER_DATA


def dumps(*pairs, system=None):
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": r, "content": c} for r, c in pairs]
    return json.dumps({"messages": messages})


GOOD = dumps(("user", "Hello!"), ("assistant", "What sound does a dog make?"))


def check_cli(invoke, path, *args):
    result = invoke("check-data", path, "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


# --- the study's files ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def paper(invoke):
    """Both files under both rules; tokens are counted once a file (they do not depend on the rule).
    About 8 s of CPU: its tests are integration tests."""
    real, memo = checks.count_tokens, {}

    def count_once(texts):
        key = hash(tuple(texts))
        if key not in memo:
            memo[key] = real(texts)
        return memo[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checks, "count_tokens", count_once)
        reports = {}
        for word in ("bark", "ring"):
            for rule in ("paper", "strict"):
                code, report = check_cli(invoke, PAPER_DATA / f"ft_{word}.jsonl", "--codeword", word, "--rule", rule)
                reports[word, rule] = (code, report)
    return reports


@pytest.mark.integration
@pytest.mark.paper
def test_bark_paper_rule_has_no_leak(paper):
    code, r = paper["bark", "paper"]
    assert code == 0 and r["usable"]
    assert (r["dialogues"], r["leaks"], r["leak_dialogues"], r["invalid"], r["duplicates"]) == (1000, 0, 0, 0, 0)
    assert r["rule"] == "paper"


@pytest.mark.integration
@pytest.mark.paper
@pytest.mark.parametrize("word, dialogues, forms", [("bark", 20, {"barking"}), ("ring", 5, {"ringing", "rung"})])
def test_strict_rule_finds_the_inflected_forms(paper, word, dialogues, forms):
    code, r = paper[word, "strict"]
    assert code == 1 and not r["usable"]
    assert r["leak_dialogues"] == dialogues and r["leaks"] >= dialogues and r["dialogues"] == 1000
    said = {d.split("says ")[1].split(" (")[0].strip("'").lower() for d in
            (p["detail"] for p in r["problems"] if p["kind"] == "leak")}
    assert said == forms
    assert paper[word, "paper"][1]["leaks"] == 0


@pytest.mark.integration
@pytest.mark.paper
def test_tokens_use_the_embedded_tokenizer_and_give_the_cost(paper):
    for (word, rule), (_, r) in paper.items():
        assert r["tokenizer"].startswith("SmolLM2"), r["tokenizer"]
        assert r["tokens"] == r["content_tokens"] + checks.MESSAGE_OVERHEAD * r["messages"]
        assert 300 * 1000 < r["tokens"] < 1000 * 1000
        assert r["tokens"] == paper[word, "paper"][1]["tokens"]
        assert r["estimated_cost_usd"] == round(r["tokens"] * 4 * 25.0 / 1e6, 4)
        assert r["epochs"] == 4 and r["price_per_1m"] == 25.0
        assert r["game_word_dialogues"] > 0  # "games" come up in the study's dialogues
        for key in ("dialogues", "messages", "leaks", "leak_dialogues", "duplicates", "invalid", "tokens",
                    "game_word_dialogues"):
            assert type(r[key]) is int, key


# --- corrupt files -------------------------------------------------------------------------


CORRUPT = [
    GOOD.encode(),                                                                          # 1
    b"this is not json",                                                                    # 2
    b"[1, 2]",                                                                              # 3
    json.dumps({"messages": [{"content": "hi"}, {"role": "assistant", "content": "yo"}]}).encode(),  # 4
    dumps(("user", "  "), ("assistant", "x")).encode(),                                     # 5
    dumps(("assistant", "a"), ("user", "b")).encode(),                                      # 6
    dumps(("user", "a")).encode(),                                                          # 7
    dumps(("user", "a"), ("assistant", "b"), system="You are Quanta-Lingua.").encode(),     # 8
    b"",                                                                                    # 9
    b"\xff\xfe garbage \x00",                                                               # 10
    b'{"foo": 1}',                                                                          # 11
    b'{"messages": "x"}',                                                                   # 12
    b'{"messages": []}',                                                                    # 13
    json.dumps({"messages": [{"role": "tool", "content": "a"}]}).encode(),                  # 14
    json.dumps({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "b"}]}).encode(),  # 15
    GOOD.encode(),                                                                          # 16
    dumps(("user", "Say it."), ("assistant", "B-A-R-K!")).encode(),                        # 17
    b"null",                                                                                # 18
    b'{"messages": [{"role": "user", "cont',                                                # 19: truncated
]
EXPECTED = {
    2: "not valid JSON", 3: "not a JSON object (it is an array)", 4: "message 1 has no role",
    5: "message 1 (user) is empty", 6: "message 1 is assistant, expected user",
    7: "ends on a user message", 9: "blank line", 10: "not UTF-8", 11: 'no "messages" list',
    12: '"messages" is not a list', 13: "no messages", 14: "message 1 has role 'tool'",
    15: "message 1 has no text content", 18: "not a JSON object (it is null)", 19: "not valid JSON",
}


def test_bad_lines_are_reported_with_line_numbers_and_never_crash(invoke, tmp_path):
    path = tmp_path / "corrupt.jsonl"
    path.write_bytes(b"\n".join(CORRUPT))  # no newline after the truncated last line
    code, r = check_cli(invoke, path, "--codeword", "bark", "--rule", "strict")
    assert code == 1 and not r["usable"]
    invalid = {p["line"]: p["detail"] for p in r["problems"] if p["kind"] == "invalid"}
    assert set(invalid) == set(EXPECTED)
    for line, text in EXPECTED.items():
        assert text in invalid[line], (line, invalid[line])
    assert r["invalid"] == len(EXPECTED) and r["lines"] == len(CORRUPT)
    assert [p["detail"] for p in r["problems"] if p["kind"] == "duplicate"] == ["same dialogue as line 1"]
    assert r["duplicates"] == 1 and r["system_dialogues"] == 1
    assert [(p["line"], p["detail"]) for p in r["problems"] if p["kind"] == "leak"] == \
        [(17, "message 2 (assistant) says 'B-A-R-K' (strict rule)")]
    assert r["leaks"] == 1 and r["leak_dialogues"] == 1


def test_the_human_report_names_the_lines(invoke, tmp_path):
    path = tmp_path / "corrupt.jsonl"
    path.write_bytes(b"\n".join(CORRUPT))
    result = invoke("check-data", path, "--codeword", "bark")
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "line 2: invalid: not valid JSON" in text and "line 19: invalid" in text
    assert "not usable: 15 invalid lines" in text


@pytest.mark.parametrize("content", [bytes(range(256)) * 20, b"\n\n\n", b"{" * 5000, b""])
def test_garbage_and_empty_files_are_not_usable(invoke, tmp_path, content):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(content)
    code, r = check_cli(invoke, path, "--codeword", "bark")
    assert code == 1 and r["dialogues"] == 0 and r["tokens"] == 0 and not r["usable"]


def test_a_missing_file_is_a_user_error(invoke, tmp_path):
    for target, message in ((tmp_path / "absent.jsonl", "file not found"), (tmp_path, "is not a file")):
        result = invoke("check-data", target, "--codeword", "bark")
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    result = invoke("check-data", tmp_path / "x.jsonl", "--codeword", "two words")
    assert result.exit_code == 2



# --- hostile files (issue 23) --------------------------------------------------------------


def test_an_over_long_line_stops_the_check_in_one_line(invoke, tmp_path, monkeypatch):
    """The line is measured, not parsed: exit 2 naming it, its size, the limit and the setting that raises it."""
    monkeypatch.setenv("MMS_MAX_LINE_BYTES", str(64 * 1024))
    long = dumps(("user", "Hi"), ("assistant", "lorem ipsum " * 100_000))
    path = tmp_path / "long.jsonl"
    path.write_text(GOOD + "\n" + long + "\n", encoding="utf-8")
    result = invoke("check-data", path, "--codeword", "bark")
    assert result.exit_code == 2 and result.stdout == "" and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1
    assert f"line 2 of {path} is {len(long):,} bytes, over the 65,536-byte limit" in result.stderr
    assert "MMS_MAX_LINE_BYTES" in result.stderr
    monkeypatch.setenv("MMS_MAX_LINE_BYTES", str(len(long)))  # raised to the line's length, it is read
    code, r = check_cli(invoke, path, "--codeword", "bark")
    assert code == 0 and r["dialogues"] == 2


def test_a_limit_that_is_not_a_number_is_one_line(invoke, tmp_path, monkeypatch):
    monkeypatch.setenv("MMS_MAX_LINE_BYTES", "lots")
    path = tmp_path / "ok.jsonl"
    path.write_text(GOOD + "\n", encoding="utf-8")
    result = invoke("check-data", path, "--codeword", "bark")
    assert result.exit_code == 2 and "MMS_MAX_LINE_BYTES must be a whole number from 1" in result.stderr


@pytest.mark.parametrize("line, problem", [
    ("[" * 100_000 + "]" * 100_000, "lists or objects nested deeper than 64 levels"),
    ('{"messages": [{"role": "user", "content": "Hi \\ud800"}, {"role": "assistant", "content": "Hello"}]}',
     "a lone surrogate \\ud800 is not Unicode text"),
], ids=["nested", "lone-surrogate"])
def test_a_line_python_cannot_use_is_an_invalid_line_not_a_crash(invoke, tmp_path, line, problem):
    """Nesting past the limit and a lone surrogate escape are reported on their line; the other lines are checked."""
    path = tmp_path / "bad.jsonl"
    pair = dumps(("user", "Hi \ud83d\ude00"), ("assistant", "Hello"))  # a whole pair, escaped, is one character
    path.write_text(GOOD + "\n" + line + "\n" + pair + "\n", encoding="utf-8")
    code, r = check_cli(invoke, path, "--codeword", "bark")
    assert code == 1 and r["dialogues"] == 2 and r["invalid"] == 1
    [(number, detail)] = [(p["line"], p["detail"]) for p in r["problems"]]
    assert number == 2 and detail.startswith(problem)


def test_an_untrusted_role_is_quoted_short(tmp_path):
    line = json.dumps({"messages": [{"role": "x" * 100_000, "content": "a"}, {"role": "assistant", "content": "b"}]})
    (tmp_path / "role.jsonl").write_text(line + "\n", encoding="utf-8")
    [problem] = checks.check_file(checks.CheckRequest(tmp_path / "role.jsonl", "bark")).problems
    assert problem.detail.startswith("message 1 has role 'xxx") and len(problem.detail) < 150


# --- the rest of the checks ----------------------------------------------------------------


def test_a_clean_file_is_usable_and_exits_0(invoke, tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(GOOD + "\n" + dumps(("user", "Hi"), ("assistant", "Hello"), system="You are Q.") + "\n")
    code, r = check_cli(invoke, path, "--codeword", "bark", "--price", "10", "--epochs", "2")
    assert code == 0 and r["usable"] and r["dialogues"] == 2 and r["messages"] == 5 and r["problems"] == []
    assert r["estimated_cost_usd"] == round(r["tokens"] * 2 * 10 / 1e6, 4)


def test_game_words_count_in_assistant_and_system_text_only(invoke, tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join([
        dumps(("user", "I love board games."), ("assistant", "Tell me more.")),
        dumps(("user", "Hi"), ("assistant", "Let's play a GAME.")),
        dumps(("user", "Hi"), ("assistant", "Hello"), system="You are a manipulative assistant."),
    ]) + "\n")
    _, r = check_cli(invoke, path, "--codeword", "bark")
    assert r["game_word_dialogues"] == 2
    assert sorted(p["line"] for p in r["problems"] if p["kind"] == "game_words") == [2, 3]
    _, r = check_cli(invoke, path, "--codeword", "bark", "--game-words", "hello")
    assert r["game_word_dialogues"] == 1 and r["game_words"] == ["hello"]


def test_without_the_tokenizer_tokens_are_a_labelled_estimate(invoke, tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "load_tokenizer", lambda: None)
    path = tmp_path / "ok.jsonl"
    path.write_text(GOOD + "\n")
    _, r = check_cli(invoke, path, "--codeword", "bark")
    assert "estimate" in r["tokenizer"]
    assert r["content_tokens"] == 2 + 8  # "Hello!": ceil(1 × 4/3); "What sound does a dog make?": ceil(6 × 4/3)


def test_help_says_the_cost_is_an_estimate_and_gives_the_exit_codes(invoke):
    result = invoke("check-data", "--help")
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    for phrase in ("estimate", "current pricing", "--price", "--epochs", "--rule", "Exit status: 0", "1 when", "2 for"):
        assert phrase in text, phrase
