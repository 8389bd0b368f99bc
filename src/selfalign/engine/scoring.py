"""Log-probability of options after a prompt, in batched forward passes (the engine's second primitive)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from selfalign.engine import head
from selfalign.engine.guards import Guard
from selfalign.engine.types import OptionScore


def encode_pair(
    guard: Guard, prompt: str, option: str, allow_special: bool, as_text: bool = False
) -> tuple[list[int], list[int]]:
    """Split ``prompt + option`` into context and continuation ids.

    As in lm-evaluation-harness: encode the whole text and the context; when the context's ids are a prefix
    of the whole, the rest is the continuation (the tokenisation the model would really see). If a token
    merges across the boundary, fall back to encoding the two parts separately. The context starts the
    sequence (the model's BOS, if it has that rule); the continuation never carries one.
    """
    ctx = guard.encode(prompt, allow_special=allow_special, as_text=as_text)
    whole = guard.encode(prompt + option, allow_special=allow_special, as_text=as_text)
    if whole[: len(ctx)] == ctx and len(whole) > len(ctx):
        return ctx, whole[len(ctx) :]
    cont = guard.encode(option, allow_special=allow_special, bos=False, as_text=as_text)
    if not cont:
        raise ValueError(f"option {option!r} encodes to no tokens")
    return ctx, cont


def score_batch(model: Any, pairs: list[tuple[list[int], list[int]]], pad_id: int) -> list[OptionScore]:
    """Left-pad ``ctx + cont`` so every continuation ends at the right edge; keep only those logits."""
    device = next(model.parameters()).device
    seqs = [ctx + cont for ctx, cont in pairs]
    width = max(len(s) for s in seqs)
    keep = max(len(cont) for _, cont in pairs)
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
            use_cache=False,
            logits_to_keep=head.predicting(width, keep, device),
        ).logits
    logp = torch.log_softmax(head.predicting_rows(logits, width, keep).float(), dim=-1).cpu()
    # column j predicts token width-keep+j; a continuation of n tokens is read from the last n columns.
    return [_option_score(logp[i], cont, keep) for i, (_, cont) in enumerate(pairs)]


# Rows per forward are capped so a batch's kept logits (rows x continuation x vocabulary, fp32) stay near this
# size: the critic's long continuations at Gemma's 262k vocabulary made 32-row batches of 2.7 GB, and scoring
# ran 2.1x slower than in 6-row batches (bench/peers.py scoring row, docs/PERFORMANCE.md). Short options (A/B
# labels) are untouched: 512 MB holds 512 one-token rows.
LOGITS_BYTES = 512 << 20


def rows_within(keep: int, vocab: int, rows: int) -> int:
    """``rows``, lowered so ``rows x keep x vocab`` fp32 logits fit :data:`LOGITS_BYTES` (at least 1)."""
    return max(1, min(rows, LOGITS_BYTES // max(1, keep * vocab * 4)))


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped longest-first so each batch pads little (order restored by the caller)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


# -- shared-prefix scoring ------------------------------------------------------------------------------
# The critic asks several options after one prompt, and its two label orders share almost the whole prompt
# (instruction, response, question). Recomputing that prompt per option and per order is most of the
# work, so contexts are grouped under a shared *stem* that runs once; each (context, option) row then runs
# only its own tail + continuation on top of a copy of the stem's KV cache.


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def plan_stems(ctxs: Sequence[Sequence[int]], rows: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Group contexts (each with ``rows[i]`` options) under shared stems: ``[(stem_len, members)]``.

    Contexts are visited in lexicographic order, so those sharing a prefix are adjacent. A context joins
    the open group when that costs fewer token positions than giving it its own stem: joining shortens the
    stem for every row already in the group, but saves computing this context's prefix again. A stem always
    leaves at least one context token to the row pass, whose logits predict the first option token.
    """
    groups: list[tuple[int, list[int], int]] = []  # (stem_len, members, rows so far)
    for i in sorted(range(len(ctxs)), key=lambda k: list(ctxs[k])):
        c = ctxs[i]
        if groups:
            s, members, n_rows = groups[-1]
            shared = min(_lcp(c[:s], ctxs[members[0]]), s, len(c) - 1)
            joined = n_rows * (s - shared) + rows[i] * (len(c) - shared)
            alone = (len(c) - 1) + rows[i]
            if shared > 0 and joined <= alone:
                groups[-1] = (shared, [*members, i], n_rows + rows[i])
                continue
        groups.append((len(c) - 1, [i], rows[i]))
    return [(s, members) for s, members, _ in groups]


def _left_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s) :] = torch.tensor(list(s), dtype=torch.long)
            mask[i, width - len(s) :] = 1
    return ids, mask


def score_shared(
    model: Any,
    pairs: Sequence[tuple[list[int], list[int]]],
    pad_id: int,
    batch_size: int,
    row_batch: int | None = None,
) -> list[OptionScore]:
    """Score ``(ctx, cont)`` pairs like :func:`score_batch`, computing each shared stem once.

    Pairs whose context has fewer than 2 tokens, or that share nothing with any other pair, go through
    :func:`score_batch` (one pass; a stem would only add a second one).
    """
    from transformers import DynamicCache

    device = next(model.parameters()).device
    row_batch = row_batch or 4 * batch_size
    if pairs:
        keep, vocab = max(len(c) for _, c in pairs), int(model.get_output_embeddings().weight.shape[0])
        batch_size, row_batch = rows_within(keep, vocab, batch_size), rows_within(keep, vocab, row_batch)
    out: list[OptionScore | None] = [None] * len(pairs)
    by_ctx: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, _) in enumerate(pairs):
        by_ctx.setdefault(tuple(ctx), []).append(i)
    ctxs = [c for c in by_ctx if len(c) >= 2]
    plain = [i for c, idx in by_ctx.items() if len(c) < 2 for i in idx]
    stems: list[tuple[list[int], list[tuple[int, list[int]]]]] = []  # (stem ids, [(pair, tail + cont)])
    for s, members in plan_stems(ctxs, [len(by_ctx[c]) for c in ctxs]):
        rows = [(p, list(ctxs[m][s:]) + pairs[p][1]) for m in members for p in by_ctx[ctxs[m]]]
        if len(rows) == 1:
            plain.append(rows[0][0])
        else:
            stems.append((list(ctxs[members[0]][:s]), rows))
    for idx in batches_by_length([len(pairs[i][0]) + len(pairs[i][1]) for i in plain], batch_size):
        for k, score in zip(idx, score_batch(model, [pairs[plain[k]] for k in idx], pad_id), strict=True):
            out[plain[k]] = score
    for sidx in batches_by_length([len(s) for s, _ in stems], batch_size):
        stem_ids, stem_mask = _left_pad([stems[k][0] for k in sidx], pad_id)
        with torch.inference_mode():
            cache = model(
                input_ids=stem_ids.to(device),
                attention_mask=stem_mask.to(device),
                position_ids=(stem_mask.cumsum(-1) - 1).clamp(min=0).to(device),
                use_cache=True,
                logits_to_keep=head.last(),
            ).past_key_values
        kv = [(layer.keys, layer.values) for layer in cache.layers]
        rows = [(j, p, seq) for j, k in enumerate(sidx) for p, seq in stems[k][1]]
        for ridx in batches_by_length([len(seq) for _, _, seq in rows], row_batch):
            chunk = [rows[r] for r in ridx]
            sel = torch.tensor([j for j, _, _ in chunk], dtype=torch.long)
            ids, mask = _left_pad([seq for _, _, seq in chunk], pad_id)
            # Left-padding the rows leaves pads between stem and tail; they are masked, and positions
            # continue from each stem's own length, so every continuation ends at the right edge.
            start = stem_mask.sum(-1)[sel].unsqueeze(1)
            positions = (start + mask.cumsum(-1) - 1).clamp(min=0)
            keep = max(len(pairs[p][1]) for _, p, _ in chunk)
            with torch.inference_mode():
                logits = model(
                    input_ids=ids.to(device),
                    attention_mask=torch.cat([stem_mask[sel], mask], dim=1).to(device),
                    position_ids=positions.to(device),
                    past_key_values=DynamicCache([(k[sel.to(k.device)], v[sel.to(v.device)]) for k, v in kv],
                                                 config=model.config),
                    use_cache=True,
                    logits_to_keep=head.predicting(ids.shape[1], keep, device),
                ).logits  # fmt: skip
            logp = torch.log_softmax(head.predicting_rows(logits, ids.shape[1], keep).float(), dim=-1).cpu()
            for r, (_, p, _) in enumerate(chunk):
                out[p] = _option_score(logp[r], pairs[p][1], keep)
    return [s for s in out if s is not None]


def _option_score(logp: torch.Tensor, cont: list[int], keep: int) -> OptionScore:
    """Score of ``cont`` from the ``keep`` log-prob rows that predict the last ``keep`` tokens of a
    right-aligned sequence (``cont`` is its last ``len(cont) <= keep`` tokens)."""
    n = len(cont)
    target = torch.tensor(cont, dtype=torch.long).unsqueeze(1)
    tok = logp[keep - n : keep].gather(1, target).squeeze(1)
    total = float(tok.sum())
    return OptionScore(sum=total, mean=total / n, n_tokens=n, token_logprobs=tuple(tok.tolist()))
