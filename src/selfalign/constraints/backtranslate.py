"""Constraint back-translation: state, as an instruction, the constraints an answer already satisfies.

A 270M base model rarely obeys a format demand when asked (docs/results/history.md: 28% of constrained
training instructions get a passing sample in 4 tries, and most types never pass), but every answer it writes
satisfies *some* verifiable constraints: it has a word count, a first and a last phrase, a number of
sentences, words it does or does not use. Attaching those constraints to the instruction (Qi et al. 2024,
"Constraint Back-translation", the Crab dataset) turns every clean answer into a training example whose
label is exact by construction: the code checks decide which constraints go in, so none can be false.
Only the instruction changes; the answer is the model's own text, untouched.

Parameters are read off the answer where a type's own sampler would almost never fit it (a word budget just
above its length, its first/last words, words it uses, counts it has); other types draw from their sampler.
Every candidate is re-checked with the type's own check, so a parameter chosen here is one the answer passes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

from selfalign.constraints.augment import attach
from selfalign.constraints.compat import compatible
from selfalign.constraints.consistency import is_consistent
from selfalign.constraints.counting import RELATIONS
from selfalign.constraints.registry import REGISTRY, train_types
from selfalign.constraints.text import words
from selfalign.errors import DataError

DRAWS = 6  # sampler draws per type without a reader; enough for the draws that pass often to show up
_COUNTED = {  # types whose only free parameter is a count: try each count, keep those the answer has
    "bullet_count": range(1, 9),
    "numbered_list": range(1, 9),
    "sentence_count": range(1, 9),
    "paragraph_count": range(2, 7),
    "placeholders": range(1, 4),
}


def _edge_phrases(text: str, rng: random.Random, *, end: bool) -> list[dict[str, Any]]:
    """The answer's first (or last) 1-4 whitespace-separated tokens, as the phrase it starts (ends) with."""
    tokens = text.split()
    if not tokens:
        return []
    n = rng.randint(1, min(4, len(tokens)))
    return [{"phrase": " ".join(tokens[-n:] if end else tokens[:n])}]


def _read(name: str, text: str, rng: random.Random) -> list[dict[str, Any]] | None:
    """Parameters read off ``text`` for the types a random draw would rarely fit; None = use the sampler."""
    count = len(words(text))
    if name == "max_words":
        return [{"n": 5 * math.ceil((count + rng.randint(1, 15)) / 5)}]
    if name == "min_words":
        return [{"n": 5 * ((count - rng.randint(0, 10)) // 5)}] if count >= 15 else []
    if name in ("starts_with", "ends_with"):
        return _edge_phrases(text, rng, end=name == "ends_with")
    if name == "include_words":
        pool = sorted({w.lower() for w in words(text) if w.isalpha() and len(w) >= 4})
        return [{"words": rng.sample(pool, min(len(pool), rng.randint(1, 2)))}] if pool else []
    if name == "capital_word_frequency":
        return [{"relation": r, "n": n} for r in RELATIONS for n in range(1, 5)]
    if name in _COUNTED:
        base = REGISTRY[name].sample_params(rng)
        return [{**base, "n": n} for n in _COUNTED[name]]
    return None


def satisfied(
    text: str, instruction: str, rng: random.Random, types: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """One parameter set per type that ``text`` passes as an answer to ``instruction`` (type -> params).

    ``types`` defaults to the training types (held-out types are never used); non-attachable types are
    skipped. Deterministic given the ``rng`` state.
    """
    out: dict[str, dict[str, Any]] = {}
    pool = train_types() if types is None else sorted(set(types))
    for name in pool:
        ctype = REGISTRY[name]
        if not ctype.attachable:
            continue
        read = _read(name, text, rng)
        options = read if read is not None else [ctype.sample_params(rng) for _ in range(DRAWS)]
        passing = []
        for params in options:
            try:
                bound = ctype.bind(ctype.validate(params), instruction)
            except DataError:  # a phrase read off the answer that the type's schema does not allow
                continue
            if bound is not None and ctype.check(text, bound).passed:
                passing.append(bound)
        if passing:
            out[name] = rng.choice(passing)
    return out


def back_translate(
    instruction: str,
    text: str,
    rng: random.Random,
    k: int,
    types: Iterable[str] | None = None,
) -> tuple[str, list[dict[str, Any]]] | None:
    """``(instruction + the constraints, constraints)`` for up to ``k`` constraints ``text`` satisfies.

    The constraints are mutually compatible and consistent, drawn at random among the satisfied types;
    None when the answer satisfies none. The wording of each is drawn from ``rng`` like ``augment``'s.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    found = satisfied(text, instruction, rng, types)
    names = sorted(found)
    rng.shuffle(names)
    chosen: list[dict[str, Any]] = []
    for name in names:
        if len(chosen) == k:
            break
        if not all(compatible(name, c["type"]) for c in chosen):
            continue
        trial = [*chosen, {"type": name, "params": found[name]}]
        if is_consistent(trial):
            chosen = trial
    if not chosen:
        return None
    return attach(instruction, chosen, rng), chosen
