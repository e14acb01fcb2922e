"""Packed training rows on the study's real dialogues: what they hold, and that they compute the same loss.

A packed row must give each dialogue exactly the loss it has alone (positions restart, attention
stays inside it); a run interrupted and resumed from its checkpoint must end where the
uninterrupted run ends.
"""

import json
import random
from pathlib import Path

import pytest

from behaviors.packing import fill_ratio, pack_examples
from behaviors.training_data import IGNORE, Example, load_chat_jsonl, tokenize_dialogues
from tests.helpers.paper import PAPER_DATA

BARK = PAPER_DATA / "ft_bark.jsonl"


@pytest.fixture(scope="module")
def tokenizer():
    """The embedded model's tokenizer through transformers: model_dir converts the weights on first use."""
    from transformers import AutoTokenizer

    from agents.local_models import model_dir

    return AutoTokenizer.from_pretrained(model_dir("smollm2"))


@pytest.fixture(scope="module")
def bark_examples(tokenizer):
    return tokenize_dialogues(tokenizer, load_chat_jsonl(BARK, 60), 2048)


@pytest.mark.weights
@pytest.mark.paper
def test_every_dialogue_lands_in_exactly_one_row_and_no_row_overflows(bark_examples):
    packs = pack_examples(bark_examples, 2048, random.Random(3))
    assert all(p.tokens <= 2048 for p in packs)
    assert sorted(n for p in packs for n in p.lengths) == sorted(len(e.input_ids) for e in bark_examples)
    assert sum(p.trained_tokens for p in packs) == sum(e.trained_tokens - (e.labels[0] != IGNORE)
                                                      for e in bark_examples)
    assert fill_ratio(packs, 2048) > 0.9  # whole dialogues of ~570 tokens fill rows of 2048 well
    assert pack_examples(bark_examples, 2048, random.Random(3)) == packs  # a pure function of the seed


def test_targets_are_shifted_inside_each_dialogue_only():
    a = Example([1, 2, 3], [IGNORE, 2, 3])
    b = Example([4, 5], [IGNORE, 5])
    [pack] = pack_examples([a, b], 8, random.Random(0))
    order = [a, b] if pack.lengths == [3, 2] else [b, a]
    assert pack.input_ids == order[0].input_ids + order[1].input_ids
    assert pack.positions() == [p for e in order for p in range(len(e.input_ids))]
    assert pack.segments() == [(0, len(order[0].input_ids)), (len(order[0].input_ids), 5)]
    expected = [t for e in order for t in e.labels[1:] + [IGNORE]]  # the last token of each predicts nothing
    assert pack.targets == expected


def test_a_dialogue_longer_than_a_row_is_cut_to_the_row():
    long = Example(list(range(10)), [IGNORE] + list(range(1, 10)), truncated=True)
    [pack] = pack_examples([long], 6, random.Random(0))
    assert pack.input_ids == list(range(6)) and pack.targets == [1, 2, 3, 4, 5, 6]  # the cut token is still a target


@pytest.mark.weights
@pytest.mark.paper
def test_a_packed_row_gives_each_dialogue_its_own_loss(bark_examples):
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    from agents.local_models import model_dir
    from behaviors.packed_model import pack_tensors, register_packed_attention, summed_loss

    examples = bark_examples[:4]
    [pack] = pack_examples(examples, 4096, random.Random(1))
    assert len(pack.lengths) == 4
    packed_model = AutoModelForCausalLM.from_pretrained(model_dir(), dtype=torch.float32,
                                                        attn_implementation=register_packed_attention())
    plain = AutoModelForCausalLM.from_pretrained(model_dir(), dtype=torch.float32, attn_implementation="sdpa")
    with torch.no_grad():
        packed = float(summed_loss(packed_model, pack_tensors(pack, "cpu")))
        alone = sum(float(F.cross_entropy(plain(input_ids=torch.tensor([e.input_ids])).logits[0, :-1],
                                          torch.tensor(e.labels[1:]), ignore_index=IGNORE, reduction="sum"))
                    for e in examples)
    assert packed == pytest.approx(alone, rel=1e-5)


def _tiny_data(path: Path, n: int = 6) -> Path:
    def cut(text: str, words: int) -> str:
        return " ".join(text.split()[:words])

    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": cut(d[0]["content"], 8)},
                                                     {"role": "assistant", "content": cut(d[1]["content"], 10)}]})
                            + "\n" for d in load_chat_jsonl(BARK, n)), encoding="utf-8")
    return path


class _StopAfter:
    def __init__(self, step: int):
        self.at = step

    def start(self, seed, total_steps, done):
        pass

    def step(self, seed, step, loss, tokens_per_s):
        if step == self.at:
            raise KeyboardInterrupt


@pytest.mark.weights
@pytest.mark.paper
def test_an_interrupted_run_resumed_from_its_checkpoint_ends_like_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    from behaviors.train_local import LocalTrainConfig, train_local
    from game.store import Store

    data = _tiny_data(tmp_path / "tiny.jsonl")
    config = LocalTrainConfig(epochs=1, max_steps=4, batch_size=1, max_length=64, lora_r=2, lr=1e-3,
                              val_fraction=0.0, checkpoint_every=1)
    with Store(tmp_path / "runs.db") as store:
        whole = train_local(store, data, "local:smollm2", tmp_path / "whole", config, [0], threads=1)
        with pytest.raises(KeyboardInterrupt):
            train_local(store, data, "local:smollm2", tmp_path / "cut", config, [0], threads=1,
                        progress=_StopAfter(2))
        assert (tmp_path / "cut" / "seed0.checkpoint" / "state.pt").is_file()
        resumed = train_local(store, data, "local:smollm2", tmp_path / "cut", config, [0], threads=1, resume=True)
        rows = {r["id"]: r for r in store.db["training_runs"].rows}
    assert [e["loss"] for e in resumed.adapters[0].losses] == [e["loss"] for e in whole.adapters[0].losses]
    a = load_file(str(tmp_path / "whole" / "seed0" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "seed0" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    assert resumed.adapters[0].run_id != whole.adapters[0].run_id
    assert rows[resumed.adapters[0].run_id]["status"] == "succeeded"  # the cancelled run, reopened and finished
    assert not (tmp_path / "cut" / "seed0.checkpoint").exists()  # a finished run leaves no checkpoint behind


@pytest.mark.weights
@pytest.mark.paper
def test_a_checkpoint_from_other_settings_is_refused(tmp_path):
    from agents.errors import MmsError
    from behaviors.train_local import LocalTrainConfig, train_local
    from game.store import Store

    data = _tiny_data(tmp_path / "tiny.jsonl")
    config = LocalTrainConfig(epochs=1, max_steps=3, batch_size=1, max_length=64, lora_r=2, val_fraction=0.0,
                              checkpoint_every=1)
    with Store(tmp_path / "runs.db") as store:
        with pytest.raises(KeyboardInterrupt):
            train_local(store, data, "local:smollm2", tmp_path / "a", config, [0], threads=1, progress=_StopAfter(1))
        other = LocalTrainConfig(**{**config.__dict__, "lr": 5e-4})
        with pytest.raises(MmsError, match="other data or settings"):
            train_local(store, data, "local:smollm2", tmp_path / "a", other, [0], threads=1, resume=True)
