"""Score an answer against a list of constraints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from selfalign.constraints.base import CheckResult
from selfalign.constraints.registry import REGISTRY, validate_constraint


def check(answer: str, constraint: dict[str, Any]) -> CheckResult:
    """Check one ``{"type", "params"}`` constraint; ``DataError`` if the constraint is invalid."""
    c = validate_constraint(constraint)
    return REGISTRY[c["type"]].check(answer, c["params"])


def check_all(answer: str, constraints: list[dict[str, Any]]) -> list[CheckResult]:
    """One result per constraint, in order."""
    out = []
    for i, constraint in enumerate(constraints):
        c = validate_constraint(constraint, field=f"constraints[{i}]")
        out.append(REGISTRY[c["type"]].check(answer, c["params"]))
    return out


def passes_all(answer: str, constraints: list[dict[str, Any]]) -> bool:
    """True when every constraint passes. An empty list is refused: there would be nothing to verify."""
    if not constraints:
        raise ValueError("passes_all needs at least one constraint")
    return all(r.passed for r in check_all(answer, constraints))


def words_needed(constraints: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """``(words, index)``: the most words one of ``constraints`` needs, and which one needs them (an answer
    shorter than that fails it whatever it says: the evaluation's budget guard and the responses stage's
    "not steered over budget" rule both read it)."""
    best, where = 0, -1
    for i, c in enumerate(constraints):
        need = REGISTRY[c["type"]].min_words(c["params"])
        if need > best:
            best, where = need, i
    return best, where
