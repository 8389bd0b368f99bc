"""Stage ``split``: the held-out test set, split off before any training data exists.

Stratified by category (``data.split.split_held_out``: each category gives ``test_fraction`` of its items,
at least one when it has two or more); training items that near-duplicate a test item are dropped
(``data.split.remove_leakage``). Then constraints are attached
(``constraints.augment``) to a fraction of each side: training items get training types only, test items
any type, and ``test_heldout_share`` of the constrained test items get held-out types only
(``HELD_OUT_TYPES``), which is what measures generalisation to constraints never trained on.

The leakage check compares train and test exactly (normalized) and by near-duplicates on the *base* text
(before the constraint sentence: two different tasks with the same long constraint sentence would look
alike without being a leak). Any leak raises :class:`GateError`; the manifest records the figures.

Outputs: ``train.jsonl``, ``test.jsonl`` (instruction schema) and the manifest.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from selfalign.constraints import HELD_OUT_TYPES, all_types, augment, train_types
from selfalign.data.dedup import normalize
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.schemas import validate_file
from selfalign.data.split import leakage as leak_pairs
from selfalign.data.split import remove_leakage, split_held_out
from selfalign.errors import ConfigError, GateError
from selfalign.prompts.builders import heldout_overlap
from selfalign.stages.base import StageContext, StageResult, finish

TRAIN_FILE, TEST_FILE = "train.jsonl", "test.jsonl"


class SplitConfig(BaseModel):
    """The ``split`` section of the run config."""

    model_config = ConfigDict(extra="forbid")

    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0, description="share of each category held out")
    train_constraint_fraction: float = Field(
        default=0.3, ge=0.0, le=1.0, description="share of training items given verifiable constraints"
    )
    test_constraint_fraction: float = Field(
        default=0.5, ge=0.0, le=1.0, description="share of test items given verifiable constraints"
    )
    test_heldout_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="share of constrained test items whose constraints are all held-out types",
    )
    constraints_per_item: int = Field(default=1, ge=1, le=3, description="constraints attached to an item")
    constraint_count_weights: list[float] | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        description="relative weights of 1, 2 and 3 constraints per constrained item, drawn per item "
        "(e.g. [0.6, 0.3, 0.1]); null = always constraints_per_item",
    )
    seed: int = Field(default=0, description="seed of the split and of constraint sampling")

    @field_validator("constraint_count_weights")
    @classmethod
    def _weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (any(w < 0 for w in v) or sum(v) <= 0):
            raise ValueError("weights must be >= 0 with a positive sum")
        return v


def _constrain(record: dict[str, Any], side: str, cfg: SplitConfig) -> dict[str, Any]:
    """The record with constraints attached (or unchanged), by a draw that depends only on its id."""
    rng = random.Random(f"{cfg.seed}:constraints:{side}:{record['id']}")
    fraction = cfg.train_constraint_fraction if side == "train" else cfg.test_constraint_fraction
    if record.get("constraints") or rng.random() >= fraction:
        return record
    if side == "train":
        allowed, pool = train_types(), "train"
    elif rng.random() < cfg.test_heldout_share:
        allowed, pool = sorted(HELD_OUT_TYPES), "held_out"
    else:
        allowed, pool = all_types(), "all"
    k = cfg.constraints_per_item
    if cfg.constraint_count_weights is not None:
        k = rng.choices(range(1, len(cfg.constraint_count_weights) + 1), cfg.constraint_count_weights)[0]
    text, cs = augment(record["text"], rng, k=k, allowed_types=allowed)
    gen = dict(record.get("gen") or {})
    gen["augment"] = {"base_text": record["text"], "types_from": pool}
    return {**record, "text": text, "constraints": cs, "gen": gen}


def base_text(record: dict[str, Any]) -> str:
    """The instruction before any constraint sentence was attached."""
    aug = (record.get("gen") or {}).get("augment") or {}
    return str(aug.get("base_text", record["text"]))


def leakage(train: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Exact (normalized) and near-duplicate overlap between train and test, on base and final text."""
    test_norm = {normalize(base_text(r)) for r in test} | {normalize(r["text"]) for r in test}
    exact = sum(normalize(base_text(r)) in test_norm or normalize(r["text"]) in test_norm for r in train)
    pairs = leak_pairs([base_text(r) for r in train], [base_text(r) for r in test])
    examples = [(train[i]["id"], test[j]["id"], s) for i, j, s in pairs[:5]]
    return {"exact": exact, "near_duplicate_pairs": len(pairs), "examples": examples}


def _per_category(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(r["category"] for r in records).items()))


def _n_constraints(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(str(len(r["constraints"])) for r in records if r.get("constraints")).items()))


def _constraint_types(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(c["type"] for r in records for c in r.get("constraints") or []).items()))


def run(ctx: StageContext) -> StageResult:
    cfg = ctx.config
    if not isinstance(cfg, SplitConfig):
        raise ConfigError(f"split: expected a SplitConfig, got {type(cfg).__name__}")
    if "instructions" not in ctx.inputs:
        raise ConfigError("split: no 'instructions' input (the instructions JSONL)")
    started = time.perf_counter()
    records = [r.model_dump(mode="json") for r in validate_file(ctx.inputs["instructions"], "instruction")]
    train, test = split_held_out(records, cfg.test_fraction, cfg.seed)
    if not test:
        raise GateError(
            f"split: no held-out items: {len(records)} instructions, no category has two or more"
        )
    # The generation stage already dedups everything against everything, so this drops nothing on its
    # output; it matters for hand-made or merged input files.
    train, leaked = remove_leakage(train, test)
    train = [_constrain(r, "train", cfg) for r in train]
    test = [_constrain(r, "test", cfg) for r in test]
    held_in_train = [
        r["id"] for r in train for c in r.get("constraints") or [] if c["type"] in HELD_OUT_TYPES
    ]
    if held_in_train:
        raise GateError(f"split: held-out constraint types in training items {held_in_train[:3]}")
    leaks = leakage(train, test)
    if leaks["exact"] or leaks["near_duplicate_pairs"]:
        raise GateError(
            f"split: train/test leakage: {leaks['exact']} exact, "
            f"{leaks['near_duplicate_pairs']} near-duplicate "
            f"pairs, e.g. {leaks['examples'][:2]}"
        )
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    train_path, test_path = ctx.out_dir / TRAIN_FILE, ctx.out_dir / TEST_FILE
    write_jsonl_atomic(test_path, test)
    write_jsonl_atomic(train_path, train)
    counts = {
        "input": len(records),
        "train": len(train),
        "test": len(test),
        "train_dropped_as_leak": len(leaked),
        "train_constrained": sum(bool(r.get("constraints")) for r in train),
        "test_constrained": sum(bool(r.get("constraints")) for r in test),
        "test_heldout_constrained": sum(
            any(c["type"] in HELD_OUT_TYPES for c in r.get("constraints") or []) for r in test
        ),
    }
    metrics = {
        "per_category": {"train": _per_category(train), "test": _per_category(test)},
        "constraint_types": {"train": _constraint_types(train), "test": _constraint_types(test)},
        "constraints_per_item": {"train": _n_constraints(train), "test": _n_constraints(test)},
        "leakage": leaks,
        # Pool entries a response prompt must not show (they near-copy a test item); informative here.
        "pool_entries_overlapping_test": heldout_overlap([base_text(r) for r in test]),
    }
    return finish(ctx, cfg, started, {"train": train_path, "test": test_path}, counts, metrics)
