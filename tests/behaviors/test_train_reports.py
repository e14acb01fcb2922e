"""`mms train openai --json` and `mms train local --json` are typed reports serialised: the same keys,
in the same order, with the same values as the dicts the commands printed before they were typed
(issue 25). OpenAI runs against the fake API of test_train_openai (no network); the local run is a
constructed training result put in place of `train_local` (no weights)."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from behaviors import cli_train_local, train_local
from behaviors.cli_train import train_app
from behaviors.train_local import AdapterResult, LocalTrainResult
from game.plugins import mount
from tests.behaviors.test_train_openai import DIALOGUE, KEY, MODEL, FakeAPI, serve

runner = CliRunner()


def mms(*args):
    app = typer.Typer()
    mount(app, {"train": train_app})
    return runner.invoke(app, ["train", *map(str, args)])


@pytest.fixture
def openai_env(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(DIALOGUE) + "\n", encoding="utf-8")
    return data, tmp_path / "runs.db"


def test_openai_created_and_finished_json_are_the_dicts_they_always_were(openai_env):
    data, db = openai_env
    with serve(FakeAPI()):
        created = mms("openai", data, "--no-follow", "--db", db, "--json")
        finished = mms("openai", "--resume", "ftjob-1", "--poll-interval", 0, "--db", db, "--json")
    assert created.exit_code == 0 and finished.exit_code == 0, created.output + finished.output
    assert list(json.loads(created.stdout).items()) == [
        ("method", "openai"), ("run_id", 1), ("job_id", "ftjob-1"), ("status", "validating_files"),
        ("model_id", None), ("spec", None), ("db", str(db))]
    assert list(json.loads(finished.stdout).items()) == [
        ("method", "openai"), ("run_id", 1), ("job_id", "ftjob-1"), ("status", "succeeded"), ("model_id", MODEL),
        ("spec", f"openai:{MODEL}"), ("trained_tokens", 12345), ("steps", 3), ("first_loss", 2.5),
        ("last_loss", 1.25), ("db", str(db))]


def test_openai_human_lines_are_unchanged(openai_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    data, db = openai_env
    with serve(FakeAPI()):
        created = mms("openai", data, "--no-follow", "--db", db)
        finished = mms("openai", "--resume", "ftjob-1", "--poll-interval", 0, "--db", db)
    assert created.stdout == "created ftjob-1 (validating_files); follow it with: mms train openai --resume ftjob-1\n"
    assert finished.stdout == (
        f"ftjob-1 succeeded: {MODEL} (12345 trained tokens)\n"
        f"Recorded in {db}. Play it with: mms play --manipulator 'openai:{MODEL}' --manipulator-prompt none "
        "--codeword WORD\n")


def _local_result(tmp_path: Path) -> LocalTrainResult:
    adapters = [
        AdapterResult(run_id=3 + seed, seed=seed, adapter_dir=tmp_path / "out" / f"seed{seed}",
                      model_id=f"hf:/models/smollm2+{tmp_path}/out/seed{seed}",
                      losses=[{"step": s, "loss": loss} for s, loss in enumerate((2.5, 2.0, 1.5 - seed / 10), 1)],
                      validation=[{"step": 3, "loss": 1.75}] if seed == 0 else [],
                      seconds=12.345, tokens=4096, tokens_per_s=331.789)
        for seed in (0, 1)
    ]
    return LocalTrainResult(base="local:smollm2", base_dir="/models/smollm2", data_path=str(tmp_path / "d.jsonl"),
                            data_hash="ab" * 32, examples=19, val_examples=1, truncated=2, trained_tokens=8192,
                            steps=3, device="cpu", threads=1, fill=0.8125, adapters=adapters)


@pytest.fixture
def local_run(tmp_path, monkeypatch):
    """`mms train local` with the training replaced by a constructed result."""
    result = _local_result(tmp_path)
    monkeypatch.setattr(train_local, "train_local", lambda *args, **kwargs: result)
    monkeypatch.setattr(cli_train_local, "quiet_transformers", lambda: None)
    db = tmp_path / "runs.db"
    return lambda *extra: mms("local", tmp_path / "d.jsonl", "--out", tmp_path / "out", "--seeds", 2,
                              "--db", db, *extra), db


def test_local_json_is_the_dict_it_always_was(local_run, tmp_path):
    invoke, db = local_run
    result = invoke("--json")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert list(json.loads(result.stdout).items()) == [
        ("method", "local"), ("base", "local:smollm2"), ("base_dir", "/models/smollm2"),
        ("data", str(tmp_path / "d.jsonl")), ("data_hash", "ab" * 32), ("examples", 19), ("truncated", 2),
        ("trained_tokens", 8192), ("steps", 3), ("db", str(db)), ("val_examples", 1), ("device", "cpu"),
        ("threads", 1), ("fill", 0.8125), ("model_id", f"hf:/models/smollm2+{out}/seed0"),
        ("seeds", [0, 1]), ("run_ids", [3, 4]), ("adapters", [str(out / "seed0"), str(out / "seed1")]),
        ("model_ids", [f"hf:/models/smollm2+{out}/seed0", f"hf:/models/smollm2+{out}/seed1"]),
        ("first_loss", [2.5, 2.5]), ("last_loss", [1.5, 1.4]), ("final_train_loss", [1.5, 1.4]),
        ("val_loss", [1.75, None]), ("tokens", [4096, 4096]), ("tokens_per_s", [331.8, 331.8]),
        ("seconds", [12.3, 12.3]),
    ]


def test_local_human_output_is_unchanged(local_run, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    invoke, db = local_run
    result = invoke("--max-length", 512)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == ("LoRA on local:smollm2 (cpu, 1 threads): 19 dialogues (1 held back), 3 steps per seed, "
                        "rows 81% full, 2 cut at --max-length 512")
    rows = [line for line in lines if line.startswith(("│ 0 ", "│ 1 "))]
    assert rows == [f"│ 0 │ 3 │ 2.500 → 1.500 │ 1.750 │ 332 │ 12 s │ {out / 'seed0'} │",
                    f"│ 1 │ 4 │ 2.500 → 1.400 │ – │ 332 │ 12 s │ {out / 'seed1'} │"]
    assert lines[-3:] == [
        f"Recorded in {db} (training_runs). Play or interview the result with:",
        f"mms play --manipulator 'hf:/models/smollm2+{out}/seed0' --manipulator-prompt none --codeword WORD",
        f"mms play --manipulator 'hf:/models/smollm2+{out}/seed1' --manipulator-prompt none --codeword WORD",
    ]


def test_the_openai_request_checks_its_options_in_order():
    from agents.errors import MmsError
    from behaviors.train_openai import OpenAITrainRequest

    for kwargs, message in [
        ({}, "give a training FILE"),
        ({"data": Path("t.jsonl"), "resume": "ftjob-1", "suffix": "x" * 65}, "not both"),
        ({"resume": "ftjob-1", "suffix": "x" * 65}, "--resume follows a job as it was created"),
        ({"data": Path("t.jsonl"), "suffix": "x" * 65}, "--suffix takes 1 to 64 characters"),
    ]:
        with pytest.raises(MmsError, match=message):
            OpenAITrainRequest(**kwargs)
    request = OpenAITrainRequest(data=Path("t.jsonl"), epochs=4, seed=7)
    assert (request.config.epochs, request.config.seed, request.db) == (4, 7, Path("mms.db"))


def test_a_finished_openai_report_without_losses_says_none():
    from behaviors.train_openai import JobResult, OpenAITrainReport

    report = OpenAITrainReport.finished(JobResult(2, "ftjob-9", "cancelled", error="the job was cancelled"),
                                        Path("r.db"))
    assert report.to_json() == {"method": "openai", "run_id": 2, "job_id": "ftjob-9", "status": "cancelled",
                                "model_id": None, "spec": None, "trained_tokens": None, "steps": 0,
                                "first_loss": None, "last_loss": None, "db": "r.db"}


def test_the_local_report_is_built_from_the_training_result(tmp_path):
    from behaviors.train_local import LocalTrainReport

    result = _local_result(tmp_path)
    report = LocalTrainReport(result, tmp_path / "runs.db")
    assert (report.result, report.db) == (result, tmp_path / "runs.db")
    body = report.to_json()
    assert (body["model_id"], body["val_loss"], body["db"]) == (result.adapters[0].model_id, [1.75, None],
                                                                str(tmp_path / "runs.db"))
