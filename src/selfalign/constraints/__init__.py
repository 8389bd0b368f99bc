"""Verifiable instruction constraints (IFEval-style): describe, check, combine, attach.

A constraint is a dict ``{"type": <name>, "params": {...}}``; see ``docs/CONSTRAINTS.md`` for the types,
how each is checked, the conflict table, the held-out split and the IFEval mapping and scores.
"""

from selfalign.constraints.augment import attach, augment, describe_all
from selfalign.constraints.base import CheckResult, ConstraintType
from selfalign.constraints.check import check, check_all, passes_all, words_needed
from selfalign.constraints.compat import CONFLICTS, compatible, conflict_reason
from selfalign.constraints.consistency import conflicts, is_consistent
from selfalign.constraints.ifeval import (
    IfevalResult,
    IfevalScores,
    ifeval_result,
    ifeval_scores,
    loose_variants,
)
from selfalign.constraints.ifeval_map import IFEVAL_COVERAGE, IFEVAL_GROUPS, types_for
from selfalign.constraints.registry import (
    HELD_OUT_TYPES,
    REGISTRY,
    all_types,
    get_type,
    train_types,
    validate_constraint,
    validate_constraints,
)

__all__ = [
    "CONFLICTS",
    "HELD_OUT_TYPES",
    "IFEVAL_COVERAGE",
    "IFEVAL_GROUPS",
    "REGISTRY",
    "CheckResult",
    "ConstraintType",
    "IfevalResult",
    "IfevalScores",
    "all_types",
    "attach",
    "augment",
    "check",
    "check_all",
    "compatible",
    "conflict_reason",
    "conflicts",
    "describe_all",
    "get_type",
    "ifeval_result",
    "ifeval_scores",
    "is_consistent",
    "loose_variants",
    "passes_all",
    "train_types",
    "types_for",
    "validate_constraint",
    "validate_constraints",
    "words_needed",
]
