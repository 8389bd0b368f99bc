"""Held-out evaluation items: read and check a JSONL file of tasks every condition answers.

A record needs ``id``, ``instruction`` (or ``text``), ``category``; ``constraints`` is optional. An item
with constraints is scored by code; one without is open-ended and scored by the critic. ``wording``
(optional, e.g. ``"unseen"``: its constraints are phrased in words training never used) puts the item in the
headline's wording subset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from selfalign.constraints import validate_constraints
from selfalign.data.jsonl import PathLike, iter_jsonl
from selfalign.errors import DataError


@dataclass(frozen=True)
class HeldOutItem:
    id: str
    instruction: str
    category: str
    constraints: list[dict[str, Any]] = field(default_factory=list)
    wording: str | None = None  # "unseen": constraints phrased in words training never used

    @property
    def verifiable(self) -> bool:
        """Scored by code (it has constraints), not by the critic."""
        return bool(self.constraints)


def _text(rec: dict[str, Any], key: str, path: PathLike, line: int) -> str:
    value = rec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(path, line, key, "missing or empty (a non-empty string is required)")
    return value


def item_from_record(rec: dict[str, Any], path: PathLike = "<item>", line: int = 0) -> HeldOutItem:
    """One held-out item from a JSON object; ``DataError`` names the bad field."""
    item_id = _text(rec, "id", path, line)
    key = "instruction" if "instruction" in rec else "text"
    instruction = _text(rec, key, path, line)
    category = _text(rec, "category", path, line)
    raw = rec.get("constraints")
    constraints = [] if raw is None else validate_constraints(raw, str(path), line, "constraints")
    wording = rec.get("wording")
    if wording is not None and not isinstance(wording, str):
        raise DataError(path, line, "wording", f"expected a string such as \"unseen\", got {wording!r}")
    return HeldOutItem(item_id, instruction.strip(), category, constraints, wording)


T = TypeVar("T")


def load_keyed(
    path: PathLike, parse: Callable[[dict[str, Any], int], T], key: Callable[[T], str], field: str, what: str
) -> list[T]:
    """Every record of a JSONL file through ``parse(record, line)``; keys unique, the file non-empty."""
    out: list[T] = []
    seen: dict[str, int] = {}
    for line, rec in iter_jsonl(path):
        item = parse(rec, line)
        k = key(item)
        if k in seen:
            raise DataError(path, line, field, f"duplicate {field} {k!r} (first on line {seen[k]})")
        seen[k] = line
        out.append(item)
    if not out:
        raise DataError(path, None, None, f"no {what}")
    return out


def load_items(path: PathLike) -> list[HeldOutItem]:
    """Every item of a held-out JSONL file; ids must be unique and the file non-empty."""
    return load_keyed(path, lambda rec, line: item_from_record(rec, path, line), lambda it: it.id,
                      "id", "held-out items")  # fmt: skip
