"""Log-probability of options after a prompt, in batched forward passes (the engine's second primitive)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from selfalign.engine.guards import Guard
from selfalign.engine.types import OptionScore


def encode_pair(guard: Guard, prompt: str, option: str, allow_special: bool) -> tuple[list[int], list[int]]:
    """Split ``prompt + option`` into context and continuation ids.

    As in lm-evaluation-harness: encode the whole text and the context; when the context's ids are a prefix
    of the whole, the rest is the continuation (the tokenisation the model would really see). If a token
    merges across the boundary, fall back to encoding the two parts separately.
    """
    ctx = guard.encode(prompt, allow_special=allow_special)
    whole = guard.encode(prompt + option, allow_special=allow_special)
    if whole[: len(ctx)] == ctx and len(whole) > len(ctx):
        return ctx, whole[len(ctx) :]
    cont = guard.encode(option, allow_special=allow_special)
    if not cont:
        raise ValueError(f"option {option!r} encodes to no tokens")
    return ctx, cont


def score_batch(model: Any, pairs: list[tuple[list[int], list[int]]], pad_id: int) -> list[OptionScore]:
    """Left-pad ``ctx + cont`` so every continuation ends at the right edge; keep only those logits."""
    device = next(model.parameters()).device
    seqs = [ctx + cont for ctx, cont in pairs]
    width = max(len(s) for s in seqs)
    keep = max(len(cont) for _, cont in pairs) + 1
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        input_ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            logits_to_keep=keep,
        ).logits.float()
    logp = torch.log_softmax(logits, dim=-1).cpu()
    scores = []
    for i, (_, cont) in enumerate(pairs):
        n = len(cont)
        # logits at column j predict token width-keep+j+1; continuation occupies the last n columns of ids.
        rows = logp[i, keep - 1 - n : keep - 1]
        target = torch.tensor(cont, dtype=torch.long)
        tok = rows.gather(1, target.unsqueeze(1)).squeeze(1)
        total = float(tok.sum())
        scores.append(OptionScore(sum=total, mean=total / n, n_tokens=n, token_logprobs=tuple(tok.tolist())))
    return scores


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped longest-first so each batch pads little (order restored by the caller)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
