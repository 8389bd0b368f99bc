"""Few-shot completion prompts for a base model (never a chat template), and the parser for generated lists.

Every builder is a pure function of its arguments (and the packaged pools): the same rng state gives the
same prompt, so a stored prompt can always be traced back to its seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from rapidfuzz import fuzz, process, utils

from selfalign.constraints import HELD_OUT_TYPES
from selfalign.prompts import pools
from selfalign.prompts.format import get_format
from selfalign.prompts.pools import Example

NEAR_DUPLICATE = 90.0  # rapidfuzz token_set_ratio on lowercased, punctuation-free text

_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)](?:\s+(.*))?\s*$")


def normalize(text: str) -> str:
    """Lowercase, non-alphanumerics to spaces, trimmed: the form near-duplicates are compared in."""
    return utils.default_process(text)


def is_near_duplicate(a: str, b: str, threshold: float = NEAR_DUPLICATE) -> bool:
    na, nb = normalize(a), normalize(b)
    return bool(na and nb) and fuzz.token_set_ratio(na, nb) >= threshold


def _pick(rng: random.Random, pool: list[Example]) -> Example:
    choice = rng.choice(pool)
    pool.remove(choice)
    return choice


def _draw(rng: random.Random, candidates: list[Example], k: int, category: str | None) -> list[Example]:
    """k examples, one per category while categories last; one of ``category`` first when there is one."""
    by_cat: dict[str, list[Example]] = {}
    for e in candidates:
        by_cat.setdefault(e.category, []).append(e)
    chosen: list[Example] = []
    if k > 0 and category is not None and by_cat.get(category):
        chosen.append(_pick(rng, by_cat[category]))
    order: list[str] = []
    while len(chosen) < k:
        if not order:
            # Each round visits every category that still has examples, in a fresh random order, so
            # categories repeat only once all have been used.
            used = {e.category for e in chosen}
            order = [c for c in pools.categories() if by_cat.get(c) and c not in used]
            if not order:
                order = [c for c in pools.categories() if by_cat.get(c)]
            rng.shuffle(order)
        chosen.append(_pick(rng, by_cat[order.pop()]))
    return chosen


def train_constraint_examples() -> tuple[Example, ...]:
    """Constraint examples that use no held-out constraint type (safe to show in training prompts)."""
    return tuple(
        e for e in pools.constraint_examples() if not any(c["type"] in HELD_OUT_TYPES for c in e.constraints)
    )


def response_prompt(
    instruction: str,
    rng: random.Random,
    k: int = 3,
    exclude_ids: Iterable[str] = (),
    category: str | None = None,
    constrained: bool = False,
    constraint_types: Iterable[str] = (),
) -> tuple[str, list[str]]:
    """Few-shot prompt that asks the base model to answer ``instruction``; returns (prompt, example ids).

    The k shots are drawn by ``rng`` from the plain pool, mixing categories; with ``category`` one shot is
    of that category, with ``constrained`` one shot is a constraint example (it shows that stated
    constraints are obeyed) whose types are all training types: an example of a held-out type
    (``selfalign.constraints.HELD_OUT_TYPES``) would leak it into training data. Pool entries in
    ``exclude_ids`` or near-duplicates of ``instruction`` are never shown, so a model cannot copy the
    answer of the very task it is given. With ``constraint_types`` (the instruction's own types) the
    constraint shot is drawn from the examples that show one of those types, when any is usable: a shot
    of another type rarely teaches the asked one (measured: see docs/RESULTS.md).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if category is not None and category not in pools.categories():
        raise ValueError(f"unknown category {category!r}; known: {', '.join(pools.categories())}")
    excluded = set(exclude_ids)

    def usable(e: Example) -> bool:
        return e.id not in excluded and not is_near_duplicate(e.instruction, instruction)

    plain = [e for e in pools.examples() if usable(e)]
    shots: list[Example] = []
    if constrained and k > 0:
        with_constraints = [e for e in train_constraint_examples() if usable(e)]
        if not with_constraints:
            raise ValueError("no constraint example left after exclusions")
        wanted = set(constraint_types)
        matching = [e for e in with_constraints if wanted & {c["type"] for c in e.constraints}]
        shots.append(rng.choice(matching or with_constraints))
    need = k - len(shots)
    if need > len(plain):
        raise ValueError(f"asked for {k} examples but only {len(plain) + len(shots)} are usable")
    shots += _draw(rng, plain, need, category)
    rng.shuffle(shots)
    prompt = get_format().few_shot([(e.instruction, e.response) for e in shots], instruction)
    return prompt, [e.id for e in shots]


def instruction_prompt(
    category: str, rng: random.Random, k: int = 6, exclude_ids: Iterable[str] = ()
) -> str:
    """List-continuation prompt: the category header, k numbered seeds drawn by ``rng``, then "{k+1}."."""
    fmt = pools.list_format()
    excluded = set(exclude_ids)
    candidates = [s.instruction for s in pools.seeds(category) if s.id not in excluded]
    if not 1 <= k <= len(candidates):
        raise ValueError(f"k must be between 1 and {len(candidates)} for {category!r}, got {k}")
    chosen = rng.sample(candidates, k)
    lines = [fmt.headers[category]]
    lines += [fmt.item.format(n=i + 1, text=text) for i, text in enumerate(chosen)]
    lines.append(fmt.item.format(n=k + 1, text="").rstrip())
    return "\n".join(lines)


def instruction_stop() -> tuple[str, ...]:
    """Stop strings to pass with :func:`instruction_prompt` (a blank line ends the list)."""
    return pools.list_format().stop


def parse_instruction_list(completion: str, start: int | None = None) -> list[str]:
    """The instructions in a completion of :func:`instruction_prompt` (rule: ``instruction_prompt.yaml``).

    ``start`` is the number the prompt ended with (k+1); given, the following items must count up from
    it, otherwise from whatever number the second item has.
    """
    fmt = pools.list_format()
    lines = completion.split("\n")
    items: list[str] = []
    prev = start
    first = lines[0]
    if first.strip():
        m = _NUMBERED.match(first)  # tolerate a completion that repeats the "k+1." itself
        items.append((m.group(2) or "") if m else first.strip())
    elif start is not None:
        prev = start - 1  # the model began item k+1 on the next line
    ran_to_end = True
    for line in lines[1:]:
        m = _NUMBERED.match(line)
        if not line.strip() or m is None or (prev is not None and int(m.group(1)) != prev + 1):
            ran_to_end = False
            break
        prev = int(m.group(1))
        items.append(m.group(2) or "")
    last = items[-1].strip() if items else ""
    if ran_to_end and last and last[-1] not in fmt.terminal:
        items.pop()  # generation was cut inside the last item
    out = []
    for text in (t.strip() for t in items):
        if any(p.search(text) for p in fmt.meta_patterns):
            continue
        if len(text.split()) < fmt.min_words or len(text) > fmt.max_chars or not re.search(r"[^\W\d_]", text):
            continue
        out.append(text)
    return out


def urial_example_ids(k: int = 3, seed: int = 0, exclude_ids: Iterable[str] = ()) -> list[str]:
    """The fixed shots of the base-few-shot condition: k of ``urial.yaml``'s ids drawn with ``seed``."""
    excluded = set(exclude_ids)
    candidates = [i for i in pools.urial_ids() if i not in excluded]
    if not 0 <= k <= len(candidates):
        raise ValueError(f"k must be between 0 and {len(candidates)}, got {k}")
    return random.Random(seed).sample(candidates, k)


def urial_prompt(instruction: str, k: int = 3, seed: int = 0, exclude_ids: Iterable[str] = ()) -> str:
    """Base-few-shot evaluation prompt: the same k solved examples before every evaluation instruction.

    Pass the ids from :func:`heldout_overlap` of the whole test set as ``exclude_ids`` so the shots stay
    the same for every item and never answer a test item.
    """
    shots = [pools.example_by_id(i) for i in urial_example_ids(k, seed, exclude_ids)]
    return get_format().few_shot([(e.instruction, e.response) for e in shots], instruction)


def heldout_overlap(instructions: Iterable[str], threshold: float = NEAR_DUPLICATE) -> list[str]:
    """Ids of pool entries (examples, constraint examples, seeds) that near-duplicate any of ``instructions``.

    Callers pass these as ``exclude_ids`` so a held-out item never appears, solved, in a prompt.
    """
    queries = [q for q in (normalize(t) for t in instructions) if q]
    entries = [*pools.examples(), *pools.constraint_examples(), *pools.seeds()]
    if not queries:
        return []
    choices = [normalize(e.instruction) for e in entries]
    scores = process.cdist(choices, queries, scorer=fuzz.token_set_ratio, score_cutoff=threshold)
    return [e.id for e, row in zip(entries, scores, strict=True) if row.max() >= threshold]
