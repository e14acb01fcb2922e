"""The sampler of the batching engine, on hand-made logits (no model needed)."""

import torch

from agents.batching import GenerationJob, sample


def jobs(n, **kw):
    out = [GenerationJob(prompt_ids=[1], max_new_tokens=1, seed=i, **kw) for i in range(n)]
    for j in out:
        j.start()
    return out


def test_temperature_zero_is_greedy():
    logits = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 1.0]])
    assert sample(logits, jobs(2, temperature=0.0)).tolist() == [1, 0]


def test_same_seed_same_draws_whatever_the_batch_mates():
    logits = torch.randn(1, 50)
    alone = [sample(logits, jobs(1))[0].item() for _ in range(1)]
    mates = torch.cat([logits, torch.randn(3, 50)])
    batched = sample(mates, jobs(4))[0].item()
    assert alone[0] == batched


def test_tiny_top_p_keeps_only_the_most_likely_token():
    logits = torch.tensor([[1.0, 2.0, 4.0, 3.0]] * 8)
    assert set(sample(logits, [j for j in jobs(8, top_p=0.01)]).tolist()) == {2}


def test_sampling_follows_the_distribution():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]]))
    counts = torch.zeros(3)
    job = jobs(1)[0]
    for _ in range(4000):
        counts[sample(logits, [job])[0]] += 1
    assert torch.allclose(counts / counts.sum(), torch.tensor([0.7, 0.2, 0.1]), atol=0.03)


def test_top_p_cut_renormalises_over_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    job = jobs(1, top_p=0.8)[0]
    counts = torch.zeros(4)
    for _ in range(3000):
        counts[sample(logits, [job])[0]] += 1
    assert counts[2] == 0 and counts[3] == 0
    assert abs(counts[0] / counts.sum() - 0.5 / 0.8) < 0.04
