"""Score one output of a verifiable item by code: every constraint checked, nothing else looked at.

There is deliberately no rule about length or format here. An output passes exactly when it obeys every
constraint its item states (``selfalign.constraints``); a long answer that obeys passes, a short one that
does not fails. The first version's ">500 characters is a failure" rule is what this module replaces.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from selfalign.constraints import IfevalResult, check_all, ifeval_result, ifeval_scores
from selfalign.evaluate.items import HeldOutItem


def score_output(item: HeldOutItem, output: str) -> tuple[list[dict[str, Any]], bool | None]:
    """``(checks, passed)``: one check record per constraint; ``passed`` is None for open-ended items."""
    if not item.verifiable:
        return [], None
    results = check_all(output, item.constraints)
    checks = [
        {"type": r.type, "passed": r.passed, "detail": r.detail, "params": c["params"]}
        for r, c in zip(results, item.constraints, strict=True)
    ]
    return checks, all(r.passed for r in results)


def ifeval_output(item: HeldOutItem, output: str) -> dict[str, Any] | None:
    """IFEval's strict/loose verdicts for one output (``constraints.ifeval``); None for open-ended items.

    Reported beside ``score_output``'s own verdict so results compare with published IFEval numbers;
    aggregate a run's records with ``constraints.ifeval_scores``.
    """
    if not item.verifiable:
        return None
    return ifeval_result(output, item.constraints).to_dict()


def ifeval_rates(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """IFEval's four accuracies over eval records that carry an ``"ifeval"`` entry (see ifeval_output).

    Open-ended records (``"ifeval"`` missing or None) are skipped; None when no record has one.
    """
    results = [IfevalResult.from_dict(r["ifeval"]) for r in records if r.get("ifeval")]
    return ifeval_scores(results).to_dict() if results else None
