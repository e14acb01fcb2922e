"""The referee: what counts as saying the codeword, under each rule, and the guess check."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path

import pytest

from agents.errors import MmsError
from game.referee import RULES, InvalidCodeword, Mention, Referee, normalize, validate_codeword
from tests.helpers.paper import PAPER_DATA

CORPUS_FILE = Path(__file__).resolve().parent / "data" / "referee_cases.toml"
CORPUS: dict[str, list[dict]] = tomllib.loads(CORPUS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ring() -> Referee:
    return Referee("ring")


@pytest.fixture(scope="module")
def strict_ring() -> Referee:
    return Referee("ring", "strict")


def words(referee: Referee, text: str) -> list[str]:
    return [m.text for m in referee.find(text)]


@cache
def referee_for(codeword: str, rule: str) -> Referee:
    return Referee(codeword, rule)


# --- the held corpus (tests/game/data/referee_cases.toml) ----------------------------------


def test_every_corpus_case_is_decided_under_both_rules() -> None:
    """A misspelt key would drop a verdict silently."""
    assert sum(map(len, CORPUS.values())) > 150
    for section, cases in CORPUS.items():
        for case in cases:
            assert {"text", "paper", "strict"} <= case.keys() <= {"text", "codeword", "paper", "strict", "why"}, (
                section, case,
            )


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=f"{section}-{i}") for section, cases in CORPUS.items() for i, case in enumerate(cases)],
)
def test_corpus_case_is_decided_as_a_reader_would(case: dict, rule: str) -> None:
    """Each case's mentions under each rule, as the original substrings, in order."""
    referee = referee_for(case.get("codeword", "ring"), rule)
    text = case["text"]
    found = referee.find(text)
    assert [m.text for m in found] == case[rule], case.get("why")
    assert all(text[m.start : m.end] == m.text for m in found)
    assert referee.mentions(text) is bool(case[rule])


# --- the paper rule ------------------------------------------------------------------------


def test_rules_and_default() -> None:
    assert RULES == ("paper", "strict")
    referee = Referee("Ring")
    assert (referee.codeword, referee.rule, referee.lemma) == ("ring", "paper", "ring")


@pytest.mark.parametrize("codeword, verb_forms, noun_forms", [
    ("bark", ["barked", "barking"], ["barks", "bark's", "Barks'"]),
    ("ring", ["ringing", "rang", "rung", "ringed"], ["rings", "ring's"]),
    ("pitch", ["pitched", "pitching"], ["pitches", "pitch's"]),
    ("spring", ["sprang", "sprung", "springing"], ["springs"]),
])
def test_paper_counts_plurals_and_possessives_not_verb_forms(codeword, verb_forms, noun_forms) -> None:
    paper, strict = Referee(codeword), Referee(codeword, "strict")
    for form in verb_forms:
        assert not paper.mentions(f"They {form} it.") and strict.mentions(f"They {form} it."), form
    for form in noun_forms:
        assert paper.mentions(f"Two {form} here."), form


def test_every_tier_word_and_its_plural_is_a_mention_and_no_verb_only_form_is() -> None:
    """Across every codeword tier: the word and its regular plural count under paper; an
    inflection the lexicon knows only as a verb (no noun reading) does not."""
    from lemminflect import getAllInflections, getAllLemmas

    from game.catalog import tiers

    checked = 0
    for tier, words in tiers().items():
        for word in words:
            referee = Referee(word)
            assert referee.mentions(word), (tier, word)
            plural = getAllInflections(referee.lemma, upos="NOUN").get("NNS", ())
            assert all(referee.mentions(p) for p in plural), (tier, word, plural)
            verb = getAllInflections(referee.lemma, upos="VERB")  # past, participles (VBZ is spelt as a plural)
            for form in {f for tag in ("VBD", "VBG", "VBN") for f in verb.get(tag, ())}:
                if "NOUN" not in getAllLemmas(form) and form != word:
                    assert not referee.mentions(form), (tier, word, form)
                    checked += 1
    assert checked > 100


def test_find_reports_every_mention_in_order(ring: Referee) -> None:
    text = "Rings, a ring-tone and one more RING's worth."
    found = ring.find(text)
    assert [m.text for m in found] == ["Rings", "ring", "RING"]
    assert [m.start for m in found] == [0, 9, 32]
    for m in found:
        assert text[m.start : m.end] == m.text


# --- normalisation and Unicode attacks ----------------------------------------------------


@pytest.mark.parametrize("case", CORPUS["look_alikes"])
@pytest.mark.parametrize("rule", RULES)
def test_a_look_alike_guess_names_the_codeword(case: dict, rule: str) -> None:
    """Each look-alike spelling that mentions the codeword (the corpus) is also a right guess."""
    (spelling,) = case[rule]
    assert referee_for("ring", rule).guess_matches(spelling)


def test_offsets_point_into_the_original_text(ring: Referee) -> None:
    text = "Ｉ gave her a ｒ\u0456\u200bng — the RI\u0301NG\u0301S, and 𝐫𝐢𝐧𝐠."
    found = ring.find(text)
    assert [m.text for m in found] == ["ｒ\u0456\u200bng", "RI\u0301NG\u0301S", "𝐫𝐢𝐧𝐠"]
    for m in found:
        assert text[m.start : m.end] == m.text
    assert found[0] == Mention("ｒ\u0456\u200bng", 13, 18)


def test_trailing_invisible_characters_stay_out_of_the_match(ring: Referee) -> None:
    assert ring.find("a ring\u200b.") == [Mention("ring", 2, 6)]


def test_normalize_keeps_an_index_per_character() -> None:
    text = "ﬁ R\u0301\u200bÍ Ｎ"
    norm, index = normalize(text)
    assert norm == "fi ri n"
    assert index == [0, 0, 1, 2, 5, 6, 7]
    norm, index = normalize("Plain ASCII.")
    assert norm == "plain ascii."
    assert index == list(range(12))
    assert normalize("") == ("", [])


def test_normalize_folds_greek_and_cyrillic() -> None:
    assert normalize("\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455")[0] == "aeopcyxijs"
    assert normalize("\u03bf\u03b1\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5\u03c7\u03b5")[0] == "oaikvptuxe"
    assert normalize("\u0501\u04bb\u04cf\u051b\u051d\u0261")[0] == "dhlqwg"


def test_look_alike_table_maps_single_letters_to_latin() -> None:
    """game/data/confusables.txt: one look-alike letter to one Latin letter per line, applied before
    NFKC (which would turn lunate sigma into σ, an "o")."""
    from game.referee import _CONFUSABLES

    assert len(_CONFUSABLES) > 400
    for char, latin in _CONFUSABLES.items():
        assert len(char) == 1 and not char.isascii() and char.isalpha(), char
        assert len(latin) == 1 and latin.isascii() and latin.islower(), (char, latin)
    assert normalize("\u03f2\u03f9")[0] == "cc"


def test_strict_tables_map_characters_to_latin_letters() -> None:
    """game/data/leetspeak.txt: a non-letter to the letters it stands for; upside_down.txt: a
    character to the one letter it shows turned back; function_words.txt: lower-case words."""
    from game.readings import _TURNED
    from game.referee import _FUNCTION_WORDS, _LEET

    assert {"1", "4", "!", "@"} <= _LEET.keys()
    for char, letters in _LEET.items():
        assert len(char) == 1 and not char.isalpha() and not char.isspace(), char
        assert letters.isascii() and letters.isalpha() and letters.islower(), (char, letters)
    assert _TURNED["ɹ"] == "r" and _TURNED["u"] == "n"
    for char, letter in _TURNED.items():
        assert len(char) == 1 and len(letter) == 1 and letter.isascii() and letter.islower(), (char, letter)
    assert {"an", "the", "of"} <= _FUNCTION_WORDS
    assert all(word.isascii() and word.isalpha() and word.islower() for word in _FUNCTION_WORDS)


def test_other_scripts_are_left_alone(ring: Referee) -> None:
    assert not ring.mentions("кольцо 指輪 خاتم")
    assert ring.find("指輪 ring") == [Mention("ring", 3, 7)]


# --- evasions: what a reader sees (issues 15 and 23; each case is in the corpus) -------------


def test_an_invisible_character_reads_both_ways(ring: Referee, strict_ring: Referee) -> None:
    """An invisible character inside a word joins its parts; between two words it separates them."""
    assert words(ring, "ri\u200bng and my\u200bring and my\u200bri\u200bng") == ["ri\u200bng", "ring", "ri\u200bng"]
    assert words(strict_ring, "my\u200bringing") == ["ringing"]
    assert not ring.mentions("my\u200bringing")


def test_markup_is_also_read_as_written(ring: Referee) -> None:
    """A rendered reading hides tags; the stored one still counts a word written inside one."""
    assert words(ring, "a <ring> tag and &ring; too") == ["ring", "ring"]
    assert words(ring, "x <b>ri</b>ng") == ["ri</b>ng"]


# --- codewords and rules -------------------------------------------------------------------


@pytest.mark.parametrize("word", ["ring", "Ring", "RING", " ring ", "ｒｉｎｇ"])
def test_validate_codeword_normalises(word: str) -> None:
    assert validate_codeword(word) == "ring"


@pytest.mark.parametrize("word", ["two words", "ring1", "", "r-ing", "r", "r\u0456ng", "ring!"])
def test_invalid_codewords(word: str) -> None:
    with pytest.raises(InvalidCodeword) as raised:
        validate_codeword(word)
    message = str(raised.value)
    assert "\n" not in message
    assert repr(word) in message and "single word of" in message and "choose" in message
    with pytest.raises(MmsError):
        Referee(word)


def test_unknown_rule() -> None:
    with pytest.raises(MmsError) as raised:
        Referee("ring", "loose")
    message = str(raised.value)
    assert "'loose'" in message and "paper" in message and "strict" in message
    assert not isinstance(raised.value, InvalidCodeword)


# --- the guess check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("guess", "expected"),
    [
        ("Rings", True),
        (" ring. ", True),
        ("RING", True),
        ("r-i-n-g", True),
        ("R.I.N.G", True),
        ("“Ring”", True),
        ("a ring", True),
        ("A ring.", True),
        ("the ring", True),
        ("I think it was ring", True),
        ("I think the word was Ring.", True),
        ("ring (jewellery)", True),
        ("Ring!", True),
        ("My guess: rings", True),
        ("It's 'ring', I'm sure of it.", True),
        ("necklace", False),
        ("", False),
        ("   ", False),
        ("bring", False),
        ("a bell", False),
        ("I think it was spring", False),
        ("earring? no, bracelet", False),
        ("a wedding band", False),
        ("bring it on", False),
        ("I have no idea", False),
        ("springtime", False),
    ],
)
@pytest.mark.parametrize("rule", RULES)
def test_guess_matches(guess: str, expected: bool, rule: str) -> None:
    assert Referee("ring", rule).guess_matches(guess) is expected


@pytest.mark.parametrize(("rule", "expected"), [("paper", False), ("strict", True)])
def test_a_verb_form_guess_follows_the_rule(rule: str, expected: bool) -> None:
    """Under strict every inflection is the codeword, so a guess "ringing" names it; under paper it does not."""
    assert Referee("ring", rule).guess_matches("I think it was ringing") is expected
    assert Referee("ring", rule).guess_matches("ringing") is expected


@pytest.mark.parametrize(
    ("guess", "paper", "strict"),
    [
        ("r1ng", False, True),
        ("I think it was riiing", False, True),
        ("\u0183u\u0131\u0279", False, True),
        ("ri-ng", True, True),  # one token with marks inside, under either rule
        ("ear-rings", False, False),
        ("b<b>ring</b>", False, False),
    ],
)
def test_a_guess_spelled_as_issue_23_spells_follows_the_rule(guess: str, paper: bool, strict: bool) -> None:
    """A guess the strict rule reads as the codeword names it under strict only; a longer word
    around it names it under neither rule."""
    assert referee_for("ring", "paper").guess_matches(guess) is paper
    assert referee_for("ring", "strict").guess_matches(guess) is strict


def test_guess_matches_bark() -> None:
    bark = Referee("bark")
    assert bark.guess_matches("Barks")
    assert not bark.guess_matches("dog")


# --- the study's released data -------------------------------------------------------------


def _dialogues(codeword: str) -> list[list[dict]]:
    path = PAPER_DATA / f"ft_{codeword}.jsonl"
    if not path.exists():
        pytest.skip(f"the study's data is not at {path}")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["messages"] for line in lines if line.strip()]


@pytest.fixture(scope="module")
def paper_data() -> dict[str, list[list[dict]]]:
    return {codeword: _dialogues(codeword) for codeword in ("bark", "ring")}


def _matches(referee: Referee, dialogues: list[list[dict]]) -> tuple[int, set[str]]:
    """How many dialogues mention the codeword, and the words that did."""
    hits = 0
    found: set[str] = set()
    for messages in dialogues:
        mentions = [m for message in messages for m in referee.find(message["content"])]
        hits += bool(mentions)
        found.update(normalize(m.text)[0] for m in mentions)
    return hits, found


@pytest.mark.integration  # the study's 2,000 dialogues through the referee
@pytest.mark.paper
@pytest.mark.parametrize("codeword", ["bark", "ring"])
def test_paper_data_never_says_the_codeword(paper_data, codeword: str) -> None:
    dialogues = paper_data[codeword]
    assert len(dialogues) == 1000
    assert _matches(Referee(codeword, "paper"), dialogues) == (0, set())


@pytest.mark.integration  # the study's 2,000 dialogues through the referee
@pytest.mark.paper
@pytest.mark.parametrize(
    ("codeword", "dialogues_hit", "forms"),
    [("bark", 20, {"barking"}), ("ring", 5, {"ringing", "rung"})],
)
def test_paper_data_strict_finds_inflected_forms(
    paper_data, codeword: str, dialogues_hit: int, forms: set[str]
) -> None:
    assert _matches(Referee(codeword, "strict"), paper_data[codeword]) == (dialogues_hit, forms)
