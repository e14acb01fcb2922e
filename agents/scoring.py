"""Probabilities of a fixed set of answers, without sampling: the mathematics.

For a multiple-choice question the interesting number is the model's probability of each
option, not one sampled answer. Backends that can say it implement `ScoringBackend.score`
(agents/backend.py); this module holds what they compute with:

- **in-process models**: exact. Each option is scored as the whole assistant reply — the
  option's tokens followed by the chat template's end-of-turn marker, so "bar" does not also
  collect the mass of "bark". The prompt and a prefix tree of all the options go through the
  model as one sequence under a custom attention mask: one forward pass per question, shared
  option prefixes computed once (`score_tree`, run on the model's own worker thread). The sum
  of log-probabilities per option is normalised over the options (a softmax), giving a
  distribution that sums to 1 whatever mass the model puts on answers outside the list.
- **servers that return prompt logprobs** (vLLM's `prompt_logprobs`): exact too. Each option is
  sent as the assistant's reply and the server gives back every prompt token's log-probability;
  `reply_logprob` sums those of the reply and its end-of-turn marker, the same quantity as
  in-process, normalised over the options the same way.
- **other OpenAI-compatible servers**: `top_logprobs` of the first answer token, matched to
  options (exactly, or as the unambiguous start of one option) by `match_top_logprobs`. This
  is a different quantity: the first token's share, not the whole answer's.

`score_options` is the one entry point for callers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .backend import ChatMessage, OptionScores, ScoringUnavailable, can_score

LOGPROBS = "logprobs"
TOP_LOGPROBS = "top_logprobs"
# The largest logits tensor (option-tree nodes x vocabulary, float32) one pass may build;
# more options than that are scored in several passes.
MAX_LOGIT_BYTES = 768 * 1024 * 1024
# Below this share of the top-k mass landing on the options, top_logprobs says too little.
MIN_COVERAGE = 0.5
TOP_K = 20


async def score_options(backend, messages: Sequence[ChatMessage], options: Sequence[str],
                        method: str | None = None) -> OptionScores:
    """The distribution over `options` as the reply to `messages`.

    Raises `ScoringUnavailable` (with the reason) when the backend cannot score, and
    `BackendError` when it can but the call failed for good.
    """
    if len(set(options)) != len(options) or not options:
        raise ValueError("options must be distinct and not empty")
    if not can_score(backend):
        raise ScoringUnavailable(f"{getattr(backend, 'spec', 'this backend')} cannot score options")
    if method is None:
        return await backend.score(tuple(messages), tuple(options))
    return await backend.score(tuple(messages), tuple(options), method)


# -- in-process: exact ----------------------------------------------------------------------


def continuation_ids(tokenizer, messages: Sequence[ChatMessage], options: Sequence[str]) -> tuple[list[int], list[list[int]]]:
    """Token ids of the prompt (up to the assistant's turn) and of each option as the full reply."""
    chat = [m.as_dict() for m in messages]
    prompt = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    end = _end_of_turn(tokenizer, chat, prompt)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    conts = [tokenizer(option + end, add_special_tokens=False)["input_ids"] for option in options]
    return list(prompt_ids), [list(c) for c in conts]


def _end_of_turn(tokenizer, chat: list[dict], prompt: str) -> str:
    """What the chat template writes after an assistant reply ("<|im_end|>"), found by rendering one."""
    probe = "Zq"
    full = tokenizer.apply_chat_template(chat + [{"role": "assistant", "content": probe}], tokenize=False)
    if full.startswith(prompt) and full[len(prompt):].startswith(probe):
        end = full[len(prompt) + len(probe):].rstrip()
        if end:
            return end
    return tokenizer.eos_token or ""


def score_tree(model, tokenizer, messages: Sequence[ChatMessage], options: Sequence[str]) -> OptionScores:
    """Exact scores of every option (blocking: run it where the model lives, its worker thread).

    The prompt and a prefix tree of the options' tokens go through the model as one sequence:
    a custom attention mask lets each tree node see the prompt and its own ancestors only, and
    explicit positions put every node right after the prompt, so each option is scored exactly
    as if it followed the prompt alone. Shared prefixes ("1", "10", "100") are computed once.
    """
    prompt_ids, conts = continuation_ids(tokenizer, messages, options)
    if any(not c for c in conts):
        raise ValueError("an option tokenises to nothing")
    vocab = model.get_output_embeddings().weight.shape[0]
    max_nodes = max(1, MAX_LOGIT_BYTES // (vocab * 4))
    totals: list[float] = []
    for group in _groups(conts, max_nodes):
        totals += _score_tree(model, prompt_ids, group)
    return OptionScores(tuple(options), tuple(totals), normalise(totals), LOGPROBS)


def _groups(conts: list[list[int]], max_nodes: int) -> list[list[list[int]]]:
    """Split the options so that no pass builds more than `max_nodes` rows of logits."""
    groups, current, size = [], [], 0
    for c in conts:
        if current and size + len(c) > max_nodes:
            groups.append(current)
            current, size = [], 0
        current.append(c)
        size += len(c)
    groups.append(current)
    return groups


def _prefix_tree(conts: list[list[int]]) -> tuple[list[int], list[int], list[list[int]]]:
    """The options as a token tree: each node's token and parent (-1: the prompt), each option's path."""
    nodes: dict[tuple[int, int], int] = {}  # (parent node, token) -> node
    parents: list[int] = []
    tokens: list[int] = []
    paths: list[list[int]] = []
    for cont in conts:
        parent, path = -1, []
        for token in cont:
            node = nodes.get((parent, token))
            if node is None:
                node = nodes[(parent, token)] = len(tokens)
                parents.append(parent)
                tokens.append(token)
            path.append(node)
            parent = node
        paths.append(path)
    return tokens, parents, paths


def _score_tree(model, prompt_ids: list[int], conts: list[list[int]]) -> list[float]:
    """log P(option) for each option: the prompt and the options' tree in one forward pass."""
    import torch

    tokens, parents, paths = _prefix_tree(conts)
    p, n = len(prompt_ids), len(tokens)
    allowed = torch.zeros((p + n, p + n), dtype=torch.bool)
    allowed[:p, :p] = torch.ones((p, p), dtype=torch.bool).tril()
    allowed[p:, :p] = True
    depth = [0] * n
    for node in range(n):  # parents always precede their children
        allowed[p + node, p + node] = True
        if parents[node] >= 0:
            allowed[p + node] |= allowed[p + parents[node]]
            depth[node] = depth[parents[node]] + 1
    positions = list(range(p)) + [p + d for d in depth]
    # Rows whose next-token logits are needed: the prompt's last token and every inner node.
    needed = sorted({p - 1} | {p + parents[node] for node in range(n) if parents[node] >= 0})
    row = {r: i for i, r in enumerate(needed)}
    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([list(prompt_ids) + tokens]),
            attention_mask=_mask_for(model, allowed)[None, None],
            position_ids=torch.tensor([positions]),
            logits_to_keep=torch.tensor(needed),
            use_cache=False,
        )
        logp = torch.log_softmax(out.logits[0].float(), dim=-1)
    totals = []
    for path in paths:
        total = 0.0
        for node in path:
            source = p - 1 if parents[node] < 0 else p + parents[node]
            total += float(logp[row[source], tokens[node]])
        totals.append(total)
    return totals


def _mask_for(model, allowed):
    """The 4D mask in the form the attention implementation takes: bool, or additive for eager."""
    import torch

    if getattr(model.config, "_attn_implementation", "sdpa") == "eager":
        dtype = next(model.parameters()).dtype
        return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return allowed


def normalise(logprobs: Sequence[float]) -> tuple[float, ...]:
    """Softmax of log-probabilities (a distribution summing to 1; uniform if all are -inf)."""
    top = max(logprobs)
    if top == -math.inf:
        return tuple(1.0 / len(logprobs) for _ in logprobs)
    weights = [math.exp(x - top) for x in logprobs]
    total = sum(weights)
    return tuple(w / total for w in weights)


# -- servers with prompt logprobs: exact ------------------------------------------------------


def reply_logprob(prefix: Sequence[int], tokens: Sequence[int], logprobs: Sequence[float | None],
                  texts: Sequence[str]) -> float | None:
    """log P(assistant reply) from a server's logprobs of the whole rendered chat.

    `prefix` is the rendering up to the assistant's turn (the generation prompt); `tokens`,
    `logprobs` and `texts` are the rendering with the reply, position by position. The reply is
    what follows the prefix, less the template's trailing whitespace after its end-of-turn marker
    (as in-process scoring strips it). None when the rendering does not begin with the prefix's
    tokens (a template that tokenises across the boundary), so the reply cannot be cut out.
    """
    n = len(prefix)
    if len(tokens) <= n or list(tokens[:n]) != list(prefix) or not len(tokens) == len(logprobs) == len(texts):
        return None
    end = len(tokens)
    while end > n and not texts[end - 1].strip():
        end -= 1
    if end == n or any(lp is None for lp in logprobs[n:end]):
        return None
    return sum(logprobs[n:end])


# -- OpenAI-compatible servers: top_logprobs --------------------------------------------------


def _key(text: str) -> str:
    return text.strip().strip(".,:;!?)(\"'*").casefold()


def match_top_logprobs(top: Sequence[tuple[str, float]], options: Sequence[str]) -> OptionScores | None:
    """Give each top token's mass to the option it names: exactly, else as the start of just one."""
    keys = [_key(o) for o in options]
    mass = [0.0] * len(options)
    for token, logprob in top:
        t = _key(token)
        if not t:
            continue
        exact = [i for i, k in enumerate(keys) if k == t]
        hits = exact or [i for i, k in enumerate(keys) if k.startswith(t)]
        if len(hits) == 1:
            mass[hits[0]] += math.exp(logprob)
    coverage = sum(mass)
    if coverage <= 0 or coverage < MIN_COVERAGE * sum(math.exp(lp) for _, lp in top):
        return None
    logprobs = tuple(math.log(m) if m > 0 else -math.inf for m in mass)
    return OptionScores(tuple(options), logprobs, tuple(m / coverage for m in mass), TOP_LOGPROBS, coverage)
