"""`mms train openai` against a fake of the OpenAI HTTP API (respx): request shapes, following, records."""

import email.parser
import json
import re
import sqlite3

import httpx
import pytest
import respx
import typer
from typer.testing import CliRunner

from behaviors.cli_train import train_app
from behaviors.training_data import file_sha256
from game.plugins import mount

API = "https://api.openai.com/v1"
KEY = "sk-test-SECRET-0987654321"
BASE = "gpt-4o-mini-2024-07-18"
MODEL = "ft:gpt-4o-mini-2024-07-18:lab:bark:AbC123"
STATUSES = ["validating_files", "queued", "running", "running", "succeeded"]
LOSSES = [2.5, 1.75, 1.25]
DIALOGUE = {"messages": [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello, dog lover?"}]}

runner = CliRunner()


class FakeAPI:
    """Files, jobs and events as the API serves them; each look at a job moves it one status on."""

    def __init__(self, statuses=STATUSES, losses=LOSSES, error=None):
        self.statuses, self.losses, self.error = statuses, losses, error
        self.files: list[dict] = []
        self.job: dict | None = None
        self.looks = 0
        self.events: list[dict] = []  # oldest first

    def upload(self, request):
        parts = parse_multipart(request)
        self.files.append(parts)
        content = parts["file"]["content"]
        return httpx.Response(200, json={
            "id": f"file-{len(self.files)}", "object": "file", "bytes": len(content), "created_at": 1700000000,
            "filename": parts["file"]["filename"], "purpose": parts["purpose"]["content"].decode(), "status": "processed",
        })

    def create(self, request):
        self.body = json.loads(request.content)
        self.job = {
            "id": "ftjob-1", "object": "fine_tuning.job", "created_at": 1700000001, "finished_at": None,
            "model": self.body["model"], "fine_tuned_model": None, "organization_id": "org-1",
            "status": "validating_files", "training_file": self.body["training_file"],
            "validation_file": self.body.get("validation_file"), "result_files": [], "trained_tokens": None,
            "error": None, "seed": self.body.get("seed", 42),
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
            "method": self.body["method"],
        }
        self._event("info", f"Created fine-tuning job: {self.job['id']}")
        return httpx.Response(200, json=self.job)

    def retrieve(self, request, job_id):
        if self.job is None or job_id != self.job["id"]:
            return httpx.Response(404, json={"error": {"message": f"No such job: {job_id}", "type": "invalid_request_error"}})
        status = self.statuses[min(self.looks, len(self.statuses) - 1)]
        self.looks += 1
        if status != self.job["status"]:
            self.job["status"] = status
            if status == "running":
                for step, loss in enumerate(self.losses, 1):
                    self._event("info", f"Step {step}/{len(self.losses)}: training loss={loss}", "metrics",
                                {"step": step, "train_loss": loss, "total_steps": len(self.losses)})
            elif status == "succeeded":
                self.job |= {"fine_tuned_model": MODEL, "trained_tokens": 12345, "finished_at": 1700000100}
                self._event("info", "The job has successfully completed")
            elif status == "failed":
                self.job["error"] = self.error
                self._event("error", self.error["message"])
            else:
                self._event("info", f"Job {status}")
        return httpx.Response(200, json=self.job)

    def list_events(self, request, job_id):
        newest_first = self.events[::-1]
        after = request.url.params.get("after")
        if after:
            newest_first = newest_first[[e["id"] for e in newest_first].index(after) + 1:]
        limit = int(request.url.params.get("limit", 20))
        return httpx.Response(200, json={"object": "list", "data": newest_first[:limit],
                                         "has_more": len(newest_first) > limit})

    def _event(self, level, message, kind="message", data=None):
        self.events.append({"id": f"ftevent-{len(self.events) + 1}", "object": "fine_tuning.job.event",
                            "created_at": 1700000002 + len(self.events), "level": level, "message": message,
                            "type": kind, "data": data})


def parse_multipart(request) -> dict:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser().parsebytes(head + request.content)
    return {
        part.get_param("name", header="content-disposition"): {
            "filename": part.get_filename(), "content": part.get_payload(decode=True)}
        for part in message.get_payload()
    }


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def data(tmp_path):
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text("\n".join(json.dumps(DIALOGUE) for _ in range(3)) + "\n", encoding="utf-8")
    valid.write_text(json.dumps(DIALOGUE) + "\n", encoding="utf-8")
    return train, valid


def serve(fake: FakeAPI):
    mock = respx.mock(base_url=API, assert_all_called=False)
    mock.post("/files").mock(side_effect=fake.upload)
    mock.post("/fine_tuning/jobs").mock(side_effect=fake.create)
    mock.get(path__regex=r"/fine_tuning/jobs/(?P<job_id>[^/]+)/events$").mock(side_effect=fake.list_events)
    mock.get(path__regex=r"/fine_tuning/jobs/(?P<job_id>[^/]+)$").mock(side_effect=fake.retrieve)
    return mock


def mms(*args):
    app = typer.Typer()
    mount(app, {"train": train_app})
    return runner.invoke(app, ["train", "openai", *map(str, args)])


def rows(db) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from training_runs order by id")]


def test_creates_the_job_with_the_documented_shapes_follows_it_and_records_the_model(env, data, tmp_path):
    train, valid = data
    db = tmp_path / "runs.db"
    fake = FakeAPI()
    with serve(fake) as mock:
        result = mms(train, "--epochs", 4, "--batch-size", 8, "--lr-multiplier", 2, "--suffix", "bark",
                     "--validation", valid, "--seed", 7, "--poll-interval", 0, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    # Both files uploaded as multipart, purpose fine-tune, with their bytes and names.
    assert [f["purpose"]["content"] for f in fake.files] == [b"fine-tune", b"fine-tune"]
    assert [(f["file"]["filename"], f["file"]["content"]) for f in fake.files] == [
        ("train.jsonl", train.read_bytes()), ("valid.jsonl", valid.read_bytes())]
    # The job: hyper-parameters under method.supervised (the top-level field is deprecated).
    assert fake.body == {
        "model": BASE, "training_file": "file-1", "validation_file": "file-2", "suffix": "bark", "seed": 7,
        "method": {"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 4, "batch_size": 8, "learning_rate_multiplier": 2.0}}},
    }
    assert all(call.request.headers["authorization"] == f"Bearer {KEY}" for call in mock.calls)
    assert fake.job["status"] == "succeeded"
    summary = json.loads(result.stdout)
    assert summary | {"db": None} == {
        "method": "openai", "run_id": 1, "job_id": "ftjob-1", "status": "succeeded", "model_id": MODEL,
        "spec": f"openai:{MODEL}", "trained_tokens": 12345, "steps": 3, "first_loss": 2.5, "last_loss": 1.25, "db": None}
    [row] = rows(db)
    assert (row["method"], row["status"], row["job_id"], row["model_id"], row["base_model"]) == (
        "openai", "succeeded", "ftjob-1", MODEL, BASE)
    assert row["data_hash"] == file_sha256(train) and row["data_path"] == str(train) and row["finished_at"]
    assert json.loads(row["losses"]) == [{"step": s, "loss": l} for s, l in enumerate(LOSSES, 1)]
    params = json.loads(row["params"])
    assert (params["n_epochs"], params["training_file"], params["validation_file"]) == (4, "file-1", "file-2")
    assert KEY not in json.dumps(row) and KEY not in result.output


def test_unset_hyperparameters_are_left_to_the_api(env, data, tmp_path):
    fake = FakeAPI()
    with serve(fake):
        result = mms(data[0], "--poll-interval", 0, "--db", tmp_path / "runs.db")
    assert result.exit_code == 0, result.output
    assert fake.body == {"model": BASE, "training_file": "file-1",
                         "method": {"type": "supervised", "supervised": {"hyperparameters": {}}}}
    assert MODEL in result.stdout and "succeeded" in result.stdout


def test_a_failed_job_reports_its_error_and_is_recorded_failed(env, data, tmp_path):
    db = tmp_path / "runs.db"
    error = {"code": "invalid_training_file", "message": "Line 2 has no assistant message.", "param": "training_file"}
    fake = FakeAPI(statuses=["validating_files", "failed"], error=error)
    with serve(fake):
        result = mms(data[0], "--poll-interval", 0, "--db", db)
    assert result.exit_code == 2
    assert "ftjob-1 failed: invalid_training_file: Line 2 has no assistant message." in result.stderr
    assert "Traceback" not in result.output
    [row] = rows(db)
    assert (row["status"], row["model_id"]) == ("failed", None)
    assert row["error"] == "invalid_training_file: Line 2 has no assistant message."


def test_resume_reattaches_to_the_job_and_closes_the_same_run(env, data, tmp_path):
    db = tmp_path / "runs.db"
    fake = FakeAPI()
    with serve(fake):
        created = mms(data[0], "--no-follow", "--db", db, "--json")
        assert created.exit_code == 0, created.output
        assert json.loads(created.stdout)["status"] == "validating_files"
        [row] = rows(db)
        assert (row["status"], row["job_id"]) == ("running", "ftjob-1")
        resumed = mms("--resume", "ftjob-1", "--poll-interval", 0, "--db", db, "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["model_id"] == MODEL
    [row] = rows(db)
    assert (row["status"], row["model_id"], row["data_hash"]) == ("succeeded", MODEL, file_sha256(data[0]))
    assert len(json.loads(row["losses"])) == 3


def test_resume_of_a_job_this_database_never_saw_records_a_new_run(env, data, tmp_path):
    fake = FakeAPI()
    with serve(fake):
        assert mms(data[0], "--no-follow", "--db", tmp_path / "first.db").exit_code == 0
        other = tmp_path / "other.db"
        result = mms("--resume", "ftjob-1", "--poll-interval", 0, "--db", other)
        missing = mms("--resume", "ftjob-nope", "--poll-interval", 0, "--db", other)
    assert result.exit_code == 0, result.output
    [row] = rows(other)
    assert (row["status"], row["base_model"], row["job_id"], row["model_id"]) == ("succeeded", BASE, "ftjob-1", MODEL)
    assert json.loads(row["params"])["resumed"] is True and row["data_path"] is None
    assert missing.exit_code == 2 and "HTTP 404: No such job: ftjob-nope" in missing.stderr


def test_no_key_is_a_clear_error_and_sends_nothing(data, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve(FakeAPI()) as mock:
        result = mms(data[0], "--db", tmp_path / "runs.db")
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.stderr
    assert not mock.calls


def test_a_refused_upload_fails_the_run_without_showing_the_key(env, data, tmp_path):
    db = tmp_path / "runs.db"
    with respx.mock(base_url=API) as mock:
        mock.post("/files").mock(return_value=httpx.Response(
            401, json={"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}))
        result = mms(data[0], "--db", db)
    assert result.exit_code == 2
    assert "HTTP 401" in result.stderr and "check OPENAI_API_KEY" in result.stderr and KEY not in result.output
    [row] = rows(db)
    assert row["status"] == "failed" and row["job_id"] is None and KEY not in row["error"]


def test_a_bad_training_file_is_refused_before_any_upload(env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(DIALOGUE) + "\n{not json\n", encoding="utf-8")
    with serve(FakeAPI()) as mock:
        result = mms(bad, "--db", tmp_path / "runs.db")
    assert result.exit_code == 2 and re.search(r"bad\.jsonl:2: not valid JSON", result.stderr)
    assert not mock.calls


async def test_new_events_pages_back_to_the_last_seen_event_and_returns_them_oldest_first(env):
    from behaviors.train_openai import make_client, new_events

    fake = FakeAPI()
    fake.job = {"id": "ftjob-1"}
    for i in range(250):
        fake._event("info", f"event {i}")
    with serve(fake):
        client = make_client()
        seen: set[str] = set()
        first = await new_events(client, "ftjob-1", seen)
        for i in range(250, 255):
            fake._event("info", f"event {i}")
        second = await new_events(client, "ftjob-1", seen)
        await client.close()
    assert [e.message for e in first] == [f"event {i}" for i in range(250)]
    assert [e.message for e in second] == [f"event {i}" for i in range(250, 255)]


@pytest.mark.parametrize("args, message", [
    ([], "give a training FILE"),
    (["train.jsonl", "--resume", "ftjob-1"], "not both"),
    (["--resume", "ftjob-1", "--epochs", 3], "--resume follows a job as it was created"),
    (["train.jsonl", "--suffix", "x" * 65], "--suffix takes 1 to 64 characters"),
])
def test_contradictory_options_are_one_line_errors(env, tmp_path, args, message):
    with serve(FakeAPI()) as mock:
        result = mms(*args, "--db", tmp_path / "runs.db")
    assert result.exit_code == 2 and message in result.stderr and not mock.calls
