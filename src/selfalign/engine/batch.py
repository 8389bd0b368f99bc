"""The rows of a running decode batch and their KV cache: admitted, merged, dropped (continuous batching).

Every row is *left-padded* to the batch's width: its real tokens end at the right edge, the 2-D attention
mask marks them, and explicit ``position_ids`` count only real tokens. Under that layout a row's attention
and its sliding window (Gemma 3's local layers count window *columns*) see exactly what the row would see
alone, so rows of different lengths can join a batch mid-decode by left-padding whichever side is
narrower. There are never holes inside a row: a row prefilled on a shared prefix re-feeds the few prefix
tokens that fall where its padding would be (see :func:`admit`), which costs what padding costs anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache

from selfalign.engine import head


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def fit(t: torch.Tensor, width: int) -> torch.Tensor:
    """A right-aligned ``[batch, heads, length, dim]`` tensor cut or zero-padded on the left to ``width``."""
    n = t.shape[-2]
    if n >= width:
        return t[:, :, n - width :, :]
    return torch.cat([t.new_zeros(*t.shape[:2], width - n, t.shape[-1]), t], dim=-2)


def layer_kv(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def build_cache(kv: Sequence[tuple[torch.Tensor, torch.Tensor]], width: int, config: Any) -> DynamicCache:
    """A cache of ``width`` columns from per-layer right-aligned tensors.

    Every layer is handed ``width`` columns, so a sliding-window layer counts ``width`` tokens seen and keeps
    its last ``window - 1`` itself (the zero columns it drops are never attended)."""
    return DynamicCache([(fit(k, width), fit(v, width)) for k, v in kv], config=config)


def stem_kv(model: Any, stem: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Keys and values of a shared prefix at every position of every layer (sliding layers included),
    computed once; rows slice it (:func:`admit`)."""
    device = next(model.parameters()).device
    cache = DynamicCache(config=model.config)
    for layer in cache.layers:
        if getattr(layer, "is_sliding", False):
            layer.activate_past_recording()  # keep the whole prefix: rows need columns before the window
    ids = torch.tensor([stem], dtype=torch.long, device=device)
    model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=head.last())
    return layer_kv(cache)


@dataclass
class Live:
    """Rows being decoded: ``rows[i]`` is the prompt index of batch row ``i``; ``logits`` are pending (the
    next token of each row is picked from them); ``seqs`` is each row's prompt + generated ids, left-filled
    with its own first id (a repetition penalty then sees exactly the row's tokens, whatever its padding)."""

    rows: list[int]
    logits: torch.Tensor
    cache: Any
    mask: torch.Tensor
    last_pos: torch.Tensor  # [batch, 1] position of each row's last fed token
    seqs: torch.Tensor
    config: Any = field(repr=False, default=None)

    def select(self, keep: list[int]) -> None:
        sel = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
        self.cache.batch_select_indices(sel)
        self.mask, self.last_pos, self.seqs = self.mask[sel], self.last_pos[sel], self.seqs[sel]
        self.logits = self.logits[sel]
        self.rows = [self.rows[i] for i in keep]


def _fill_left(seqs: torch.Tensor, width: int) -> torch.Tensor:
    if seqs.shape[1] >= width:
        return seqs[:, seqs.shape[1] - width :]
    return torch.cat([seqs[:, :1].expand(-1, width - seqs.shape[1]), seqs], dim=1)


def merge(parts: Sequence[Live]) -> Live:
    """One batch from several, all left-padded to the widest real extent (columns no row uses are cut)."""
    if len(parts) == 1:
        return parts[0]
    # a row's real tokens span from its first unmasked column to the right edge
    extent = max(int((p.mask.shape[1] - p.mask.int().argmax(dim=1)).max()) for p in parts)
    kv = [layer_kv(p.cache) for p in parts]
    layers = [
        (torch.cat([fit(k[i][0], extent) for k in kv]), torch.cat([fit(k[i][1], extent) for k in kv]))
        for i in range(len(kv[0]))
    ]
    masks = [p.mask[:, -extent:] if p.mask.shape[1] >= extent else
             torch.cat([p.mask.new_zeros(p.mask.shape[0], extent - p.mask.shape[1]), p.mask], 1)
             for p in parts]  # fmt: skip
    seq_w = max(p.seqs.shape[1] for p in parts)
    return Live(
        rows=[r for p in parts for r in p.rows],
        logits=torch.cat([p.logits for p in parts]),
        cache=build_cache(layers, extent, parts[0].config),
        mask=torch.cat(masks),
        last_pos=torch.cat([p.last_pos for p in parts]),
        seqs=torch.cat([_fill_left(p.seqs, seq_w) for p in parts]),
        config=parts[0].config,
    )


def left_pad(encoded: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows left-padded to one width (generation continues at the right edge), and their mask."""
    width = max(len(ids) for ids in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, ids in enumerate(encoded):
        input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        mask[i, width - len(ids) :] = 1
    return input_ids, mask


def _part(model: Any, prompts: list[list[int]], rows: list[int], pad_id: int,
          stem: tuple[int, list[tuple[torch.Tensor, torch.Tensor]]] | None) -> Live:  # fmt: skip
    """Prefill distinct ``prompts`` (``rows``: their indices), on a shared stem's KV when given."""
    device = next(model.parameters()).device
    ids, mask = left_pad(prompts, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    if stem is None:
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                    logits_to_keep=head.last())  # fmt: skip
    else:
        # Each row is laid out alone ([pad, stem, suffix], right-aligned); the stem columns that fall in
        # the first ``s`` columns come from the stem's KV, the rest of the row is fed as usual.
        s, kv = stem
        width = ids.shape[1]
        if width <= s:  # every prompt shorter than the stem + 1: nothing to share
            return _part(model, prompts, rows, pad_id, None)
        lead = [max(0, s - (width - len(p))) for p in prompts]  # stem tokens in the cached columns
        layers = [
            (torch.cat([fit(k[:, :, :n], s) for n in lead]), torch.cat([fit(v[:, :, :n], s) for n in lead]))
            for k, v in kv
        ]
        out = model(input_ids=ids[:, s:], attention_mask=mask, position_ids=positions[:, s:],
                    past_key_values=build_cache(layers, s, model.config), use_cache=True,
                    logits_to_keep=head.last())  # fmt: skip
    seqs = torch.where(mask.bool(), ids, ids.gather(1, mask.argmax(dim=1, keepdim=True)))
    return Live(rows, out.logits[:, -1, :], out.past_key_values, mask, positions[:, -1:], seqs, model.config)


def admit(model: Any, encoded: Sequence[list[int]], idx: list[int], pad_id: int, stems: Any) -> Live:
    """Prefill prompts ``idx`` into a new batch part, in that order.

    Repeats of one prompt (best-of-N) share one prompt pass (the KV of a causal prefix does not depend on
    what is sampled after it); prompts under one shared stem (``stems.of``) run only their own part on a
    copy of the stem's KV."""
    distinct: dict[tuple[int, ...], int] = {}
    inverse = [distinct.setdefault(tuple(encoded[i]), len(distinct)) for i in idx]
    firsts = list(distinct)
    groups: dict[Any, list[int]] = {}
    for u, ids in enumerate(firsts):
        groups.setdefault(stems.of(ids) if stems is not None else None, []).append(u)
    parts, order = [], []
    for key, members in groups.items():
        stem = stems.kv(model, key) if key is not None else None
        parts.append(_part(model, [list(firsts[u]) for u in members], members, pad_id, stem))
        order += members
    live = merge(parts)
    where = {u: i for i, u in enumerate(order)}
    sel = [where[u] for u in inverse]
    if sel != list(range(len(order))):
        live.cache.batch_select_indices(torch.tensor(sel, dtype=torch.long, device=live.mask.device))
        live.mask, live.last_pos, live.seqs = live.mask[sel], live.last_pos[sel], live.seqs[sel]
        live.logits = live.logits[sel]
    live.rows = list(idx)
    return live


# A shared prefix shorter than this is not worth its own pass (and a second prefill call per admission).
MIN_STEM = 32


class Stems:
    """Prefixes shared by a call's prompts (few-shot examples, a format's header), each prefilled once.

    Distinct prompts are sorted, so prompts sharing a prefix are neighbours; a run of neighbours whose
    common prefix is at least ``min_len`` tokens forms a group, its stem that common prefix (less one token
    for the shortest member: its last prompt token is fed to get its first logits). A group's KV is computed
    when its first member is admitted and kept for the call."""

    def __init__(self, encoded: Sequence[Sequence[int]], min_len: int = MIN_STEM) -> None:
        counts: dict[tuple[int, ...], int] = {}
        for ids in encoded:
            counts[tuple(ids)] = counts.get(tuple(ids), 0) + 1
        self.groups: dict[tuple[int, ...], int] = {}
        self.stems: list[list[int]] = []
        run: list[tuple[int, ...]] = []
        common = 0
        for c in [*sorted(counts), None]:
            shared = _lcp(run[-1], c) if run and c is not None else 0
            if run and c is not None and min(shared, common) >= min_len:
                run, common = [*run, c], min(shared, common)
                continue
            stem = min([common, *(len(m) - 1 for m in run)]) if run else 0
            if stem >= min_len and len(run) >= 2:  # one distinct prompt: its repeats share one pass anyway
                for m in run:
                    self.groups[m] = len(self.stems)
                self.stems.append(list(run[0][:stem]))
            if c is not None:
                run, common = [c], len(c)
        self._kv: dict[int, tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]] = {}

    def of(self, ids: Sequence[int]) -> int | None:
        return self.groups.get(tuple(ids))

    def kv(self, model: Any, key: int) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        if key not in self._kv:
            self._kv[key] = (len(self.stems[key]), stem_kv(model, self.stems[key]))
        return self._kv[key]

    def order(self, encoded: Sequence[Sequence[int]]) -> list[int]:
        """Prompt indices, a stem's members together (admitted together, one stem pass per admission),
        longest first within a group, groups in order of their longest member."""
        lead: dict[int | None, int] = {}
        for ids in encoded:
            g = self.of(ids)
            lead[g] = max(lead.get(g, 0), len(ids))

        def key(i: int) -> tuple[int, int, int]:
            g = self.of(encoded[i])
            return (-lead[g], -1 if g is None else g, -len(encoded[i]))

        return sorted(range(len(encoded)), key=key)
