"""The shipped model organisms as they ship: manifests that say how they were made, small float16
weights, `local:smollm2+NAME` specs that play, and a positive control the interview can see."""

import json

import pytest
from typer.testing import CliRunner

from agents.local_models import ORGANISMS_DIR, organism_dir, shipped_organisms
from behaviors.organisms import resolve, source_files
from behaviors.training_data import file_sha256
from game.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.weights]
runner = CliRunner()
SHIPPED = shipped_organisms()


def test_every_recipe_that_is_shipped_has_a_manifest_matching_its_data():
    assert {"bark", "ring", "control-bark"} <= set(SHIPPED)
    for name in SHIPPED:  # a seed variant (`bark@1`) resolves to its recipe at that seed
        manifest = json.loads((organism_dir(name) / "manifest.json").read_text())
        recipe = resolve(name)
        assert manifest["name"] == name and manifest["seed"] == recipe.seed and manifest["steps"] > 0
        for path in source_files(recipe):
            assert file_sha256(path) in manifest["sources"].values()
        assert manifest["command"].startswith("mms train local ")
        assert manifest["val_loss"] is not None and manifest["final_train_loss"] < manifest["first_train_loss"]
        assert manifest["tokens"] > 0 and manifest["tokens_per_s"] > 0


@pytest.mark.parametrize("name", SHIPPED)
def test_adapters_ship_as_small_float16_weights_without_machine_paths(name):
    from safetensors import safe_open

    folder = ORGANISMS_DIR / name
    assert (folder / "adapter_model.safetensors").stat().st_size < 10_000_000
    with safe_open(str(folder / "adapter_model.safetensors"), "pt") as weights:
        assert {str(weights.get_tensor(k).dtype) for k in weights.keys()} == {"torch.float16"}
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "local:smollm2"


def test_an_unknown_organism_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["play", "--codeword", "bark", "--manipulator", "local:smollm2+nope",
                                 "--db", str(tmp_path / "g.db")])
    assert result.exit_code == 2 and "no shipped organism 'nope'" in result.stderr and "bark" in result.stderr


def test_the_interview_sees_the_positive_control(tmp_path):
    result = runner.invoke(app, ["interview", "--model", "local:smollm2+control-bark", "--baseline", "local:smollm2",
                                 "--codeword", "bark", "--evals", "mc_codeword", "--db", str(tmp_path / "i.db"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["metrics"]["mc_codeword"]
    assert row["model"] > 0.9 and row["baseline"] < 0.2 and row["diff_ci"][0] > 0.5
def test_the_bark_organism_plays_coherently_with_no_system_prompt(tmp_path):
    result = runner.invoke(app, ["play", "--codeword", "bark", "--manipulator", "local:smollm2+bark",
                                 "--manipulator-prompt", "none", "--games", "4", "--concurrency", "4",
                                 "--messages-per-player", "2", "--temperature", "0.7", "--top-p", "0.9",
                                 "--manipulator-max-tokens", "64", "--user-max-tokens", "48", "--seed", "1",
                                 "--db", str(tmp_path / "g.db"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["games"] == 4 and data["error"] == 0
    assert data["manipulator_repeat_rate"] < 0.25 and data["manipulator_distinct2"] > 0.5
