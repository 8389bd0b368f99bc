"""The labeled check set: (instruction, good, bad) triples whose truth is known by construction.

Built from the packaged few-shot pools (hand-written, so the pool answer is right by construction):
- ``constraint``: the pool answer that obeys its constraints vs a variant edited until a checker fails;
- ``other``: the pool answer vs the answer to another instruction (of another category);
- ``truncated``: the pool answer vs the same answer cut off mid-sentence;
- ``refusal``: the pool answer vs a canned refusal.
These constructed texts measure the critic only; they never become training data.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from selfalign.constraints import passes_all
from selfalign.judge.types import PairItem
from selfalign.prompts import pools

KINDS: tuple[str, ...] = ("constraint", "other", "truncated", "refusal")
OPEN_KINDS: tuple[str, ...] = ("other", "truncated", "refusal")  # what open-ended judging must catch
REFUSAL = "I'm sorry, I can't help with that."
_TERMINAL = ".!?\"')]"


@dataclass(frozen=True)
class Case:
    """One check: ``pair`` shows good and bad in the order drawn; ``good_is_b`` says which slot is right."""

    kind: str
    pair: PairItem
    good_is_b: bool


def truncate(text: str, rng: random.Random) -> str | None:
    """Cut ``text`` mid-sentence (40-70% of its words, never at a sentence end); None if too short."""
    words = list(re.finditer(r"\S+", text))
    if len(words) < 8:
        return None
    for _ in range(8):
        cut = rng.randint(int(len(words) * 0.4), int(len(words) * 0.7))
        last = words[cut - 1]
        if last.group()[-1] not in _TERMINAL + ",:;":
            return text[: last.end()]  # keep the original layout up to the cut
    return None


def _violations(text: str) -> list[Callable[[str], str]]:
    lines = text.splitlines()
    out: list[Callable[[str], str]] = [
        lambda t: t.upper(),
        lambda t: t.lower(),
        lambda t: t + " Also, here are 2 more things, for example this one, and that one.",
        lambda t: " ".join(t.split()[: max(1, len(t.split()) // 2)]),
        lambda t: t[1:-1] if len(t) > 2 else t + "!",
        lambda t: t + "\n\n" + t,
    ]
    if len(lines) > 1:
        out.insert(0, lambda t: "\n".join(t.splitlines()[:-1]))
    return out


def violate(text: str, constraints: Sequence[dict[str, Any]], rng: random.Random) -> str | None:
    """A variant of ``text`` that fails at least one constraint (edits tried in random order), or None."""
    edits = _violations(text)
    rng.shuffle(edits)
    for edit in edits:
        bad = edit(text)
        if bad.strip() and bad != text and not passes_all(bad, list(constraints)):
            return bad
    return None


def build(n_per_kind: int = 24, seed: int = 0, kinds: Sequence[str] = KINDS) -> list[Case]:
    """Up to ``n_per_kind`` cases of each kind, deterministic in ``seed``; good alternates between slots."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown check kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    rng = random.Random(seed)
    plain = list(pools.examples())
    rng.shuffle(plain)
    cases: list[Case] = []
    for kind in kinds:
        triples: list[tuple[str, str, str, str, tuple[dict[str, Any], ...]]] = []
        if kind == "constraint":
            cons = list(pools.constraint_examples())
            rng.shuffle(cons)
            for e in cons:
                bad = violate(e.response, e.constraints, rng)
                if bad is not None:
                    triples.append((e.id, e.instruction, e.response, bad, e.constraints))
        else:
            for e in plain:
                if kind == "other":
                    bad = rng.choice([o for o in plain if o.category != e.category]).response
                elif kind == "truncated":
                    bad = truncate(e.response, rng)
                else:
                    bad = REFUSAL
                if bad is not None:
                    triples.append((e.id, e.instruction, e.response, bad, ()))
        for i, (eid, instruction, good, bad, cons) in enumerate(triples[:n_per_kind]):
            good_is_b = i % 2 == 1
            a, b = (bad, good) if good_is_b else (good, bad)
            cases.append(Case(kind, PairItem(f"{kind}:{eid}", instruction, a, b, cons), good_is_b))
    return cases
