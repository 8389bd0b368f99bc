"""A/B critics that read the label log-probs of a question put to the model, judged in both label orders.

Why both orders: small models have a strong position/label prior (SmolLM2-135M said "B" in 25 of 32
prompts before this). With the meaning of A and B swapped between the two orders, a fixed preference for
one letter pushes the two orders in opposite directions and cancels in their average, while real
judgment pushes both the same way. Each verdict keeps the per-order log-probs, whether the orders agree,
the averaged probability and a log-odds margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from selfalign.judge import labels as lab
from selfalign.judge.types import Item, Judgment, PairItem, PairJudgment, compare_by_scores

if TYPE_CHECKING:
    from selfalign.engine import Engine

LABELS = ("A", "B")

POINTWISE_TEMPLATE = (
    "Instruction: {instruction}\nResponse: {response}\n\n"
    "Question: Is the response above a complete, on-topic answer that follows the instruction?\n"
    "A: {opt_a}\nB: {opt_b}\nAnswer:"
)
PAIRWISE_TEMPLATE = (
    "Instruction: {instruction}\n\nResponse A: {a}\n\nResponse B: {b}\n\n"
    "Question: Which response is the better answer to the instruction: A or B?\nAnswer:"
)
# Content-free inputs for measuring the label prior (Zhao et al. 2021, "Calibrate before use").
CONTENT_FREE = "N/A"


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


@dataclass
class _Orders:
    """One item read in both label orders: pooled label log-probs, P(favoured label) and its log-odds."""

    logp: list[dict[str, float]]
    p: list[float]
    per_logit: list[float]

    @property
    def margin(self) -> float:
        return sum(self.per_logit) / 2

    @property
    def agree(self) -> bool:
        return (self.per_logit[0] > 0) == (self.per_logit[1] > 0)


def _read_orders(
    engine: Engine,
    prompts: Sequence[Sequence[str]],
    favoured: tuple[str, str],
    variants: Sequence[str],
    batch_size: int,
    adapter: str | None,
) -> list[_Orders]:
    """Label log-probs of each item's two prompts in one batched call; ``favoured[k]`` is the label that
    means "good" (pointwise) or "b" (pairwise) in order ``k``."""
    opts = lab.options(LABELS, variants)
    requests = [(p, opts) for pair in prompts for p in pair]
    flat = engine.logprobs(requests, adapter=adapter, batch_size=batch_size)
    out = []
    for i in range(len(prompts)):
        logp = [lab.pooled(flat[2 * i + k], LABELS, variants) for k in (0, 1)]
        p = [lab.two_way(logp[k], favoured[k], "B" if favoured[k] == "A" else "A") for k in (0, 1)]
        out.append(_Orders(logp, p, [_logit(x) for x in p]))
    return out


class ABPointwise:
    """ "Is this a good answer? A/B" — order 0 has A = yes, order 1 has A = no."""

    name = "ab-pointwise"
    pointwise = True
    model_based = True
    default_threshold = 1.0  # log-odds: a pair needs P(good) ratios of about e between chosen and rejected

    def __init__(self, variants: Sequence[str] = lab.DEFAULT_VARIANTS, batch_size: int = 16) -> None:
        self.variants = tuple(variants)
        self.batch_size = batch_size

    def prompts(self, instruction: str, response: str) -> list[str]:
        return [
            POINTWISE_TEMPLATE.format(instruction=instruction.strip(), response=response.strip(),
                                      opt_a=yes_no[0], opt_b=yes_no[1])
            for yes_no in (("yes", "no"), ("no", "yes"))
        ]  # fmt: skip

    def score(self, engine: Engine, items: Sequence[Item], adapter: str | None = None) -> list[Judgment]:
        prompts = [self.prompts(it.instruction, it.response) for it in items]
        # P(yes) in each order: order 0 says yes with A, order 1 with B.
        read = _read_orders(engine, prompts, ("A", "B"), self.variants, self.batch_size, adapter)
        return [
            Judgment(item_id=it.id, scorer=self.name, score=o.margin, p_good=sum(o.p) / 2, margin=o.margin,
                     orders_agree=o.agree, prompts=prompts[i], logp=o.logp, per_order=o.per_logit,
                     details={"p_yes_per_order": o.p})
            for i, (it, o) in enumerate(zip(items, read, strict=True))
        ]

    def compare(
        self, engine: Engine, items: Sequence[PairItem], adapter: str | None = None
    ) -> list[PairJudgment]:
        return compare_by_scores(self, engine, items, adapter)

    def prior(self, engine: Engine, adapter: str | None = None) -> dict[str, float]:
        """P("A") on a content-free item in each order; an unbiased judge gives 0.5 in both."""
        j = self.score(engine, [Item("content-free", CONTENT_FREE, CONTENT_FREE)], adapter=adapter)[0]
        p_a = [lab.two_way(j.logp[k], "A", "B") for k in (0, 1)]
        return {"p_A_order0": p_a[0], "p_A_order1": p_a[1], "p_good_debiased": j.p_good,
                "p_good_order0": j.details["p_yes_per_order"][0]}  # fmt: skip


class ABPairwise:
    """ "Which of two is better? A or B" (the constitutional-AI form), asked with a and b in both places."""

    name = "ab-pairwise"
    pointwise = False
    model_based = True
    default_threshold = 1.0

    def __init__(self, variants: Sequence[str] = lab.DEFAULT_VARIANTS, batch_size: int = 16) -> None:
        self.variants = tuple(variants)
        self.batch_size = batch_size

    def prompts(self, instruction: str, a: str, b: str) -> list[str]:
        """Order 0 shows a as A; order 1 shows b as A."""
        i = instruction.strip()
        return [
            PAIRWISE_TEMPLATE.format(instruction=i, a=x.strip(), b=y.strip()) for x, y in ((a, b), (b, a))
        ]

    def score(self, engine: Engine, items: Sequence[Item], adapter: str | None = None) -> list[Judgment]:
        raise TypeError("ab-pairwise judges pairs only: use compare(), or a pointwise scorer for score()")

    def compare(
        self, engine: Engine, items: Sequence[PairItem], adapter: str | None = None
    ) -> list[PairJudgment]:
        prompts = [self.prompts(it.instruction, it.a, it.b) for it in items]
        # b sits in slot B in order 0 and in slot A in order 1.
        read = _read_orders(engine, prompts, ("B", "A"), self.variants, self.batch_size, adapter)
        return [
            PairJudgment(item_id=it.id, scorer=self.name, p_b=sum(o.p) / 2, margin=o.margin,
                         orders_agree=o.agree, prompts=prompts[i], logp=o.logp, per_order=o.p)
            for i, (it, o) in enumerate(zip(items, read, strict=True))
        ]

    def prior(self, engine: Engine, adapter: str | None = None) -> dict[str, float]:
        """P("A") when both responses are content-free; an unbiased judge gives 0.5."""
        j = self.compare(engine, [PairItem("content-free", CONTENT_FREE, CONTENT_FREE, CONTENT_FREE)],
                         adapter=adapter)[0]  # fmt: skip
        p_a = [lab.two_way(j.logp[k], "A", "B") for k in (0, 1)]
        return {"p_A_order0": p_a[0], "p_A_order1": p_a[1], "p_b_debiased": j.p_b}
