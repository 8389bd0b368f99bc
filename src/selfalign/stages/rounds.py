"""What makes round r of a stage new: its own seed, its own instructions, freshly drawn constraints.

Shared by the preference rounds (``pairs-rN``) and the rejection-sampling rounds (``responses-rN``): a
round that redraws round 1's samples from round 1's prompts trains on what round 1 already had.
"""

from __future__ import annotations

import random
from typing import Any

from selfalign.constraints import augment, train_types


def round_seed(seed: int, round_: int) -> int:
    """Round r samples with its own seed: round 2 must not redraw round 1's samples."""
    return seed + 1000 * (round_ - 1)


def redraw_constraints(recs: list[dict[str, Any]], seed: int, round_: int) -> list[dict[str, Any]]:
    """From round 2 on, each constrained instruction gets freshly drawn training-type constraints (as
    many as before) on its base text, so a round is trained on new tasks, not round 1's again."""
    if round_ < 2:
        return recs
    out = []
    for r in recs:
        base = ((r.get("gen") or {}).get("augment") or {}).get("base_text")
        if not r.get("constraints") or not base:
            out.append(r)
            continue
        rng = random.Random(f"{seed}:round{round_}:{r['id']}")
        text, cs = augment(base, rng, k=len(r["constraints"]), allowed_types=train_types())
        out.append({**r, "text": text, "constraints": cs})
    return out


def round_window(
    recs: list[dict[str, Any]], limit: int | None, seed: int, round_: int
) -> list[dict[str, Any]]:
    """The instructions round r answers: the r-th block of ``limit`` (instructions no earlier round saw);
    when the split runs out, the block is topped up from the start with constraints redrawn for round r.

    ``limit`` None (every instruction, every round) means the whole list with redrawn constraints.
    """
    size = len(recs) if limit is None else min(limit, len(recs))
    if round_ < 2:
        return recs[:size]
    start = size * (round_ - 1)
    fresh = recs[start : start + size] if limit is not None else []
    seen = redraw_constraints(recs[: size - len(fresh)], seed, round_)
    return fresh + seen
