"""Attach 1–3 random, mutually consistent constraints to an instruction."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from selfalign.constraints.compat import compatible
from selfalign.constraints.consistency import is_consistent
from selfalign.constraints.registry import REGISTRY, get_type, train_types, validate_constraint

MAX_ATTEMPTS = 200  # rejection sampling; the default pools find a consistent pair within a few draws


def describe_all(constraints: list[dict[str, Any]], rng: random.Random | None = None) -> str:
    """The constraints' descriptions as one instruction suffix, in list order.

    Without ``rng`` each type's canonical wording, with it a wording drawn from ``rng`` per constraint.
    """
    cs = [validate_constraint(c, field=f"constraints[{i}]") for i, c in enumerate(constraints)]
    return " ".join(REGISTRY[c["type"]].describe(c["params"], rng) for c in cs)


def attach(instruction: str, constraints: list[dict[str, Any]], rng: random.Random | None = None) -> str:
    """``instruction`` followed by the constraints' descriptions (wordings drawn from ``rng`` if given).

    A missing final full stop is added so the suffix reads as its own sentence; a multi-line instruction
    (one that quotes an input text) gets the suffix after a blank line, so it is not read as part of it.
    """
    base = instruction.strip()
    if not base:
        raise ValueError("instruction is empty")
    if not constraints:
        return base
    if base[-1].isalnum():
        base += "."
    sep = "\n\n" if "\n" in base else " "
    return f"{base}{sep}{describe_all(constraints, rng)}"


def augment(
    instruction: str, rng: random.Random, k: int = 1, allowed_types: Iterable[str] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Draw ``k`` (1 to 3) consistent constraints and return ``(augmented instruction, constraints)``.

    ``allowed_types`` defaults to :func:`train_types` (held-out types excluded); types that are not
    ``attachable`` (fixed_choice: its options only fit a question written for them) are never drawn.
    Params are bound to the instruction (repeat_request records it as the request to repeat), and each
    description's wording is drawn from ``rng``. The result depends only on the instruction, ``k``, the
    allowed set and the ``rng`` state. Raises ValueError when the allowed types cannot give ``k``
    consistent constraints (e.g. only ``{"lowercase", "uppercase"}`` with k=2).
    """
    if k not in (1, 2, 3):
        raise ValueError(f"k must be 1, 2 or 3, got {k!r}")
    if not instruction.strip():
        raise ValueError("instruction is empty")
    if isinstance(allowed_types, str):
        raise TypeError("allowed_types must be a collection of type names, not one string")
    # Sorted: set iteration order varies between processes, which would break seeded determinism.
    pool = train_types() if allowed_types is None else sorted({get_type(t).name for t in allowed_types})
    pool = [t for t in pool if REGISTRY[t].attachable]
    if len(pool) < k:
        raise ValueError(f"need at least {k} allowed types, got {pool}")
    for _ in range(MAX_ATTEMPTS):
        types = rng.sample(pool, k)
        if not all(compatible(a, b) for i, a in enumerate(types) for b in types[i + 1 :]):
            continue
        bound = [REGISTRY[t].bind(REGISTRY[t].sample_params(rng), instruction) for t in types]
        if any(p is None for p in bound):
            continue
        cs = [{"type": t, "params": p} for t, p in zip(types, bound, strict=True)]
        if is_consistent(cs):
            return attach(instruction, cs, rng), cs
    raise ValueError(f"found no {k} consistent constraints among {pool} in {MAX_ATTEMPTS} draws")
