"""What a critic judges and what it answers: pointwise :class:`Item`/:class:`Judgment`, pairwise
:class:`PairItem`/:class:`PairJudgment`, and the :class:`Scorer` protocol every critic implements."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from selfalign.engine import Engine


@dataclass(frozen=True)
class Item:
    """One (instruction, response) to judge. ``constraints`` use the shared ``{"type", "params"}`` form."""

    id: str
    instruction: str
    response: str
    constraints: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class PairItem:
    """Two responses to one instruction; a judge says how likely ``b`` is the better one."""

    id: str
    instruction: str
    a: str
    b: str
    constraints: tuple[dict[str, Any], ...] = ()


@dataclass(kw_only=True)
class _Verdict:
    """What pointwise and pairwise verdicts share: the per-order evidence and its record form."""

    item_id: str
    scorer: str
    margin: float
    orders_agree: bool
    prompts: list[str]
    logp: list[dict[str, float]]
    per_order: list[float]
    details: dict[str, Any] = field(default_factory=dict)

    def _record(self, record_id: str, item_ids: list[str], p: float, threshold: float) -> dict[str, Any]:
        """A ``selfalign.data.schemas.Judgment`` record (``confident``: orders agree and |margin| > t)."""
        return {
            "id": record_id,
            "item_ids": item_ids,
            "scorer": self.scorer,
            "prompts": self.prompts,
            "logp": self.logp,
            "p_good": _unit(p),
            "margin": float(self.margin),
            "orders_agree": self.orders_agree,
            "confident": bool(self.orders_agree and abs(self.margin) > threshold),
        }


@dataclass(kw_only=True)
class Judgment(_Verdict):
    """A pointwise verdict. ``score`` is the scorer's own scale (higher = better, comparable within one
    scorer); ``margin`` is the signed distance from the scorer's neutral point (same units as ``score``
    for likelihood scorers, log-odds for A/B); ``per_order`` holds the single-order scores (one entry for
    scorers without label orders) so a single order can be evaluated without re-scoring."""

    score: float
    p_good: float

    def record(self, threshold: float = 0.0, record_id: str | None = None) -> dict[str, Any]:
        rid = record_id or f"judge:{self.scorer}:{self.item_id}"
        return self._record(rid, [self.item_id], self.p_good, threshold)


@dataclass(kw_only=True)
class PairJudgment(_Verdict):
    """A pairwise verdict: ``p_b`` = P(b is better than a), averaged over both presentation orders;
    ``margin`` > 0 means b is better; ``per_order`` is P(b better) in each order as presented."""

    p_b: float

    def record(self, threshold: float = 0.0, record_id: str | None = None) -> dict[str, Any]:
        rid = record_id or f"compare:{self.scorer}:{self.item_id}"
        return self._record(rid, [f"{self.item_id}:a", f"{self.item_id}:b"], self.p_b, threshold)


class Scorer(Protocol):
    """A critic. ``pointwise`` scorers implement :meth:`score`; every scorer implements :meth:`compare`.

    ``model_based`` is False for judges that never call the model (the verifiable checks).
    ``default_threshold`` is the margin (in the scorer's own units) a preference pair must pass.
    """

    name: str
    pointwise: bool
    model_based: bool
    default_threshold: float
    batch_size: int  # sequences per forward pass

    def score(self, engine: Engine, items: Sequence[Item], adapter: str | None = None) -> list[Judgment]: ...

    def compare(
        self, engine: Engine, items: Sequence[PairItem], adapter: str | None = None
    ) -> list[PairJudgment]: ...


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _unit(p: float) -> float:
    return min(1.0, max(0.0, float(p)))


def compare_by_scores(
    scorer: Scorer, engine: Engine, items: Sequence[PairItem], adapter: str | None
) -> list[PairJudgment]:
    """Pairwise verdicts from a pointwise scorer: score a and b (one batch), P(b better) = σ(s_b − s_a).

    Orders agree when every single-order score ranks a and b the same way as the average does.
    """
    flat = [Item(f"{p.id}:a", p.instruction, p.a, p.constraints) for p in items] + [
        Item(f"{p.id}:b", p.instruction, p.b, p.constraints) for p in items
    ]
    judged = scorer.score(engine, flat, adapter=adapter)
    n = len(items)
    out = []
    for i, p in enumerate(items):
        ja, jb = judged[i], judged[n + i]
        diff = jb.score - ja.score
        per = [sb - sa for sa, sb in zip(ja.per_order, jb.per_order, strict=True)]
        out.append(
            PairJudgment(
                item_id=p.id,
                scorer=scorer.name,
                p_b=sigmoid(diff),
                margin=diff,
                orders_agree=all((d > 0) == (diff > 0) for d in per),
                prompts=ja.prompts + jb.prompts,
                logp=ja.logp + jb.logp,
                per_order=[sigmoid(d) for d in per],
                details={"a": ja.details, "b": jb.details},
            )
        )
    return out
