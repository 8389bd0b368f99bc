"""Every stored constraint example obeys its constraints, as judged by selfalign.constraints' checkers."""

from __future__ import annotations

import itertools

from selfalign.constraints import check_all, passes_all, validate_constraints
from selfalign.prompts import pools


def test_every_constraint_example_passes_its_checks() -> None:
    failing = {}
    for e in pools.constraint_examples():
        constraints = [dict(c) for c in e.constraints]
        validate_constraints(constraints)
        if not passes_all(e.response, constraints):
            failing[e.id] = check_all(e.response, constraints)
    assert not failing, failing


def test_the_checks_can_fail_on_these_examples() -> None:
    # Guards against a checker that passes everything: most examples fail another example's constraints.
    cons = pools.constraint_examples()
    rejected = sum(
        not passes_all(other.response, [dict(c) for c in e.constraints])
        for e, other in itertools.pairwise(cons)
    )
    assert rejected >= len(cons) // 2
