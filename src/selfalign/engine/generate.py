"""Batched generation with stop *strings* matched on decoded text, and batch-independent seeded sampling."""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteria,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from selfalign.engine import head_shortlist
from selfalign.engine.batch import Live, Stems, admit, merge
from selfalign.engine.guards import Guard
from selfalign.engine.types import Generation, GenParams, StopReason


def row_seed(seed: int, prompt: str, repeat: int) -> int:
    """Seed of one row: the same prompt with the same seed samples the same text, whatever its batch."""
    digest = hashlib.sha256(f"{seed}\x00{repeat}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


# Refill when at least 1/REFILL_SHARE of the slots are free: each refill is one extra prefill call and one
# copy of the batch's KV cache, so a few rows at a time rather than one.
REFILL_SHARE = 8

# Candidates examined for nucleus sampling before falling back to a full-vocabulary sort (exact either way).
NUCLEUS_WINDOW = 1024


def nucleus(
    scores: torch.Tensor, temperature: float, top_k: int, top_p: float
) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
    """Candidate ids, their sampling probabilities (0 outside the nucleus) and, per row, whether the
    candidates cover HF's nucleus (temperature, then top-k, then top-p), read from the largest logits."""
    scaled = scores / temperature
    if top_k > 0:
        vals, idx = scaled.topk(min(top_k, scaled.shape[-1]))
        norm = torch.logsumexp(vals, dim=-1, keepdim=True)
        vals, idx = vals[:, :NUCLEUS_WINDOW], idx[:, :NUCLEUS_WINDOW]
    else:
        vals, idx = scaled.topk(min(NUCLEUS_WINDOW, scaled.shape[-1]))
        norm = torch.logsumexp(scaled, dim=-1, keepdim=True)
    mass = torch.exp(vals - norm)
    above = mass.cumsum(dim=-1) - mass  # mass ranked above each candidate
    kept = torch.softmax(vals.masked_fill(above >= top_p, float("-inf")), dim=-1)
    return idx, kept, (mass.sum(dim=-1) >= top_p).tolist()


class RowSampler(LogitsProcessor):
    """Sample each row with its own generator (HF's order: temperature, top-k, then top-p).

    HF's sampler draws from one global RNG, so a row's sample would depend on its batch-mates; per-row
    generators make generation reproducible under re-batching and resume. As a logits processor it forces
    the drawn token (HF then runs greedy on top), which lets tests compare against ``model.generate``.
    """

    def __init__(self, seeds: Sequence[int], params: GenParams, device: torch.device) -> None:
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self.temperature, self.top_k, self.top_p = params.temperature, params.top_k, params.top_p
        warpers: list[LogitsProcessor] = [TemperatureLogitsWarper(params.temperature)]
        if params.top_k > 0:
            warpers.append(TopKLogitsWarper(params.top_k))
        if params.top_p < 1.0:
            warpers.append(TopPLogitsWarper(params.top_p))
        self.warpers = LogitsProcessorList(warpers)

    def pick(self, input_ids: torch.Tensor, scores: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """One token per row; ``rows[i]`` names the generator of batch row ``i``.

        HF's top-p sorts the whole vocabulary of every row (~100 ms a step at batch 32 on a 49k vocabulary).
        Here the nucleus is read from the ``NUCLEUS_WINDOW`` largest logits: when their mass reaches
        ``top_p`` the nucleus lies inside them (every token outside has at least that much mass above it),
        so the kept set is HF's; a row whose window falls short takes HF's full path.
        """
        scores = scores.float()
        if self.top_p >= 1.0:
            probs = torch.softmax(self.warpers(input_ids, scores), dim=-1)
            return torch.cat([torch.multinomial(probs[i], 1, generator=self.generators[r])
                              for i, r in enumerate(rows)])  # fmt: skip
        idx, kept, covered = nucleus(scores, self.temperature, self.top_k, self.top_p)
        picks = []
        for i, r in enumerate(rows):
            if covered[i]:
                picks.append(idx[i, torch.multinomial(kept[i], 1, generator=self.generators[r])])
            else:
                full = torch.softmax(self.warpers(input_ids[i : i + 1], scores[i : i + 1]), dim=-1)[0]
                picks.append(torch.multinomial(full, 1, generator=self.generators[r]))
        return torch.cat(picks)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        picks = self.pick(input_ids, scores, range(scores.shape[0]))
        forced = torch.full_like(scores, float("-inf"))
        forced.scatter_(1, picks.unsqueeze(1), 0.0)
        return forced


class StopStrings(StoppingCriteria):
    """Per-row stop on decoded generated text (never on a token id), plus EOS bookkeeping.

    Only the generated part is decoded, so a stop string inside the prompt never fires; ``:`` or ``###``
    inside an answer do not stop it unless they are themselves stop strings.
    """

    def __init__(self, guard: Guard, stops: Sequence[str], prompt_len: int, eos_ids: set[int], rows: int):
        self.guard, self.stops, self.prompt_len, self.eos_ids = guard, tuple(stops), prompt_len, eos_ids
        self.window = max((len(s) for s in self.stops), default=0) + 8  # tokens: each is >= 1 char
        self.length = [None] * rows  # generated tokens kept per finished row
        self.reason: list[StopReason | None] = [None] * rows
        self.which: list[str | None] = [None] * rows

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        gen = input_ids[:, self.prompt_len :]
        done = torch.zeros(gen.shape[0], dtype=torch.bool, device=input_ids.device)
        for row in range(gen.shape[0]):
            done[row] = self.update(row, gen[row, -self.window :].tolist(), gen.shape[1])
        return done

    def update(self, row: int, tail: list[int], n: int) -> bool:
        """Record whether ``row`` is finished, given the last generated ids and how many there are."""
        if self.reason[row] is not None:
            return True
        if tail[-1] in self.eos_ids:
            self.length[row], self.reason[row] = n - 1, "eos"
            return True
        if self.stops:
            text = self.guard.decode(tail[-self.window :])
            hit = [s for s in self.stops if s in text]
            if hit:
                self.length[row], self.reason[row] = n, "stop"
                self.which[row] = min(hit, key=text.index)
                return True
        return False


def decode(
    model: Any,
    encoded: Sequence[list[int]],
    seeds: Sequence[int],
    params: GenParams,
    stopper: StopStrings,
    pad_id: int,
    *,
    tick: Callable[[int, int], None] | None = None,
    steers: Sequence[Any | None] | None = None,
    refill: bool = True,
    stems: Stems | None = None,
) -> list[list[int]]:
    """Greedy or per-row-sampled decoding of ``encoded`` (in that order) in ``params.batch_size`` slots.

    ``model.generate`` keeps computing a row that has hit its stop string until the whole batch is done.
    Here a finished row leaves the batch at once (its KV rows are dropped, not recomputed) and, with
    ``refill``, waiting prompts take the free slots (prefilled on their own, then merged in: ``batch.py``),
    so the batch stays full until the queue is empty; without it a new batch starts only when the last one
    is done (the engine before continuous batching). ``stems``: shared prefixes prefilled once.
    The per-step processing is HF's: repetition penalty, then temperature / top-k / top-p, then a draw from
    the row's own generator (so a row's sample never depends on its batch-mates), or argmax when greedy.
    ``steers[r]`` (a ``selfalign.steer.RowSteer``) constrains row ``r``'s logits after the penalty; a row
    left with no allowed token ends as ``dead_end``. ``tick(rows finished, tokens)`` runs after every step.
    """
    device = next(model.parameters()).device
    gens: list[list[int]] = [[] for _ in encoded]
    if params.max_new_tokens <= 0 or not encoded:
        return gens
    penalty = LogitsProcessorList()
    if params.repetition_penalty != 1.0:
        penalty.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
    sampler = RowSampler(seeds, params, device) if params.temperature > 0 else None
    steered = steers is not None and any(s is not None for s in steers)
    slots = max(1, params.batch_size)
    queue = deque(range(len(encoded)))
    live: Live | None = None
    while True:
        free = slots - (len(live.rows) if live is not None else 0)
        if queue and (live is None or (refill and free >= max(1, slots // REFILL_SHARE))):
            idx = [queue.popleft() for _ in range(min(free, len(queue)))]
            part = admit(model, encoded, idx, pad_id, stems)
            live = part if live is None else merge([live, part])
        assert live is not None
        rows = live.rows
        # a proven pick from a cheaper head (head_shortlist), else the full head's logits: same tokens
        picks = None if steered else head_shortlist.pick(live.logits, sampler, rows, NUCLEUS_WINDOW)
        scores = penalty(live.seqs, live.logits.float()) if picks is None else live.logits
        dead: set[int] = set()
        if steered:
            assert steers is not None
            for i, r in enumerate(rows):
                if steers[r] is not None:
                    scores[i] = steers[r].constrain(gens[r], scores[i])
                    if not bool(torch.isfinite(scores[i]).any()):
                        dead.add(i)
                        scores[i] = 0.0  # any pick: it is discarded, the row ends here
        if picks is None:
            picks = sampler.pick(live.seqs, scores, rows) if sampler is not None else scores.argmax(dim=-1)
        keep = []
        for i, (r, tok) in enumerate(zip(rows, picks.tolist(), strict=True)):
            if i in dead:
                stopper.length[r], stopper.reason[r] = len(gens[r]), "dead_end"
                continue
            gens[r].append(tok)
            if steered and steers[r] is not None:  # type: ignore[index]
                steers[r].advance(tok)  # type: ignore[index]
            if not stopper.update(r, gens[r][-stopper.window :], len(gens[r])) and (
                len(gens[r]) < params.max_new_tokens
            ):
                keep.append(i)
        if tick is not None:
            tick(len(rows) - len(keep), len(rows) - len(dead))
        if not keep:
            live = None
            if not queue:
                return gens
            continue
        step_ids = picks.unsqueeze(1)
        if len(keep) < len(rows):
            step_ids = step_ids[torch.tensor(keep, dtype=torch.long, device=device)]
            live.select(keep)
        live.seqs = torch.cat([live.seqs, step_ids], dim=1)
        live.mask = torch.cat([live.mask, torch.ones_like(live.mask[:, :1])], dim=1)
        live.last_pos = live.last_pos + 1
        live.logits, live.cache = head_shortlist.step(  # type: ignore[assignment]
            model, params, input_ids=step_ids, attention_mask=live.mask, position_ids=live.last_pos,
            past_key_values=live.cache, use_cache=True)  # fmt: skip


def generate_batch(
    model: Any,
    guard: Guard,
    encoded: list[list[int]],
    seeds: list[int],
    params: GenParams,
    pad_id: int,
    eos_ids: set[int],
    tick: Callable[[int, int], None] | None = None,
    *,
    steers: Sequence[Any | None] | None = None,
    refill: bool = True,
    stems: Stems | None = None,
) -> list[Generation]:
    """``encoded`` through :func:`decode` (in this order, ``params.batch_size`` at a time), each row's
    :class:`Generation` in the same order."""
    stopper = StopStrings(guard, params.stop, 0, eos_ids, len(encoded))
    with torch.inference_mode():
        gens = decode(model, encoded, seeds, params, stopper, pad_id, tick=tick, steers=steers,
                      refill=refill, stems=stems)  # fmt: skip
    rows = zip(encoded, gens, stopper.reason, stopper.length, seeds, strict=True)
    out = [finish(guard, ids, gen, why, n, params, seed, eos_ids) for ids, gen, why, n, seed in rows]
    for g, steer in zip(out, steers or [], strict=False):
        g.steered = steer is not None
    return out


def finish(
    guard: Guard,
    prompt_ids: list[int],
    gen: list[int],
    reason: StopReason | None,
    length: int | None,
    params: GenParams,
    seed: int | None,
    eos_ids: set[int],
) -> Generation:
    """One row's :class:`Generation` from its generated ids: shared by every backend.

    ``reason``/``length``: what the decode loop recorded (``None``: it ran out of tokens). The text is cut
    at the first stop string here, on the decoded generated text, whichever backend produced the ids.
    """
    reason = reason or "length"
    if reason == "length":  # stopped by max_new_tokens (or a batch-mate's end); cut any EOS tail
        keep = next((i for i, t in enumerate(gen) if t in eos_ids), len(gen))
        reason = "eos" if keep < len(gen) else "length"
        gen = gen[:keep]
    else:
        gen = gen[:length]
    raw = guard.decode(gen)
    text, which = raw, None
    if reason == "stop" or params.stop:
        cuts = [(raw.index(s), s) for s in params.stop if s in raw]
        if cuts:
            at, which = min(cuts)
            text, reason = raw[:at], "stop"
    return Generation(
        prompt=guard.text_of(prompt_ids),
        raw=raw,
        text=text,
        stop_reason=reason,
        n_prompt_tokens=len(prompt_ids),
        n_tokens=len(gen),
        stop=which,
        seed=seed if params.temperature > 0 else None,
    )


def plan_rows(prompts: Sequence[str], seed: int) -> list[int]:
    """Per-row seeds; repeats of one prompt (best-of-N) get distinct seeds by repeat index."""
    seen: Counter[str] = Counter()
    seeds = []
    for p in prompts:
        seeds.append(row_seed(seed, p, seen[p]))
        seen[p] += 1
    return seeds
