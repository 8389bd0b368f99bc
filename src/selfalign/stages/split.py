"""Stage ``split``: the held-out test set, split off before any training data exists.

Stratified by category (``data.split.split_held_out``: each category gives ``test_fraction`` of its items,
at least one when it has two or more); training items that near-duplicate a test item are dropped
(``data.split.remove_leakage``). Then constraints are attached
(``constraints.augment``) to a fraction of each side: training items get training types only, test items
any type, and ``test_heldout_share`` of the constrained test items get held-out types only
(``HELD_OUT_TYPES``), which is what measures generalisation to constraints never trained on.
``test_unseen_wording_share`` of the constrained test items (drawn independently of the types) are
phrased with the held-out wordings, woven into the instruction (``constraints.weave``) instead of the
training sentences appended after it, and marked ``wording: "unseen"`` (the rest ``"seen"``).

``dev_fraction`` carves a dev split from the *training* instructions (stratified by category, its own
seeded draw): the items hyper-parameters are chosen on. Dev items get training types and training
wordings only, so no choice made on dev ever looks at a held-out type or wording; they are never trained on.

The leakage check compares train and test exactly (normalized) and by near-duplicates on the *base* text
(before the constraint sentence: two different tasks with the same long constraint sentence would look
alike without being a leak). Any leak raises :class:`GateError`; the manifest records the figures.

Outputs: ``train.jsonl``, ``test.jsonl``, ``dev.jsonl`` when ``dev_fraction`` > 0 (instruction schema) and the
manifest (sizes, shares and the dev split's seed).

New settings at their defaults leave the config's dump (a part of the stage's cache key) and the output
files exactly as before they existed (``tests/test_split_heldout.py`` pins both).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from selfalign.constraints import HELD_OUT_TYPES, all_types, augment, train_types
from selfalign.constraints.weave import weave
from selfalign.data.dedup import normalize
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.schemas import validate_file
from selfalign.data.split import leakage as leak_pairs
from selfalign.data.split import remove_leakage, split_held_out
from selfalign.errors import ConfigError, GateError
from selfalign.prompts.builders import heldout_overlap
from selfalign.stages.base import StageContext, StageResult, finish

TRAIN_FILE, TEST_FILE, DEV_FILE = "train.jsonl", "test.jsonl", "dev.jsonl"
# Settings added after runs were cached: omitted from the dump at these defaults so an old config keeps its
# cache key (the dump is part of it) and its meaning.
_LATER_DEFAULTS: dict[str, Any] = {
    "test_unseen_wording_share": 0.0, "dev_fraction": 0.0, "dev_seed": None, "dev_constraint_fraction": 1.0,
}  # fmt: skip


class SplitConfig(BaseModel):
    """The ``split`` section of the run config."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

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
    test_unseen_wording_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of constrained test items whose constraints are woven into the instruction with "
        "held-out wordings never used in training (marked wording: unseen); drawn independently of the types",
    )
    dev_fraction: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="share of each category of the training instructions carved out as the dev split (for "
        "choosing hyper-parameters; never trained on); 0 = no dev split",
    )
    dev_seed: int | None = Field(default=None, description="seed of the dev draw; null = the split's seed")
    dev_constraint_fraction: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="share of dev items given constraints (training types and wordings only)",
    )

    @field_validator("constraint_count_weights")
    @classmethod
    def _weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (any(w < 0 for w in v) or sum(v) <= 0):
            raise ValueError("weights must be >= 0 with a positive sum")
        return v

    @model_serializer(mode="wrap")
    def _omit_later_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key, default in _LATER_DEFAULTS.items():
            if key in data and data[key] == default:
                del data[key]
        return data

    @property
    def dev_draw_seed(self) -> int:
        return self.seed if self.dev_seed is None else self.dev_seed


_FRACTION = {"train": "train_constraint_fraction", "test": "test_constraint_fraction",
             "dev": "dev_constraint_fraction"}  # fmt: skip


def _constrain(record: dict[str, Any], side: str, cfg: SplitConfig) -> dict[str, Any]:
    """The record with constraints attached (or unchanged), by a draw that depends only on its id."""
    rng = random.Random(f"{cfg.seed}:constraints:{side}:{record['id']}")
    fraction = getattr(cfg, _FRACTION[side])
    if record.get("constraints") or rng.random() >= fraction:
        return record
    if side in ("train", "dev"):
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
    out = {**record, "text": text, "constraints": cs, "gen": gen}
    if side == "test" and cfg.test_unseen_wording_share > 0:
        # Its own stream: the constraints drawn above are those the item gets whatever its wording.
        wrng = random.Random(f"{cfg.seed}:wording:{record['id']}")
        out["wording"] = "seen"
        if wrng.random() < cfg.test_unseen_wording_share:
            out["text"], shape = weave(record["text"], cs, wrng)
            out["wording"] = "unseen"
            gen["augment"] = {**gen["augment"], "wording": "unseen", "weave": shape}
    return out


def _dump(record: BaseModel) -> dict[str, Any]:
    """A validated instruction as a dict; an unset ``wording`` stays absent, as in files written before it."""
    out = record.model_dump(mode="json")
    if out.get("wording") is None:
        out.pop("wording", None)
    return out


def held_out_shares(test: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The held-out counts issue 26 sets floors on: verifiable items, items whose constraints are all
    never-trained types, items with 2-3 constraints, items with unseen wordings."""
    constrained = [r for r in test if r.get("constraints")]
    return {
        "test_verifiable": len(constrained),
        "test_heldout_types_only": sum(all(c["type"] in HELD_OUT_TYPES for c in r["constraints"])
                                       for r in constrained),
        "test_multi_constraint": sum(len(r["constraints"]) >= 2 for r in constrained),
        "test_unseen_wording": sum(r.get("wording") == "unseen" for r in constrained),
    }  # fmt: skip


def _shapes(test: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How the unseen-wording items were woven (``constraints.weave`` shapes)."""
    woven = Counter(r["gen"]["augment"]["weave"] for r in test if r.get("wording") == "unseen")
    return dict(sorted(woven.items()))


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
    records = [_dump(r) for r in validate_file(ctx.inputs["instructions"], "instruction")]
    train, test = split_held_out(records, cfg.test_fraction, cfg.seed)
    if not test:
        raise GateError(f"split: no held-out items: {len(records)} instructions, no category has two or more")
    # The generation stage already dedups everything against everything, so this drops nothing on its
    # output; it matters for hand-made or merged input files.
    train, leaked = remove_leakage(train, test)
    dev: list[dict[str, Any]] = []
    if cfg.dev_fraction > 0:  # carved from the training side only, after the test set is fixed
        train, dev = split_held_out(train, cfg.dev_fraction, cfg.dev_draw_seed, salt="dev")
        train, dev_leaked = remove_leakage(train, dev)
        leaked += dev_leaked
    train = [_constrain(r, "train", cfg) for r in train]
    dev = [_constrain(r, "dev", cfg) for r in dev]
    test = [_constrain(r, "test", cfg) for r in test]
    held_in_train = [
        r["id"] for r in train + dev for c in r.get("constraints") or [] if c["type"] in HELD_OUT_TYPES
    ]
    if held_in_train:
        raise GateError(f"split: held-out constraint types in training or dev items {held_in_train[:3]}")
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
    outputs = {"train": train_path, "test": test_path}
    if dev:
        outputs["dev"] = ctx.out_dir / DEV_FILE
        write_jsonl_atomic(outputs["dev"], dev)
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
        **held_out_shares(test),
        "dev": len(dev),
    }
    metrics = {
        "per_category": {"train": _per_category(train), "test": _per_category(test)},
        "constraint_types": {"train": _constraint_types(train), "test": _constraint_types(test)},
        "constraints_per_item": {"train": _n_constraints(train), "test": _n_constraints(test)},
        "leakage": leaks,
        "unseen_wording_shapes": _shapes(test),
        "dev": {
            "size": len(dev),
            "fraction": cfg.dev_fraction,
            "seed": cfg.dev_draw_seed,
            "per_category": _per_category(dev),
            "constraints_per_item": _n_constraints(dev),
            "leakage_with_test": leakage(dev, test) if dev else None,
        },
        # Pool entries a response prompt must not show (they near-copy a test item); informative here.
        "pool_entries_overlapping_test": heldout_overlap([base_text(r) for r in test]),
    }
    return finish(ctx, cfg, started, outputs, counts, metrics)
