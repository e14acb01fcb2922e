"""A model spec's identity leaves out where an OpenAI-compatible server is reached."""

import pytest

from agents.registry import spec_identity


@pytest.mark.parametrize("spec", [
    "openai:m@http://localhost:8000/v1",
    "openai:m@http://127.0.0.1:8000/v1/",
    "openai:m@https://gpu-node-7.cluster:443/v1",
    "openai:m",
])
def test_an_openai_spec_is_known_by_its_model_alone(spec):
    assert spec_identity(spec) == "openai:m"


def test_a_model_name_with_an_at_sign_keeps_it_up_to_the_server():
    assert spec_identity("openai:org/m@rev@http://localhost:8000/v1") == "openai:org/m@rev"


@pytest.mark.parametrize("spec", ["local:smollm2+bark", "scripted:/tmp/a.json", "hf:/models/x+/adapters/y"])
def test_other_specs_are_their_own_identity(spec):
    assert spec_identity(spec) == spec


def test_different_models_on_one_server_stay_different():
    assert spec_identity("openai:a@http://localhost:8000/v1") != spec_identity("openai:b@http://localhost:8000/v1")
