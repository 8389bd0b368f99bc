"""The verifiable judge: for an instruction with machine-checkable constraints, the check is the verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from selfalign.constraints import check_all
from selfalign.judge.types import Item, Judgment, PairItem, PairJudgment, compare_by_scores

if TYPE_CHECKING:
    from selfalign.engine import Engine


class Verifiable:
    """``score`` = fraction of constraints passed; ``p_good`` = 1 only when every one passes."""

    name = "verifiable"
    pointwise = True
    model_based = False
    default_threshold = 0.0  # any difference in constraints passed decides a pair
    batch_size = 0  # no model call

    def score(self, engine: Engine, items: Sequence[Item], adapter: str | None = None) -> list[Judgment]:
        out = []
        for it in items:
            if not it.constraints:
                raise ValueError(f"item {it.id}: the verifiable judge needs constraints, it has none")
            results = check_all(it.response, list(it.constraints))
            frac = sum(r.passed for r in results) / len(results)
            out.append(
                Judgment(
                    item_id=it.id,
                    scorer=self.name,
                    score=frac,
                    p_good=1.0 if frac == 1.0 else 0.0,
                    margin=frac - 1.0 if frac < 1.0 else 1.0,
                    orders_agree=True,
                    prompts=["(verifiable checks; no model call)"],
                    logp=[{"passed_fraction": math.log(max(frac, 1e-9))}],
                    per_order=[frac],
                    details={"checks": [r.to_dict() for r in results]},
                )
            )
        return out

    def compare(
        self, engine: Engine, items: Sequence[PairItem], adapter: str | None = None
    ) -> list[PairJudgment]:
        return compare_by_scores(self, engine, items, adapter)
