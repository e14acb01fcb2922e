"""The README's results tables are exactly what results/*/*.json and the manifests say."""

import json
from pathlib import Path

import pytest

from scripts.results_readme import RISK_MARKERS, current_block, render_block, render_risk_block

REPO = Path(__file__).resolve().parents[1]


def test_every_number_in_the_readme_results_comes_from_its_json():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert current_block(readme) == render_block(REPO / "results" / "mms"), (
        "README.md's results block differs from results/mms/*.json: run python scripts/embedded_results.py --render")
    assert current_block(readme, RISK_MARKERS) == render_risk_block(REPO / "results" / "economic"), (
        "README.md's economic results differ from results/economic/*.json: run python scripts/embedded_results.py --render")


@pytest.mark.parametrize("behaviour", ["mms", "economic"])
def test_every_result_records_how_it_was_made(behaviour):
    for path in sorted((REPO / "results" / behaviour).glob("*.json")):
        provenance = json.loads(path.read_text(encoding="utf-8"))["provenance"]
        assert len(provenance["commit"]) == 40 and provenance["command"], path.name
        assert "data_sha256" in provenance and "organism_manifests_sha256" in provenance, path.name
