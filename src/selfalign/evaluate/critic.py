"""The plug point for scoring open-ended items: a pairwise critic judged in both orders.

A critic answers ``compare(engine, pairs) -> [P(b better than a)]``, each probability the average over
both presentation orders, so a critic that always prefers the first (or second) slot gives 0.5, not a
win. ``get_critic(name)`` asks
``selfalign.judge.get_scorer(name)`` (the project's one critic), whose ``Scorer.compare`` has this contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from selfalign.engine import Engine

# "auto": the scorer the critique stage picked by measured agreement (fallback below when run alone).
AUTO = "auto"
FALLBACK = "likelihood-contrast"


@dataclass(frozen=True)
class PairItem:
    """Two answers to one instruction; the critic says how likely ``b`` is the better one."""

    instruction: str
    a: str
    b: str


class PairwiseCritic(Protocol):
    name: str

    def compare(self, engine: Engine, items: Sequence[PairItem]) -> list[float]: ...


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


def get_critic(name: str, picked: str | None = None) -> PairwiseCritic:
    """Judge scorer ``name``; ``auto`` = ``picked`` (the critique stage's choice) or the fallback."""
    if name == AUTO:
        name = picked or FALLBACK
    return JudgeCritic(name)  # an unknown name raises ConfigError listing the known scorers
