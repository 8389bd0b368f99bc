"""Verifiable instruction constraints (IFEval-style): describe, check, combine, attach.

A constraint is a dict ``{"type": <name>, "params": {...}}``; see ``docs/CONSTRAINTS.md`` for the types,
how each is checked, the conflict table and the held-out split.
"""

from selfalign.constraints.augment import attach, augment, describe_all
from selfalign.constraints.base import CheckResult, ConstraintType
from selfalign.constraints.check import check, check_all, passes_all
from selfalign.constraints.compat import CONFLICTS, compatible, conflict_reason
from selfalign.constraints.consistency import conflicts, is_consistent
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
    "REGISTRY",
    "CheckResult",
    "ConstraintType",
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
    "is_consistent",
    "passes_all",
    "train_types",
    "validate_constraint",
    "validate_constraints",
]
