"""Rank a prompt's N samples with a critic and keep (best, worst) when the margin clears the threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from selfalign.judge.types import Item, PairItem, Scorer

if TYPE_CHECKING:
    from selfalign.engine import Engine


@dataclass
class Ranked:
    """Samples of one prompt ranked best-first; ``margin``/``orders_agree`` compare best with worst."""

    order: list[int]  # sample indices, best first
    margin: float
    orders_agree: bool
    details: dict[str, Any] = field(default_factory=dict)


def rank_all(
    scorer: Scorer,
    engine: Engine,
    groups: Sequence[tuple[str, str, Sequence[str]]],
    adapter: str | None = None,
) -> list[Ranked | None]:
    """Rank each ``(id, instruction, samples)`` group (batched over all groups); None for < 2 samples.

    Pointwise scorers score every sample once. A pairwise scorer compares every pair in both orders and
    ranks by mean P(win); the reported margin and agreement are those of the best-vs-worst comparison.
    """
    out: list[Ranked | None] = [None] * len(groups)
    if scorer.pointwise:
        flat = [
            Item(f"{gid}:{k}", ins, s) for gid, ins, ss in groups if len(ss) > 1 for k, s in enumerate(ss)
        ]
        judged = iter(scorer.score(engine, flat, adapter=adapter) if flat else [])
        for g, (_, _, ss) in enumerate(groups):
            if len(ss) < 2:
                continue
            js = [next(judged) for _ in ss]
            order = sorted(range(len(ss)), key=lambda k: -js[k].score)
            best, worst = js[order[0]], js[order[-1]]
            per = [b - w for b, w in zip(best.per_order, worst.per_order, strict=True)]
            margin = best.score - worst.score
            agree = all((d > 0) == (margin > 0) for d in per)
            out[g] = Ranked(order, margin, agree, {"scores": [j.score for j in js], "per_order": per})
        return out
    pairs = [
        (g, i, k, PairItem(f"{gid}:{i}v{k}", ins, ss[i], ss[k]))
        for g, (gid, ins, ss) in enumerate(groups)
        for i, k in combinations(range(len(ss)), 2)
    ]
    verdicts = scorer.compare(engine, [p for *_, p in pairs], adapter=adapter) if pairs else []
    wins: dict[int, dict[int, float]] = {}
    vs: dict[tuple[int, int, int], Any] = {}
    for (g, i, k, _), v in zip(pairs, verdicts, strict=True):
        w = wins.setdefault(g, {})
        w[i] = w.get(i, 0.0) + (1 - v.p_b)
        w[k] = w.get(k, 0.0) + v.p_b
        vs[(g, i, k)] = v
    for g, w in wins.items():
        order = sorted(w, key=lambda k: -w[k])
        best, worst = order[0], order[-1]
        v = vs[(g, min(best, worst), max(best, worst))]
        margin = v.margin if best > worst else -v.margin  # v.margin > 0 means the higher index won
        agree = v.orders_agree
        out[g] = Ranked(order, margin, agree, {"wins": [w[k] for k in sorted(w)], "p_b": v.p_b})
    return out


def keep(ranked: Ranked, threshold: float, require_agreement: bool) -> bool:
    """A pair is kept when its margin passes the threshold and, if asked, every label order agrees."""
    return ranked.margin >= threshold and (ranked.orders_agree or not require_agreement)
