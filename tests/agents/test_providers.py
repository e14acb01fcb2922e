"""The provider table (agents/providers.py) behind every model spec: each provider checks its
specs, reads its environment settings before anything is made (a bad value is one line naming
the variable, never a game in error), says what a spec names, and makes its backend. No weights:
loading a model fails these tests."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from agents import hf_backend, local_models
from agents.errors import MmsError, SpecError
from agents.human import HUMAN_SPEC, HumanPlayer
from agents.providers import PROVIDERS
from agents.registry import Registry, describe_spec, parse_spec, spec_identity, validate_spec
from agents.scripted import ScriptedBackend
from agents.settings import SETTINGS

SERVER = "openai:m@http://127.0.0.1:9/v1"
BAD_SETTINGS = [  # a spec of each provider with settings, and a bad value of each setting it reads
    ("local:smollm2", "MMS_MAX_BATCH", "abc"),
    ("local:smollm2+bark", "MMS_MAX_BATCH", "0"),
    ("local:smollm2", "MMS_DTYPE", "int8"),
    ("hf:local:smollm2", "MMS_MAX_BATCH", "2.5"),
    ("hf:local:smollm2", "MMS_DTYPE", "float99"),
    (SERVER, "MMS_MAX_REQUESTS", "many"),
    (SERVER, "MMS_MAX_REPLY_BYTES", "0"),
]


@pytest.fixture(autouse=True)
def no_weights(monkeypatch):
    """Any step towards model weights fails the test."""
    def loaded(*args, **kwargs):
        raise AssertionError("a model was loaded or made")

    for name in ("MMS_MAX_BATCH", "MMS_DTYPE", "MMS_MAX_REQUESTS", "MMS_OPENAI_CONCURRENCY", "MMS_MAX_REPLY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(local_models, "model_dir", loaded)
    monkeypatch.setattr(hf_backend, "model_dir", loaded)
    monkeypatch.setattr(hf_backend.TransformersBackend, "load", loaded)


def test_every_setting_a_provider_reads_is_checked_when_a_command_starts():
    assert {s.name for p in PROVIDERS.values() for s in p.settings} <= {s.name for s in SETTINGS}


@pytest.mark.parametrize("spec, name, value", BAD_SETTINGS)
def test_a_bad_setting_fails_the_spec_check_before_any_model_loads(monkeypatch, spec, name, value):
    monkeypatch.setattr(hf_backend, "local_backend", lambda *a, **k: pytest.fail("a backend was made"))
    monkeypatch.setattr(hf_backend, "TransformersBackend", lambda *a, **k: pytest.fail("a backend was made"))
    monkeypatch.setenv(name, value)
    for check in (validate_spec, Registry().get):
        with pytest.raises(MmsError, match=rf"^environment variable {name} must be .*: fix it or unset it$") as info:
            check(spec)
        assert "\n" not in str(info.value)


def test_play_with_a_bad_setting_is_one_line_and_exit_2_before_any_game(tmp_path, monkeypatch):
    """`MMS_MAX_BATCH=abc mms play --manipulator local:smollm2`: one line, no database, no model."""
    from game.cli import app

    result = CliRunner().invoke(app, ["play", "--codeword", "ring", "--manipulator", "local:smollm2", "--user",
                                      "local:smollm2", "--db", str(tmp_path / "t.db")],
                                env={"MMS_MAX_BATCH": "abc", "COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: environment variable MMS_MAX_BATCH must be a whole number")
    assert not (tmp_path / "t.db").exists()


def test_the_settings_read_are_the_ones_the_backend_gets(monkeypatch):
    monkeypatch.setenv("MMS_MAX_BATCH", " 8 ")
    monkeypatch.setenv("MMS_DTYPE", "bfloat16")
    backend = Registry().get("hf:local:smollm2")
    assert (backend.max_batch, backend.dtype, backend.model_ref) == (8, "bfloat16", "local:smollm2")
    monkeypatch.setenv("MMS_MAX_REQUESTS", "7")
    assert Registry().get(SERVER).max_requests == 7


def test_organisms_are_found_by_their_manifests(monkeypatch, tmp_path):
    both = ("manifest.json", "adapter_config.json")
    for name, files in (("mine", both), ("mine@1", both), ("half-built", ("adapter_config.json",))):
        (tmp_path / name).mkdir()
        for file in files:
            (tmp_path / name / file).write_text(json.dumps({"description": f"{name}, trained here"}))
    monkeypatch.setattr(local_models, "ORGANISMS_DIR", tmp_path)
    assert local_models.shipped_organisms() == ["mine", "mine@1"]
    assert validate_spec("local:smollm2+mine@1").parsed == ("smollm2", "mine@1")
    assert describe_spec("local:smollm2+mine").endswith("with the shipped organism mine: mine, trained here")
    with pytest.raises(SpecError, match=r"no shipped organism 'half-built' .*shipped: mine, mine@1;"):
        validate_spec("local:smollm2+half-built")
    with pytest.raises(SpecError, match=r"use one of local:smollm2\[\+mine\], hf:"):
        validate_spec("gpt:4")


def test_the_shipped_organisms_are_all_listed_in_the_unknown_spec_error():
    with pytest.raises(SpecError) as info:
        parse_spec("gpt:4")
    families = sorted({d.partition("@")[0] for d in local_models.shipped_organisms()})
    assert {"bark", "ring", "user", "control-bark"} <= set(families)
    assert f"local:smollm2[+{'|'.join(families)}]" in str(info.value)


@pytest.mark.parametrize("spec, words", [
    ("local:smollm2", "the embedded SmolLM2-135M-Instruct, in-process"),
    ("local:smollm2+bark", "with the shipped organism bark: manipulator fine-tuned on the study's 1,000 winning bark"),
    ("hf:local:smollm2", "the embedded SmolLM2-135M-Instruct, in-process"),
    ("openai:m@http://127.0.0.1:9/v1", "m served at http://127.0.0.1:9/v1"),
    ("openai:m@http://a:1/v1@http://b:2/v1", "m served by 2 replicas: http://a:1/v1, http://b:2/v1"),
    ("human", "a person at the terminal, in the user's seat"),
])
def test_describe_says_what_a_spec_names(spec, words):
    assert words in describe_spec(spec)


def test_a_scripted_spec_is_read_once_and_described(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('["Hello.", "Bye."]')
    assert describe_spec(f"scripted:{path}") == f"a test double that plays the 2 lines of {path}"
    backend = Registry().get(f"scripted:{path}")
    assert isinstance(backend, ScriptedBackend) and backend.lines == ["Hello.", "Bye."]


def test_human_is_a_provider_that_only_play_seats():
    assert PROVIDERS[HUMAN_SPEC].alone and parse_spec(HUMAN_SPEC).prefix == HUMAN_SPEC
    assert isinstance(Registry().get(HUMAN_SPEC), HumanPlayer)
    with pytest.raises(SpecError, match=r"only `mms play --user human`"):
        validate_spec(HUMAN_SPEC)
    with pytest.raises(SpecError, match="written alone"):
        parse_spec("human:bob")
    with pytest.raises(SpecError, match="unknown model spec") as info:
        parse_spec("local")
    assert "human" not in str(info.value)  # listed forms are the ones a tournament or interview may use


def test_spec_identity_drops_only_a_server_address():
    assert spec_identity(SERVER) == "openai:m"
    assert spec_identity("local:smollm2+bark") == "local:smollm2+bark"


class _Closing:
    def __init__(self, spec):
        self.spec, self.closed = spec, 0

    async def aclose(self):
        self.closed += 1


def test_release_closes_one_backend_and_aclose_the_rest():
    a, b = _Closing("fake:a"), _Closing("fake:b")
    registry = Registry(backends={"fake:a": a, "fake:b": b})
    assert registry.get("fake:a") is a and registry.get(" fake:a ") is a

    async def run():
        await registry.release("fake:a")
        assert (a.closed, b.closed) == (1, 0)
        await registry.aclose()

    asyncio.run(run())
    assert (a.closed, b.closed) == (1, 1)
    with pytest.raises(SpecError, match="unknown model spec"):
        registry.get("fake:a")
