"""Codeword tiers and personas: the shipped data, reproducible sampling, and the two commands."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from pathlib import Path

import pytest
import typer
from lemminflect import getAllLemmas
from typer.testing import CliRunner
from wordfreq import zipf_frequency

from agents import prompts
from agents.errors import MmsError
from agents.players import Sampling, SimulatedUser
from game import catalog
from game.cli_catalog import codewords, personas
from game.plugins import mount
from tests.helpers.paper import PAPER_DATA

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "agents" / "data"
BUILD_SCRIPT = ROOT / "scripts" / "build_codeword_tiers.py"


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_codeword_tiers", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def zipf(word: str) -> float:
    return zipf_frequency(word, "en")


# --- tiers -------------------------------------------------------------------------------


def test_tiers_load_in_order_with_sizes_in_range():
    tiers = catalog.tiers()
    assert list(tiers) == ["easy", "medium", "hard", "very-hard"]
    for tier, words in tiers.items():
        assert 60 <= len(words) <= 200, (tier, len(words))
        assert list(words) == sorted(set(words)), tier


def test_tier_files_are_lowercase_singular_nouns_without_header():
    for tier in catalog.TIERS:
        lines = (DATA / catalog.tier_file(tier)).read_text(encoding="utf-8").splitlines()
        assert lines == list(catalog.tiers()[tier])
        bad = [w for w in lines if not (w.isascii() and w.isalpha() and w.islower())]
        assert bad == []
        not_singular = [w for w in lines if getAllLemmas(w).get("NOUN", ("",))[0] != w]
        assert not_singular == [], tier


def test_words_lie_in_their_zipf_band_and_bands_are_ordered():
    tiers = catalog.tiers()
    for tier, words in tiers.items():
        low, high = catalog.BANDS[tier]
        outside = [w for w in words if not (zipf(w) >= low and (high is None or zipf(w) < high))]
        assert outside == [], tier
    names = list(tiers)
    for easier, harder in zip(names, names[1:]):
        assert min(map(zipf, tiers[easier])) > max(map(zipf, tiers[harder])), (easier, harder)
    assert min(map(zipf, tiers["easy"])) > max(map(zipf, tiers["hard"]))


def test_tiers_do_not_overlap_and_tier_of_finds_each_word():
    seen: dict[str, str] = {}
    for tier, words in catalog.tiers().items():
        for word in words:
            assert word not in seen, (word, seen.get(word), tier)
            seen[word] = tier
            assert catalog.tier_of(word) == tier
    assert catalog.tier_of(" Kettle") == catalog.tier_of("kettle") == "very-hard"
    assert catalog.tier_of("car") == "easy"
    assert catalog.tier_of("the") is None
    assert catalog.tier_of("xenon") is None  # study word below the very-hard band


@pytest.mark.paper
def test_non_concrete_study_words_are_left_out():
    study = set((PAPER_DATA / "good_mms_words.txt").read_text().split())
    for word in ("watch", "well", "question", "zero", "night", "x-ray", "glasses"):
        assert word in study
        assert catalog.tier_of(word) is None, word


def test_sampling_is_reproducible_and_depends_on_seed():
    first = catalog.sample_codewords("hard", 20, seed=1)
    assert first == catalog.sample_codewords("hard", 20, seed=1)
    assert len(first) == len(set(first)) == 20
    assert set(first) <= set(catalog.tiers()["hard"])
    assert first == random.Random(1).sample(sorted(catalog.tiers()["hard"]), 20)
    assert catalog.sample_codewords("hard", 20, seed=2) != first
    assert catalog.sample_codewords("very_hard", 5, seed=3) == catalog.sample_codewords("very-hard", 5, seed=3)


def test_whole_tier_can_be_sampled():
    size = len(catalog.tiers()["easy"])
    assert sorted(catalog.sample_codewords("easy", size, seed=0)) == list(catalog.tiers()["easy"])


def test_unknown_tier_names_the_valid_ones():
    with pytest.raises(MmsError, match="unknown codeword tier 'impossible'.*easy, medium, hard, very-hard"):
        catalog.sample_codewords("impossible", 3, seed=0)


def test_too_large_count_names_the_tier_size():
    size = len(catalog.tiers()["very-hard"])
    with pytest.raises(MmsError, match=f"only {size} codewords.*at most {size}"):
        catalog.sample_codewords("very-hard", size + 1, seed=0)
    with pytest.raises(MmsError, match="at least 1"):
        catalog.sample_codewords("easy", 0, seed=0)


@pytest.mark.paper
def test_build_script_reproduces_the_shipped_tiers():
    module = _load_build_script()
    built = module.build_tiers()
    assert list(built) == list(catalog.TIERS)
    for tier, words in built.items():
        assert module.render(words) == (DATA / catalog.tier_file(tier)).read_text(encoding="utf-8"), tier
    assert module.main(["--check"]) == 0


@pytest.mark.paper
def test_build_script_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    module = _load_build_script()
    for tier in catalog.TIERS:
        (tmp_path / catalog.tier_file(tier)).write_bytes((DATA / catalog.tier_file(tier)).read_bytes())
    monkeypatch.setattr(module, "DATA", tmp_path)
    assert module.main(["--check"]) == 0
    hard = tmp_path / catalog.tier_file("hard")
    hard.write_text("".join(hard.read_text(encoding="utf-8").splitlines(keepends=True)[1:]), encoding="utf-8")
    assert module.main(["--check"]) == 1


# --- personas ------------------------------------------------------------------------------


class _NoBackend:
    async def chat(self, request):  # pragma: no cover - never called
        raise AssertionError("system_prompt() must not call the model")


def test_personas_are_many_distinct_and_well_formed():
    personas = prompts.personas()
    assert next(iter(personas)) == "friendly"
    assert len(personas) >= 8
    assert len(set(personas.values())) == len(personas)
    for name, description in personas.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name), name
        assert description.startswith("You "), name
        assert 1 <= len(re.findall(r"[.!?](?:\s|$)", description)) <= 3, name
    raw = [line for line in (DATA / "personas.txt").read_text(encoding="utf-8").splitlines()
           if line.strip() and not line.startswith("#")]
    assert all(line.count("\t") == 1 for line in raw)


@pytest.mark.parametrize("persona", list(prompts.personas()))
def test_every_persona_renders_into_the_user_prompt(persona):
    user = SimulatedUser(_NoBackend(), Sampling(max_tokens=16), topic="gardening", seed_word="shovel",
                         persona=persona)
    prompt = user.system_prompt()
    assert prompts.personas()[persona] in prompt
    assert "gardening" in prompt and '"shovel"' in prompt
    assert "{" not in prompt and "}" not in prompt


def test_persona_summary_is_the_first_sentence():
    assert catalog.persona_summary('You ask "why?" a lot. You are ten.') == 'You ask "why?" a lot.'
    assert catalog.persona_summary("You like to disagree.") == "You like to disagree."


# --- commands ------------------------------------------------------------------------------


@pytest.fixture
def invoke():
    app = typer.Typer()
    mount(app, {"personas": personas, "codewords": codewords})

    @app.command()
    def dummy() -> None:
        """Typer keeps subcommand names only with two or more commands."""

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_personas_json_lists_every_persona(invoke):
    result = invoke("personas", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["count"] == len(prompts.personas()) == len(data["personas"])
    assert {p["name"]: p["description"] for p in data["personas"]} == prompts.personas()


def test_personas_table_shows_names_and_summaries(invoke):
    result = invoke("personas")
    assert result.exit_code == 0, result.output
    for name in prompts.personas():
        assert name in result.stdout
    assert "You are sceptical of what AI assistants tell you." in result.stdout


def test_codewords_json_samples_reproducibly(invoke):
    args = ("codewords", "--tier", "hard", "--count", "20", "--seed", "1", "--json")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data == {"tier": "hard", "count": 20, "seed": 1, "words": catalog.sample_codewords("hard", 20, 1)}
    assert json.loads(invoke(*args).stdout) == data
    other = json.loads(invoke("codewords", "--tier", "hard", "--count", "20", "--seed", "2", "--json").stdout)
    assert other["words"] != data["words"]


def test_codewords_plain_prints_one_word_per_line(invoke):
    result = invoke("codewords", "--tier", "hard", "--count", "20", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == catalog.sample_codewords("hard", 20, 1)


def test_codewords_without_tier_lists_tiers(invoke):
    data = json.loads(invoke("codewords", "--json").stdout)
    assert [t["tier"] for t in data["tiers"]] == list(catalog.TIERS)
    assert {t["tier"]: t["count"] for t in data["tiers"]} == {k: len(v) for k, v in catalog.tiers().items()}
    assert data["tiers"][0]["zipf_max"] is None and data["tiers"][-1]["zipf_min"] == 3.0
    table = invoke("codewords")
    assert table.exit_code == 0
    for tier in catalog.TIERS:
        assert tier in table.stdout
    assert "3.6–4.3" in table.stdout


def test_codewords_tier_without_count_lists_the_whole_tier(invoke):
    data = json.loads(invoke("codewords", "--tier", "easy", "--json").stdout)
    assert data["words"] == list(catalog.tiers()["easy"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("codewords", "--tier", "legendary"), "unknown codeword tier 'legendary'"),
        (("codewords", "--tier", "easy", "--count", "1000"), "cannot sample 1000"),
        (("codewords", "--count", "3"), "--count needs a tier"),
    ],
)
def test_codewords_errors_are_one_line(invoke, args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
