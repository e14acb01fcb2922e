"""`mms train local` on the embedded model: assistant-only loss, a tiny real run, its records, its adapter.

The run (8 short dialogues from the study's bark file, all packed into one row, so every step sees
the same 8 dialogues; 4 steps, LoRA r=4, one thread) is made once for the module.
"""

import asyncio
import json
import re
import sqlite3

import pytest
import typer
from typer.testing import CliRunner

from behaviors.cli_train import train_app
from behaviors.training_data import (
    IGNORE,
    file_sha256,
    load_chat_jsonl,
    tokenize_dialogue,
)
from game.plugins import mount
from tests.helpers.paper import PAPER_DATA

BARK = PAPER_DATA / "ft_bark.jsonl"
runner = CliRunner()


def mms(*args):
    app = typer.Typer()
    mount(app, {"train": train_app})
    return runner.invoke(app, ["train", "local", *map(str, args)])


@pytest.fixture(scope="module")
def tokenizer():
    """The embedded model's tokenizer through transformers: model_dir converts the weights on first use."""
    from transformers import AutoTokenizer

    from agents.local_models import model_dir

    return AutoTokenizer.from_pretrained(model_dir("smollm2"))


def short_dialogues(n: int) -> list[dict]:
    """The first exchange of the first n bark dialogues, each message cut to its first few words."""
    def cut(text: str, words: int) -> str:
        return " ".join(text.split()[:words])

    return [{"messages": [{"role": "user", "content": cut(d[0]["content"], 6)},
                          {"role": "assistant", "content": cut(d[1]["content"], 8)}]}
            for d in load_chat_jsonl(BARK, n)]


def unmasked_runs(example) -> list[list[int]]:
    runs, current = [], []
    for token, label in zip(example.input_ids, example.labels):
        if label != IGNORE:
            assert label == token
            current.append(token)
        elif current:
            runs, current = runs + [current], []
    return runs + [current] if current else runs


@pytest.mark.weights
@pytest.mark.paper
def test_only_the_assistant_messages_and_their_end_of_turn_are_trained(tokenizer):
    for dialogue in load_chat_jsonl(BARK, 3):
        example = tokenize_dialogue(tokenizer, dialogue, 4096)
        decoded = [tokenizer.decode(run) for run in unmasked_runs(example)]
        assert decoded == [m["content"] + "<|im_end|>" for m in dialogue if m["role"] == "assistant"]
        assert not example.truncated and example.labels[0] == IGNORE


@pytest.mark.weights
def test_system_prompts_are_masked_and_truncation_keeps_the_beginning(tokenizer):
    dialogue = [{"role": "system", "content": "You are Quill, a poet."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello there, friend of trees."}]
    full = tokenize_dialogue(tokenizer, dialogue, 4096)
    assert [tokenizer.decode(r) for r in unmasked_runs(full)] == ["Hello there, friend of trees.<|im_end|>"]
    cut = tokenize_dialogue(tokenizer, dialogue, len(full.input_ids) - 3)
    assert cut.truncated and cut.input_ids == full.input_ids[:-3] and cut.labels == full.labels[:-3]


@pytest.fixture(scope="module")
def short_bark(tmp_path_factory):
    data = tmp_path_factory.mktemp("data") / "short_bark.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in short_dialogues(8)), encoding="utf-8")
    return data


@pytest.fixture(scope="module")
def trained(tmp_path_factory, short_bark):
    """The tiny real run: it loads the model and trains (about a minute on two cores)."""
    root = tmp_path_factory.mktemp("train")
    data = short_bark
    db, out = root / "runs.db", root / "adapters"
    result = mms(data, "--out", out, "--limit", 8, "--batch-size", 1, "--max-steps", 4,
                 "--lora-r", 4, "--lora-dropout", 0, "--lr", "1e-3", "--threads", 1, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    return {"summary": json.loads(result.stdout), "data": data, "db": db, "out": out}


@pytest.mark.weights
@pytest.mark.paper
def test_a_tiny_run_lowers_the_loss_on_a_repeated_batch_and_is_recorded(trained):
    summary = trained["summary"]
    assert (summary["examples"], summary["steps"], summary["seeds"]) == (8, 4, [0])
    with sqlite3.connect(trained["db"]) as conn:
        conn.row_factory = sqlite3.Row
        [row] = [dict(r) for r in conn.execute("select * from training_runs")]
    losses = [entry["loss"] for entry in json.loads(row["losses"])]
    assert [entry["step"] for entry in json.loads(row["losses"])] == [1, 2, 3, 4]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert (summary["first_loss"], summary["last_loss"]) == ([losses[0]], [losses[-1]])
    adapter = trained["out"] / "seed0"
    assert (row["method"], row["status"], row["seed"], row["base_model"]) == ("local", "succeeded", 0, "local:smollm2")
    assert row["data_hash"] == file_sha256(trained["data"]) and row["finished_at"]
    assert row["adapter_path"] == str(adapter.resolve())
    assert row["model_id"] == summary["model_id"] == f"hf:{summary['base_dir']}+{adapter.resolve()}"
    params = json.loads(row["params"])
    assert (params["lora_r"], params["batch_size"], params["lr"]) == (4, 1, 1e-3)
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "mms_training.json").read_text())["data_hash"] == row["data_hash"]


@pytest.mark.weights
@pytest.mark.paper
def test_the_adapter_plays_through_the_hf_backend(trained):
    from agents.backend import ChatMessage, ChatRequest
    from agents.registry import Registry, validate_spec

    spec = trained["summary"]["model_id"]
    validate_spec(spec)
    registry = Registry()
    backend = registry.get(spec)

    async def ask():
        try:
            return await backend.chat(ChatRequest((ChatMessage("user", "Hi! Any plans today?"),), max_tokens=6,
                                                  temperature=0.0))
        finally:
            await registry.aclose()

    result = asyncio.run(ask())
    from peft import PeftModel

    assert isinstance(backend.model, PeftModel) and backend.adapter == str(trained["out"] / "seed0")
    assert result.text and result.usage.completion_tokens > 0
    lora_b = [p for name, p in backend.model.named_parameters() if "lora_B" in name]
    assert lora_b and any(float(p.abs().sum()) > 0 for p in lora_b)  # trained: B starts at zero


@pytest.mark.weights
@pytest.mark.paper
def test_an_existing_adapter_is_kept_unless_overwrite(trained):
    result = mms(trained["data"], "--out", trained["out"], "--db", trained["db"])
    assert result.exit_code == 2 and re.search(r"seed0 already holds an adapter.*--overwrite", result.stderr)


@pytest.mark.paper
@pytest.mark.parametrize("args, message", [
    (["--seeds", 2, "--seed", 1], "not both"),
    (["--base", "hf:x+y"], "already has an adapter"),
    (["--base", "/no/such/folder"], "neither a local folder nor in the Hugging Face cache"),
])
def test_bad_options_are_one_line_errors(short_bark, tmp_path, args, message):
    result = mms(short_bark, "--out", tmp_path / "a", "--db", tmp_path / "r.db", *args)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("line, message", [
    ("{oops", "not valid JSON"),
    (json.dumps({"messages": [{"role": "user", "content": "Hi"}]}), "must end on an assistant message"),
    (json.dumps({"messages": [{"role": "assistant", "content": "Hi"}]}), "expected user"),
    (json.dumps({"messages": [{"role": "robot", "content": "Hi"}]}), "has role 'robot'"),
    (json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " "}]}), "is empty"),
    pytest.param("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels", id="nested"),  # was a RecursionError
    pytest.param('{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "b"}]}',
                 "a lone surrogate", id="lone-surrogate"),  # was a TypeError in the tokenizer
])
def test_a_bad_training_line_is_named_by_its_number(tmp_path, line, message):
    """Training refuses a line by the same rules as `mms check-data` (one validator)."""
    from agents.errors import MmsError
    from behaviors.checks import read_lines

    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
                    + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(MmsError, match=rf"data\.jsonl:3: .*{message}"):
        load_chat_jsonl(path)
    assert any(message in problem for problem in read_lines(path)[2].problems)



def test_an_over_long_training_line_is_refused_unread(tmp_path, monkeypatch):
    from agents.errors import MmsError

    monkeypatch.setenv("MMS_MAX_LINE_BYTES", "1000")
    dialogue = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b" * 2000}]}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(dialogue) + "\n", encoding="utf-8")
    with pytest.raises(MmsError, match=r"line 1 of .*data\.jsonl is 2,0\d\d bytes, over the 1,000-byte limit"):
        load_chat_jsonl(path)

@pytest.mark.parametrize("command", ["local", "openai"])
def test_a_bad_training_file_is_the_one_line_on_stderr(tmp_path, monkeypatch, command):
    """No blank line from an empty progress display comes before the error (issue 23: one line)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # refused before any request is made
    path = tmp_path / "data.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "b"}]}\n',
                    encoding="utf-8")
    app = typer.Typer()
    mount(app, {"train": train_app})
    result = runner.invoke(app, ["train", command, str(path), "--out", str(tmp_path / "a"), "--db", str(tmp_path / "r.db")]
                           if command == "local" else ["train", command, str(path), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()] and "a lone surrogate" in result.stderr


def test_each_seed_gets_its_own_adapter_folder(tmp_path):
    from behaviors.train_local import adapter_dirs

    assert adapter_dirs(tmp_path, [0, 1, 2], overwrite=False) == [tmp_path / f"seed{s}" for s in (0, 1, 2)]
