"""The training forward pass over packed rows: attention per dialogue, logits only where trained.

Two savings over `model(input_ids).logits`: attention runs causally inside each dialogue of a
pack (an attention implementation registered with transformers, which reads the segment bounds
passed through the forward call), so no compute goes to attention across dialogues or to
padding; and the vocabulary projection — 49k × 576 per position for SmolLM2 — runs only at the
positions whose next token is trained, about a third of them in the study's dialogues.
"""

from __future__ import annotations

from typing import Any

from .packing import Pack
from .training_data import IGNORE

ATTENTION = "mms_packed"
_registered = False


def register_packed_attention() -> str:
    """Make `attn_implementation="mms_packed"` known to transformers (idempotent); return its name."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface, AttentionMaskInterface

        AttentionInterface.register(ATTENTION, _segment_attention)
        AttentionMaskInterface.register(ATTENTION, _no_mask)
        _registered = True
    return ATTENTION


def _no_mask(*args, **kwargs) -> None:
    """Causality is applied per segment inside the attention itself: no dense mask is built."""
    return None


def _segment_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                       is_causal: bool | None = None, **kwargs) -> tuple[Any, None]:
    """Causal scaled-dot-product attention within each `(start, end)` of `mms_segments`.

    query: (batch, heads, tokens, dim); key/value may have fewer (grouped) heads. Without
    segments the whole row is one causal segment, so the model also works outside training.
    """
    import torch
    import torch.nn.functional as F

    segments = kwargs.get("mms_segments") or [(0, query.shape[2])]
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    drop = dropout if module.training else 0.0
    parts = [F.scaled_dot_product_attention(query[:, :, s:e], key[:, :, s:e], value[:, :, s:e],
                                            dropout_p=drop, is_causal=True, scale=scaling)
             for s, e in segments]
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
    return out.transpose(1, 2).contiguous(), None


def pack_tensors(pack: Pack, device) -> dict[str, Any]:
    import torch

    return {
        "input_ids": torch.tensor([pack.input_ids], device=device),
        "position_ids": torch.tensor([pack.positions()], device=device),
        "targets": torch.tensor(pack.targets, device=device),
        "segments": pack.segments(),
    }


def summed_loss(model, batch: dict[str, Any]):
    """Sum of the token cross-entropies at the trained positions of one pack (a 0-d tensor)."""
    import torch.nn.functional as F

    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = core.get_decoder()(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                                mms_segments=batch["segments"], use_cache=False).last_hidden_state[0]
    targets = batch["targets"]
    keep = targets != IGNORE
    logits = core.get_output_embeddings()(hidden[keep])
    return F.cross_entropy(logits.float(), targets[keep], reduction="sum")
