"""Checks on the word lists in agents/data: seed words and conversation topics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lemminflect import getAllLemmas

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "agents" / "data"
SEED_WORDS = DATA / "seed_words.txt"
TOPICS = DATA / "topics.txt"
BUILD_SCRIPT = ROOT / "scripts" / "build_seed_words.py"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_seed_words", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_words_are_unique_lowercase_and_sorted():
    words = _lines(SEED_WORDS)
    assert 850 <= len(words) <= 950
    assert len(set(words)) == len(words)
    assert words == sorted(words)
    bad = [w for w in words if not (w.isascii() and w.isalpha() and w.islower())]
    assert bad == []


def test_seed_words_are_nouns():
    not_nouns = [w for w in _lines(SEED_WORDS) if "NOUN" not in getAllLemmas(w)]
    assert not_nouns == []


def test_topics_are_unique_and_non_empty():
    topics = _lines(TOPICS)
    assert all(t.strip() for t in topics)
    assert all(t == t.strip() for t in topics)
    assert len(set(topics)) == len(topics)
    assert len(topics) >= 36


def test_build_script_reproduces_seed_words():
    built = _load_build_script().build_words()
    assert built == _lines(SEED_WORDS)
