"""The referee: what counts as saying the codeword, under each rule, and the guess check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.errors import MmsError
from game.referee import RULES, InvalidCodeword, Mention, Referee, normalize, validate_codeword

PAPER_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "paper"


@pytest.fixture(scope="module")
def ring() -> Referee:
    return Referee("ring")


@pytest.fixture(scope="module")
def strict_ring() -> Referee:
    return Referee("ring", "strict")


def words(referee: Referee, text: str) -> list[str]:
    return [m.text for m in referee.find(text)]


# --- the paper rule ------------------------------------------------------------------------


def test_rules_and_default() -> None:
    assert RULES == ("paper", "strict")
    referee = Referee("Ring")
    assert (referee.codeword, referee.rule, referee.lemma) == ("ring", "paper", "ring")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rings", "rings"),
        ("ring-tone", "ring"),
        ("Ring's", "Ring"),
        ("RINGS", "RINGS"),
        ("a ring", "ring"),
        ("Ring.", "Ring"),
    ],
)
def test_paper_matches_noun_forms(ring: Referee, text: str, expected: str) -> None:
    assert words(ring, text) == [expected]
    assert ring.mentions(text)


@pytest.mark.parametrize(
    "text",
    ["ringing", "bring", "spring", "springtime", "ringtone", "rang", "rung", "r-i-n-g", "r i n g"],
)
def test_paper_ignores_other_words(ring: Referee, text: str) -> None:
    assert ring.find(text) == []
    assert not ring.mentions(text)


def test_paper_bark() -> None:
    bark = Referee("bark")
    assert words(bark, "the bark's texture; dogs' barks") == ["bark", "barks"]
    assert not bark.mentions("the dog was barking")
    assert not bark.mentions("It barked twice.")  # "barked" has no noun reading
    assert Referee("bark", "strict").mentions("It barked twice.")


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


# --- the strict rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["rings", "ring-tone", "Ring's", "RINGS", "ringing", "rang", "rung", "ringed", "Ringing!"],
)
def test_strict_matches_any_inflection(strict_ring: Referee, text: str) -> None:
    assert strict_ring.mentions(text)


@pytest.mark.parametrize("text", ["bring", "spring", "springtime", "ringtone", "brings", "ringer"])
def test_strict_still_ignores_other_words(strict_ring: Referee, text: str) -> None:
    assert not strict_ring.mentions(text)


def test_strict_bark() -> None:
    bark = Referee("bark", "strict")
    assert words(bark, "barking, barked, barks, bark's") == ["barking", "barked", "barks", "bark"]
    assert not bark.mentions("embark on a barkeep's debarkation")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("r-i-n-g", "r-i-n-g"),
        ("r i n g", "r i n g"),
        ("R.I.N.G.", "R.I.N.G"),
        ("say R . I . N . G now", "R . I . N . G"),
        ("I r i n g s a bell", "r i n g s"),  # longest form, inside a longer run
        ("r-a-n-g", "r-a-n-g"),
    ],
)
def test_strict_letter_spaced(strict_ring: Referee, text: str, expected: str) -> None:
    assert words(strict_ring, text) == [expected]


def test_strict_letter_spaced_bark() -> None:
    bark = Referee("bark", "strict")
    assert words(bark, "b a r k i n g") == ["b a r k i n g"]
    assert words(bark, "B-A-R-K and bark") == ["B-A-R-K", "bark"]
    assert not bark.mentions("a b c d e f g")


def test_strict_letter_spaced_needs_the_whole_word(strict_ring: Referee) -> None:
    assert not strict_ring.mentions("r i n")
    assert not strict_ring.mentions("I am a r n g")
    assert not strict_ring.mentions("ri ng")  # only single letters count as spelled out


# --- normalisation and Unicode attacks ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ｒｉｎｇ",  # fullwidth
        "r\u0456ng",  # Cyrillic і
        "r\u0456n\u0261",  # Cyrillic і, Latin script g
        "ri\u200bng",  # zero-width space
        "ri\u200dng",  # zero-width joiner
        "ri\u00adng",  # soft hyphen
        "ri\u2060ng",  # word joiner
        "ri\ufeffng",  # BOM
        "ri\u202eng",  # bidi override
        "RÍNG",  # precomposed accent
        "RI\u0301NG",  # combining accent
        "RIΝG",  # Greek capital Nu
        "ʀɪɴɢ",  # small capitals
        "𝐫𝐢𝐧𝐠",  # mathematical bold
    ],
)
@pytest.mark.parametrize("rule", RULES)
def test_unicode_look_alikes_still_count(text: str, rule: str) -> None:
    referee = Referee("ring", rule)
    found = referee.find(f"my {text}!")
    assert [m.text for m in found] == [text]
    assert referee.guess_matches(text)


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


def test_other_scripts_are_left_alone(ring: Referee) -> None:
    assert not ring.mentions("кольцо 指輪 خاتم")
    assert ring.find("指輪 ring") == [Mention("ring", 3, 7)]


# --- evasions: what a reader sees (issue 15) ------------------------------------------------

# Each hides "ring" from a referee that drops invisible characters, treats every non-letter as a
# space and reads the stored characters only; a reader (model or person) still sees the word.
EVASIONS = [
    pytest.param("my\u200bring", "ring", id="zero-width-space-between-words"),
    pytest.param("my\u2060ring", "ring", id="word-joiner-between-words"),
    pytest.param("my\u00adring", "ring", id="soft-hyphen-between-words"),
    pytest.param("my\u180ering", "ring", id="mongolian-vowel-separator-between-words"),
    pytest.param("r**in**g", "r**in**g", id="markdown-bold-inside"),
    pytest.param("r*in*g", "r*in*g", id="markdown-italic-inside"),
    pytest.param("r`in`g", "r`in`g", id="markdown-code-inside"),
    pytest.param("r~~in~~g", "r~~in~~g", id="markdown-strike-inside"),
    pytest.param("r<b>in</b>g", "r<b>in</b>g", id="html-tag-inside"),
    pytest.param("r<span class='x'>in</span>g", "r<span class='x'>in</span>g", id="html-tag-attributes-inside"),
    pytest.param("r<!-- x -->ing", "r<!-- x -->ing", id="html-comment-inside"),
    pytest.param("&#114;ing", "&#114;ing", id="html-decimal-entity"),
    pytest.param("&#x72;ing", "&#x72;ing", id="html-hex-entity"),
    pytest.param("ri&shy;ng", "ri&shy;ng", id="html-named-entity"),
    pytest.param("r\x1b[1min\x1b[0mg", "r\x1b[1min\x1b[0mg", id="terminal-escapes-inside"),
    pytest.param("\u202egnir\u202c", "gnir", id="right-to-left-override"),
    pytest.param("my \u202egn\u202dri\u202c\u202c", "gn\u202dri", id="right-to-left-override-nested"),
    pytest.param("&#x202e;gnir&#x202c;", "gnir", id="right-to-left-override-as-entity"),
    pytest.param("\U0001f181\U0001f178\U0001f17d\U0001f176", "\U0001f181\U0001f178\U0001f17d\U0001f176", id="negative-squared"),
    pytest.param("\U0001f161\U0001f158\U0001f15d\U0001f156", "\U0001f161\U0001f158\U0001f15d\U0001f156", id="negative-circled"),
    pytest.param("\U0001f1f7\U0001f1ee\U0001f1f3\U0001f1ec", "\U0001f1f7\U0001f1ee\U0001f1f3\U0001f1ec", id="regional-indicators"),
    pytest.param("\u24ad\u24a4\u24a9\u24a2", "\u24ad\u24a4\u24a9\u24a2", id="parenthesized"),
    pytest.param("myRingIsGold", "Ring", id="camel-case"),
    pytest.param("HTMLRingTag", "Ring", id="camel-case-after-capitals"),
    pytest.param("\u2c85\u2c93\u2c9bg", "\u2c85\u2c93\u2c9bg", id="coptic"),
    pytest.param("\u13a1\u13a5N\u13c0", "\u13a1\u13a5N\u13c0", id="cherokee"),
    pytest.param("\uab81\uab75ng", "\uab81\uab75ng", id="cherokee-small"),
    pytest.param("\u027eing", "\u027eing", id="latin-r-with-fishhook"),
    pytest.param("rin\u0260", "rin\u0260", id="latin-g-with-hook"),
    pytest.param("rin\u01e5", "rin\u01e5", id="latin-g-with-stroke"),
    pytest.param("\u0433ing", "\u0433ing", id="cyrillic-ghe"),
    pytest.param("my\U000e0072\U000e0069\U000e006e\U000e0067", "\U000e0072\U000e0069\U000e006e\U000e0067",
                 id="unicode-tag-letters"),
]


@pytest.mark.parametrize(("text", "expected"), EVASIONS)
@pytest.mark.parametrize("rule", RULES)
def test_evasions_are_mentions(text: str, expected: str, rule: str) -> None:
    """Every evasion is a word a reader sees, so both rules count it, reported as the original
    characters behind it."""
    message = f"Look at {text} here."
    found = Referee("ring", rule).find(message)
    assert [m.text for m in found] == [expected]
    assert message[found[0].start : found[0].end] == expected


@pytest.mark.parametrize(
    "text",
    [
        "springtime", "SpringTime", "offSpring", "bRinging", "BRINGING", "iPhone", "McDonald's",
        "<b>bring</b>", "**spring**", "_bring_", "r-in-g", "\u202egnirps\u202c", "\U0001f1e7\U0001f1f7",
        "spring\u200btime", "&lt;b&gt;bring", "ringtone", "r_i_n_g", "r__in__g", "&notring", "\u202bgnir\u202c",
    ],
)
def test_readings_do_not_invent_the_word(ring: Referee, text: str) -> None:
    assert ring.find(f"Look at {text} here.") == []


def test_strict_joins_across_underscores(ring: Referee, strict_ring: Referee) -> None:
    """Intraword underscores are no markdown: a reader sees them, so only strict joins across."""
    assert words(strict_ring, "a r__in__g") == ["r__in__g"]
    assert not ring.mentions("a r__in__g")


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


@pytest.mark.parametrize("codeword", ["bark", "ring"])
def test_paper_data_never_says_the_codeword(paper_data, codeword: str) -> None:
    dialogues = paper_data[codeword]
    assert len(dialogues) == 1000
    assert _matches(Referee(codeword, "paper"), dialogues) == (0, set())


@pytest.mark.parametrize(
    ("codeword", "dialogues_hit", "forms"),
    [("bark", 20, {"barking"}), ("ring", 5, {"ringing", "rung"})],
)
def test_paper_data_strict_finds_inflected_forms(
    paper_data, codeword: str, dialogues_hit: int, forms: set[str]
) -> None:
    assert _matches(Referee(codeword, "strict"), paper_data[codeword]) == (dialogues_hit, forms)
