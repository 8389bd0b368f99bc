"""The plug point for scoring open-ended items: a pairwise critic judged in both orders.

A critic answers ``compare(engine, pairs) -> [P(b better than a)]``, each probability the average over
both presentation orders, so a critic that always prefers the first (or second) slot gives 0.5, not a
win. ``get_critic(name)`` returns the built-in log-prob critic for ``"logprob-ab"`` and otherwise asks
``selfalign.judge.get_scorer(name)`` (the project's critic), whose ``Scorer.compare`` has this contract.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from selfalign.engine import Engine

BUILTIN = "logprob-ab"


@dataclass(frozen=True)
class PairItem:
    """Two answers to one instruction; the critic says how likely ``b`` is the better one."""

    instruction: str
    a: str
    b: str


class PairwiseCritic(Protocol):
    name: str

    def compare(self, engine: Engine, items: Sequence[PairItem]) -> list[float]: ...


_TEMPLATE = (
    "Below is an instruction and two responses. Decide which response follows the instruction better.\n\n"
    "Instruction: {instruction}\n\nResponse A: {first}\n\nResponse B: {second}\n\n"
    "The better response is Response"
)


def _p_second(scores: Sequence[float]) -> float:
    """P(option 2) from the summed log-probs of options " A" and " B", renormalised over the two."""
    a, b = scores
    return 1.0 / (1.0 + math.exp(a - b))


class LogprobCritic:
    """The base model asked "A or B?" through ``engine.logprobs``, in both orders, averaged.

    A stand-in until ``selfalign.judge`` lands; it follows the same contract, so swapping is a config
    change. Always runs on the plain base (``adapter=None``): the critic must not be the model judged.
    """

    name = BUILTIN

    def __init__(self, batch_size: int = 16) -> None:
        self.batch_size = batch_size

    def prompts(self, item: PairItem) -> tuple[str, str]:
        """(order 1: a shown first, order 2: b shown first)."""
        first = _TEMPLATE.format(instruction=item.instruction, first=item.a.strip(), second=item.b.strip())
        second = _TEMPLATE.format(instruction=item.instruction, first=item.b.strip(), second=item.a.strip())
        return first, second

    def compare(self, engine: Engine, items: Sequence[PairItem]) -> list[float]:
        requests = [(p, [" A", " B"]) for item in items for p in self.prompts(item)]
        scores = engine.logprobs(requests, adapter=None, batch_size=self.batch_size)
        out = []
        for k in range(len(items)):
            in_order = [s.sum for s in scores[2 * k]]
            swapped = [s.sum for s in scores[2 * k + 1]]
            # Order 1: b is "B" (second); order 2: b is "A" (first) → 1 - P(second).
            out.append((_p_second(in_order) + 1.0 - _p_second(swapped)) / 2.0)
        return out


class JudgeCritic:
    """A ``selfalign.judge`` scorer behind this plug point: its ``PairJudgment.p_b`` is P(b better),
    averaged over both orders; judged on the plain base (``adapter=None``)."""

    def __init__(self, name: str) -> None:
        from selfalign.judge import get_scorer

        self.name = name
        self.scorer = get_scorer(name)

    def compare(self, engine: Engine, items: Sequence[PairItem]) -> list[float]:
        from selfalign.judge import PairItem as JudgePair

        pairs = [
            JudgePair(id=str(k), instruction=it.instruction, a=it.a, b=it.b) for k, it in enumerate(items)
        ]
        return [float(j.p_b) for j in self.scorer.compare(engine, pairs, adapter=None)]


def get_critic(name: str) -> PairwiseCritic:
    """The critic called ``name``: the built-in log-prob one or a scorer from ``selfalign.judge``."""
    if name == BUILTIN:
        return LogprobCritic()
    return JudgeCritic(name)  # an unknown name raises ConfigError listing the known scorers
