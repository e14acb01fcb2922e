"""The README's results tables are exactly what results/mms/*.json and the manifests say."""

import json
from pathlib import Path

from scripts.results_readme import current_block, render_block

REPO = Path(__file__).resolve().parents[1]


def test_every_number_in_the_readme_results_comes_from_its_json():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    expected = render_block(REPO / "results" / "mms")
    assert current_block(readme) == expected, (
        "README.md's results block differs from results/mms/*.json: run python scripts/embedded_results.py --render")


def test_every_result_records_how_it_was_made():
    for path in sorted((REPO / "results" / "mms").glob("*.json")):
        provenance = json.loads(path.read_text(encoding="utf-8"))["provenance"]
        assert len(provenance["commit"]) == 40 and provenance["command"], path.name
        assert "data_sha256" in provenance and "organism_manifests_sha256" in provenance, path.name
