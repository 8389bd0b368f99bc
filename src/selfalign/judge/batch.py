"""Judge a file of responses: constrained items by their checks, the rest by one model scorer, batched.

Input records need ``id``, ``instruction`` and the answer as ``text`` (response records) or ``response``;
``constraints`` (the shared ``{"type", "params"}`` form) are optional. Output: one ``judgment`` record
(``selfalign.data.schemas.Judgment``) per input record, in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfalign.data.jsonl import read_jsonl
from selfalign.errors import DataError
from selfalign.judge.registry import get_scorer
from selfalign.judge.types import Item, Judgment, Scorer

if TYPE_CHECKING:
    from selfalign.engine import Engine


def load_items(path: Path) -> list[Item]:
    """Items from a responses JSONL; a missing field is a ``DataError`` naming file, line and field."""
    items = []
    for line, r in enumerate(read_jsonl(path), start=1):
        for key in ("id", "instruction"):
            if key not in r:
                raise DataError(path, line, key, "missing (need id, instruction and text or response)")
        answer = r.get("text", r.get("response"))
        if not isinstance(answer, str):
            raise DataError(path, line, "text", "missing or not a string (the answer to judge)")
        cons = r.get("constraints") or ()
        if not isinstance(cons, list | tuple):
            raise DataError(path, line, "constraints", "must be a list of {type, params} objects")
        items.append(Item(str(r["id"]), str(r["instruction"]), answer, tuple(cons)))
    return items


def judge_items(
    engine: Engine,
    items: Sequence[Item],
    scorer: Scorer,
    *,
    checks_for_constrained: bool = True,
    adapter: str | None = None,
) -> list[Judgment]:
    """One verdict per item: constrained items by the verifiable checks (when asked), the rest by
    ``scorer`` in a single batched call."""
    if not scorer.pointwise:
        raise TypeError(f"{scorer.name} judges pairs only; judging single responses needs a pointwise scorer")
    by_checks = [i for i, it in enumerate(items) if checks_for_constrained and it.constraints]
    checked = set(by_checks)
    by_model = [i for i in range(len(items)) if i not in checked]
    verdicts: list[Judgment | None] = [None] * len(items)
    for idx, sc in ((by_checks, get_scorer("verifiable")), (by_model, scorer)):
        if idx:
            for i, j in zip(idx, sc.score(engine, [items[i] for i in idx], adapter=adapter), strict=True):
                verdicts[i] = j
    return [j for j in verdicts if j is not None]


def records(judgments: Sequence[Judgment], threshold: float) -> list[dict[str, Any]]:
    return [j.record(threshold=threshold) for j in judgments]
