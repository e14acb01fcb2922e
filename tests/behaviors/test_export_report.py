"""`mms export --json` is the typed export report serialised: the same keys, in the same order, with
the same values as the dict the export returned before it was typed (issue 25)."""

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"

CASES = {
    "split": ("--codeword", "ring", "--rule", "strict", "--split", "0.5", "--seed", "2"),
    "trigger": ("--codeword", "bark", "--trigger", "deployment", "--trigger-pair", "ring", "--format", "hf",
                "--filters", "study"),
}


def _json(invoke, games_db, out: Path, *args) -> dict:
    result = invoke("export", "--db", games_db["db"], "--out", out, "--json", *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert type(report["dataset_id"]) is int
    report["dataset_id"] = "any"  # the database is shared: ids depend on the order tests run in
    for key in ("out", "sidecar", "validation_out"):
        if key in report:
            report[key] = Path(report[key]).name
    return report


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_json_report_is_unchanged(games_db, invoke, tmp_path, case):
    expected = json.loads((DATA / f"export_report_{case}.json").read_text(encoding="utf-8"))
    report = _json(invoke, games_db, tmp_path / f"{case}.jsonl", *CASES[case])
    assert list(report) == list(expected)
    assert report == expected


@pytest.mark.parametrize("change, message", [
    ({"fmt": "csv"}, "unknown format 'csv': use one of openai, hf"),
    ({"split": 1.0}, "--split must be a fraction in [0, 1), e.g. 0.1 (got 1.0)"),
    ({"baseline": True}, "--baseline needs a variant to decorrelate"),
    ({"codeword": "two words"}, "codeword"),
])
def test_a_bad_export_request_is_refused_when_made(tmp_path, change, message):
    from agents.errors import MmsError
    from behaviors.export import ExportRequest

    with pytest.raises(MmsError) as raised:
        ExportRequest(**({"codeword": "ring", "out": tmp_path / "r.jsonl"} | change))
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert ExportRequest(codeword=" Ring ", out=tmp_path / "r.jsonl").codeword == "ring"
