"""A cheaper output head at decode, with outputs provably those of the full fp32 head.

A decode step's hidden states go through a bf16 copy of the head (:mod:`head_bounds`: a quarter of the
time here) whose logits lie within a proven radius of the exact ones; the few tokens that could matter get
fp64 logits, and from intervals that contain the full head's fp32 values the step proves which token the
engine's own path would pick:

- greedy: the argmax (its interval is above every other token's);
- sampling (``RowSampler``: temperature, then top-p from a ``NUCLEUS_WINDOW`` of top logits): the draw.
  ``torch.multinomial(p, 1)`` is ``argmax(p / q)`` with ``q`` ~ Exp(1), one per window slot, drawn from the
  row's generator whatever ``p`` is (torch's Distributions.cpp; ``tests/test_engine_head_shortlist.py``
  checks it). So the step draws ``q`` itself, bounds every window slot a nucleus token can occupy, the
  nucleus membership (the logsumexp normaliser within its worst-case fp32 error) and the window mass, and
  keeps the draw only when one token wins for every value inside the bounds.

When the proof fails for any row, the step restores the generators and runs the engine's path on the full
head's logits (computed exactly as without this module), so outputs never change. ``STATS`` counts how often.
Off (plain forward) for anything the proof does not model: a repetition penalty, steering, top-k, final
logit soft-capping, a head that is not a plain fp32 ``Linear``, a non-CPU device or reduced fp32 matmul
precision, and inside :func:`selfalign.engine.head.full_head`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from selfalign.engine import head
from selfalign.engine.head_bounds import REL, TINY, U32, Approx, HeadCopy, copy_of, f32_floor

# On by default where measured faster on Gemma 3 270M here (docs/PERFORMANCE.md, 2026-12-06): greedy yes;
# sampled draws are proven exactly too but the proof costs more than the head it saves, so off by default.
# Measured on a CPU with bf16 kernels (AVX-512; oneDNN says so): without them the bf16 copy's matmul is
# no cheaper than the fp32 head (docs/PERFORMANCE.md, "bf16 on this CPU"), so greedy stays off there.
# Outputs are the same either way; only speed depends on it.
_BF16_NATIVE = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) or torch.cuda.is_available()
_ON = {"greedy": _BF16_NATIVE, "sampled": False}
# Sampling shortlists: tokens within this many temperature units of the top (plus the radii), first the
# narrow one (most nuclei are a few tokens), the wide one when the narrow one does not hold top_p.
SAMPLE_REACH = (4.0, 10.0)
MAX_SHORTLIST = 2048  # more candidates than this: not worth proving, take the full head
# Causal LMs whose forward is exactly ``lm_head(decoder(...).last_hidden_state[:, -1:])`` at decode (others
# scale hidden states or logits: Cohere, Granite, MiniCPM...); a test checks the equality on the tiny ones.
PLAIN_HEAD = frozenset({"llama", "qwen2", "qwen3", "mistral", "gemma", "gemma3_text"})


@contextlib.contextmanager
def shortlist(on: bool, sampled: bool | None = None) -> Iterator[None]:
    """Turn the shortlist head on or off inside the block, for greedy and (unless ``sampled`` says
    otherwise) sampled decoding: the A/B of tests and ``bench/head.py``."""
    global _ON
    old, _ON = _ON, {"greedy": on, "sampled": on if sampled is None else sampled}
    try:
        yield
    finally:
        _ON = old


@dataclass
class Stats:
    steps: int = 0  # decode steps that tried a proof
    fallback_steps: int = 0  # ... and took the full head (some row unproven)
    rows: int = 0  # rows examined
    unproven_rows: int = 0
    candidates: int = 0  # shortlisted tokens, summed over examined rows

    def __str__(self) -> str:
        fb = self.fallback_steps / max(1, self.steps)
        return (f"{self.steps} steps, {fb:.1%} fell back; {self.unproven_rows}/{self.rows} rows unproven, "
                f"{self.candidates / max(1, self.rows):.1f} candidates a row")  # fmt: skip


STATS = Stats()


def reset_stats() -> None:
    global STATS
    STATS = Stats()


class Deferred:
    """A decode step's last-position logits, not computed: the hidden states and the head to apply.

    Anything that treats it as logits (``.float()``, ``torch.cat``, indexing) gets exactly the tensor the
    plain forward returns: the head on the same rows, in the same shape, then the same row selection.
    """

    def __init__(self, hidden: torch.Tensor, lm_head: torch.nn.Module, copy: HeadCopy,
                 index: torch.Tensor | None = None) -> None:  # fmt: skip
        self.hidden, self.lm_head, self.copy, self.index = hidden, lm_head, copy, index
        self._full: torch.Tensor | None = None

    def rows(self) -> torch.Tensor:
        h = self.hidden[:, -1, :]
        return h if self.index is None else h[self.index]

    def full(self) -> torch.Tensor:
        if self._full is None:
            self._full = self.lm_head(self.hidden)[:, -1, :]
        return self._full if self.index is None else self._full[self.index]

    def float(self) -> torch.Tensor:
        return self.full().float()

    def __getitem__(self, sel: Any) -> Deferred:
        sel = torch.as_tensor(sel, dtype=torch.long, device=self.hidden.device)
        out = Deferred(self.hidden, self.lm_head, self.copy, sel if self.index is None else self.index[sel])
        out._full = self._full
        return out

    @property
    def shape(self) -> torch.Size:
        n = self.hidden.shape[0] if self.index is None else len(self.index)
        return torch.Size([n, self.copy.wb.shape[0]])

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        def real(x: Any) -> Any:
            if isinstance(x, Deferred):
                return x.full()
            return type(x)(real(y) for y in x) if isinstance(x, list | tuple) else x

        return func(*real(args), **{k: real(v) for k, v in (kwargs or {}).items()})


def applicable(model: Any, params: Any) -> HeadCopy | None:
    """The bf16 copy of ``model``'s head when the proof covers this model and these params, else None."""
    if not _ON["sampled" if params.temperature > 0 else "greedy"]:
        return None
    if head.last() == 0 or params.repetition_penalty != 1.0:
        return None
    if params.temperature > 0 and (params.top_k > 0 or params.top_p >= 1.0):
        return None
    lm = model.get_output_embeddings()
    if type(lm) is not torch.nn.Linear or lm.bias is not None or lm.weight.dtype != torch.float32:
        return None
    if lm.weight.device.type != "cpu" or torch.get_float32_matmul_precision() != "highest":
        return None
    if torch.backends.mkldnn.matmul.fp32_precision not in ("none", "ieee"):
        return None
    if model.config.model_type not in PLAIN_HEAD or getattr(model.config, "final_logit_softcapping", None):
        return None
    return copy_of(lm.weight)


def step(model: Any, params: Any, **inputs: Any) -> tuple[torch.Tensor | Deferred, Any]:
    """One decode forward: (last-position logits, or a :class:`Deferred` for them; the KV cache)."""
    copy = applicable(model, params)
    if copy is None:
        out = model(**inputs, logits_to_keep=head.last())
        return out.logits[:, -1, :], out.past_key_values
    # the causal LM's own forward is this decoder call, then the head on hidden[:, -1:] (logits_to_keep=1)
    out = model.get_decoder()(**inputs)
    hidden = out.last_hidden_state[:, -1:, :]
    return Deferred(hidden, model.get_output_embeddings(), copy), out.past_key_values


def pick(
    logits: torch.Tensor | Deferred, sampler: Any, rows: Sequence[int], window: int
) -> torch.Tensor | None:
    """The token of every row, proven equal to the engine's pick on the full head; None: take that path."""
    if not isinstance(logits, Deferred):
        return None
    h = logits.rows()
    approx = logits.copy.approx(h)
    STATS.steps += 1
    if sampler is None:
        picks = greedy(logits.copy, h, approx)
    else:
        picks = sampled(logits.copy, h, approx, sampler, rows, window)
    if picks is None:
        STATS.fallback_steps += 1
    return picks


def _shortlist(
    copy: HeadCopy, h: torch.Tensor, approx: Approx, reach: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Tokens whose approximate logit is within ``reach`` (+ twice the radii) of the row's top: (row, id,
    fp64 logit, its radius) per candidate, and per row an upper bound on the full head's logit of every
    other token. None when some row has more than ``MAX_SHORTLIST`` candidates (a flat distribution)."""
    top = approx.top
    floor = f32_floor(top - reach - 2 * (approx.radius + approx.fp32_radius + REL * top.abs()))
    b, j = (approx.a >= floor[:, None]).nonzero(as_tuple=True)
    STATS.rows += h.shape[0]
    if int(torch.bincount(b, minlength=h.shape[0]).max()) > MAX_SHORTLIST:
        STATS.unproven_rows += 1
        return None
    g, e = copy.exact(j, h[b])
    STATS.candidates += len(j)
    return b, j, g, e, approx.upper(floor.double())


def greedy(copy: HeadCopy, h: torch.Tensor, approx: Approx) -> torch.Tensor | None:
    """Argmax per row when its interval clears every other token's (a tie at equal fp64 values: unproven)."""
    n = h.shape[0]
    short = _shortlist(copy, h, approx, torch.zeros_like(approx.top))
    if short is None:
        return None
    b, j, g, e, outside = short
    neg = torch.full((n,), -math.inf, dtype=torch.float64)
    best = neg.scatter_reduce(0, b, g, "amax")
    top = g == best[b]
    n_top = torch.zeros(n, dtype=torch.long).scatter_add_(0, b, top.long())
    win = torch.zeros(n, dtype=torch.long).scatter_(0, b[top], j[top])
    low = neg.scatter_reduce(0, b[top], (g - e)[top], "amax")
    rival = neg.scatter_reduce(0, b, torch.where(top, -math.inf, g + e), "amax")
    proven = (n_top == 1) & (low > rival) & (low > outside)
    STATS.unproven_rows += int((~proven).sum())
    return win if bool(proven.all()) else None


def sampled(copy: HeadCopy, h: torch.Tensor, approx: Approx, sampler: Any, rows: Sequence[int],
            window: int) -> torch.Tensor | None:  # fmt: skip
    """Each row's draw, proven; on the first unproven row every generator is put back as it was."""
    temp = float(sampler.temperature)
    narrow, wide = SAMPLE_REACH
    short = _shortlist(copy, h, approx, torch.full_like(approx.top, wide * temp))
    if short is None:
        return None
    b, j, g, e, outside = short
    floor = f32_floor(
        approx.top - narrow * temp - 2 * (approx.radius + approx.fp32_radius + REL * approx.top.abs())
    )
    near = approx.a[b, j] >= floor[b]
    near_out = approx.upper(floor.double())
    states = [sampler.generators[r].get_state() for r in rows]
    picks = []
    for i, r in enumerate(rows):
        tok = None
        for at, out in (((b == i) & near, near_out[i]), (b == i, outside[i])):
            at = at.nonzero(as_tuple=True)[0]
            sampler.generators[r].set_state(states[i])
            row = Row(approx, i, j[at], g[at], e[at], float(out), temp, float(sampler.top_p), window)
            tok = row.draw(sampler.generators[r])
            if tok is not None:
                break
        if tok is None:
            STATS.unproven_rows += 1
            for rr, state in zip(rows, states, strict=True):
                sampler.generators[rr].set_state(state)
            return None
        picks.append(tok)
    return torch.tensor(picks, dtype=torch.long, device=h.device)


class Row:
    """One row's sampling proof, in temperature-scaled units ``s = f / T`` (fp64 interval arithmetic).

    The engine's path (``generate.nucleus`` then ``torch.multinomial``) computes ``norm = logsumexp(s)``
    over the vocabulary, masses ``exp(s - norm)`` of the ``window`` largest ``s`` in descending order, keeps
    those whose mass ranked above is below ``top_p`` (when the window's mass reaches ``top_p``), and draws
    ``argmax(kept / q)``. Every fp32 rounding on that path is bounded below: the logsumexp sum by its
    worst case for any summation order (``(V + 16) u`` relative), the rest by a few ``u``.
    """

    def __init__(self, approx: Approx, i: int, ids: torch.Tensor, g: torch.Tensor, e: torch.Tensor,
                 outside: float, temp: float, top_p: float, window: int) -> None:  # fmt: skip
        vocab = approx.a.shape[1]
        self.ids, self.window = ids, min(window, vocab)
        self.lo, self.hi = _scaled(g - e, temp, -1), _scaled(g + e, temp, 1)
        self.out = float(_scaled(torch.tensor([outside], dtype=torch.float64), temp, 1)[0])
        self.big = float(approx.big[i]) / temp * (1 + 8 * U32) + 1.0  # >= |s| of any token
        # the tail (tokens not shortlisted): sum exp(s) <= exp(tail); each s_j <= (a_j + REL |a_j| + radii)/T
        rest = approx.a[i] + REL * approx.a[i].abs()
        rest[ids] = -math.inf
        lse_err = -math.log1p(-(vocab + 16) * U32 * 4)  # fp32 logsumexp of a/T: worst case, generously
        radii = float(approx.radius[i] + approx.fp32_radius[i]) / temp
        self.tail = float(torch.logsumexp(rest / temp, dim=0)) + lse_err + radii + 4 * U32 * self.big
        top = float(self.hi.max())
        z_lo = float(torch.exp(self.lo - top).sum())
        z_hi = float(torch.exp(self.hi - top).sum()) + math.exp(self.tail - top)
        err = -math.log1p(-(vocab + 16) * U32) + 4 * U32 * (2 * self.big + abs(top) + 2) + 1e-9
        self.norm_lo, self.norm_hi = top + math.log(z_lo) - err, top + math.log(z_hi) + err
        omega = U32 * (self.big + abs(self.norm_hi) + abs(self.norm_lo) + 4) * 1.01
        self.mass_lo = torch.exp(self.lo - self.norm_hi) * (1 - omega)
        self.mass_hi = torch.exp(self.hi - self.norm_lo) * (1 + omega)
        self.tail_mass = math.exp(self.tail - self.norm_lo) * (1 + omega)
        self.top_p_lo, self.top_p_hi = top_p * (1 - 1e-6), top_p * (1 + 1e-6)  # top_p as fp32, and then some

    def draw(self, gen: torch.Generator) -> int | None:
        """The token the engine's path draws from ``gen`` (advanced as it would be), or None (unproven)."""
        sure_above = self.lo[None, :] > self.hi[:, None]  # [j, i]: i ranks above j whatever the rounding
        maybe_above = self.hi[None, :] >= self.lo[:, None]
        maybe_above.fill_diagonal_(False)
        placed = self.lo > self.out  # no token outside the shortlist can rank above it
        first, last = sure_above.sum(1), maybe_above.sum(1)  # window slots each token can occupy
        cum = 3 * (self.window + 1) * U32 * 1.01  # fp32 cumsum of <= window masses, and cumsum - mass
        above_lo = (sure_above * self.mass_lo[None, :]).sum(1) * (1 - cum)
        above_hi = (maybe_above * self.mass_hi[None, :]).sum(1) * (1 + cum) + torch.where(
            placed, 0.0, self.tail_mass
        )
        member = above_hi < self.top_p_lo
        maybe_member = above_lo < self.top_p_hi
        # every token outside the shortlist has at least this much mass ranked above it
        if float((self.mass_lo * (self.lo > self.out)).sum()) * (1 - cum) < self.top_p_hi:
            return None
        in_window = placed & (last < self.window)
        if float((self.mass_lo * in_window).sum()) * (1 - cum) < self.top_p_hi:  # the window may not cover
            return None
        if not bool(in_window[maybe_member].all()) or not bool(member.any()):
            return None
        q = torch.empty(self.window, dtype=torch.float32).exponential_(1.0, generator=gen).double()
        cand = maybe_member.nonzero(as_tuple=True)[0]
        span = first[cand, None] + torch.arange(int((last - first)[cand].max()) + 1)[None, :]
        slots = q[torch.minimum(span, last[cand, None])]  # each candidate's slots (the last one repeated)
        q_min, q_max = slots.min(dim=1).values, slots.max(dim=1).values
        if float(q_min.min()) < 1e-30:
            return None
        score_lo = torch.where(member[cand], self.lo[cand] - q_max.log(), -math.inf)
        score_hi = self.hi[cand] - q_min.log()
        w = int(score_lo.argmax())
        rival = float(torch.cat([score_hi[:w], score_hi[w + 1 :]]).max()) if len(cand) > 1 else -math.inf
        margin = 2 * U32 * (2 * self.big + 8) * 1.01  # rounding of exp(s - max), / sum, p / q: both sides
        if float(score_lo[w]) - margin <= rival or float(self.lo[cand[w]]) - float(self.hi.max()) < -80:
            return None
        return int(self.ids[cand[w]])


def _scaled(f: torch.Tensor, temp: float, side: int) -> torch.Tensor:
    """Outer bound (``side`` -1: below, 1: above) of ``fl32(f / T)``: T rounded to fp32, then one division."""
    s = f / temp
    return s + side * (4 * U32 * s.abs() + TINY)
