"""Stage ``instructions``: the base model writes its own instructions by continuing numbered lists.

Each prompt is a category header and k seed instructions (``builders.instruction_prompt``); the model
continues the list. Items are parsed (``parse_instruction_list``: length bounds, meta lines, cut-off
fragments), refused when they carry a format marker or copy a seed, then deduplicated (normalized exact
and near-duplicate, ``data.dedup.Deduper``) against everything kept so far. Each category keeps at most
``ceil(n / categories)`` items. The stage stops at ``n`` unique items or when ``max_prompts`` is spent,
and says which (``stopped_by`` in the manifest).

Resume: batch ``b`` is a pure function of the config and the items kept before it, so one shard per batch
(``attempts.jsonl.shards``) holds that batch's statistics and kept records; a restarted run replays the
shards into the dedup state and continues at the next batch, giving exactly the uninterrupted output.

Outputs: ``instructions.jsonl`` (instruction schema, ``source="generated"``, ``constraints=null``:
constraints are attached by the ``split`` stage, which knows which side an item lands on),
``attempts.jsonl`` (one line per batch: prompts, raw completions, drop reasons) and the manifest.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from selfalign.data.dedup import Deduper, near_duplicate_pairs, normalize
from selfalign.data.jsonl import ShardWriter, iter_jsonl, write_jsonl_atomic
from selfalign.engine import GenParams
from selfalign.errors import ConfigError
from selfalign.prompts import pools
from selfalign.prompts.builders import instruction_prompt, instruction_stop, parse_instruction_list
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext, StageResult, finish

DATA_FILE = "instructions.jsonl"
ATTEMPTS_FILE = "attempts.jsonl"
DROP_REASONS = ("format_marker", "seed_copy", "duplicate", "near_duplicate", "quota", "target_reached")


class InstructionsConfig(BaseModel):
    """The ``instructions`` section of the run config."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    n: int = Field(
        default=200, ge=1, description="unique instructions wanted; the stage stops once it has them"
    )
    categories: list[str] | None = Field(
        default=None, description="categories to generate (null = every category of the prompt pools)"
    )
    max_prompts: int = Field(
        default=480, ge=1, description="attempt budget: list prompts sent at most before giving up"
    )
    shots: int = Field(default=6, ge=1, description="seed instructions shown in each list prompt")
    temperature: float = Field(default=0.9, ge=0.0, description="sampling temperature (diversity)")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="nucleus sampling mass")
    max_new_tokens: int = Field(default=160, ge=8, description="tokens generated per list prompt at most")
    batch_size: int = Field(default=8, ge=1, description="list prompts per generate call (= per shard)")
    seed: int = Field(default=0, description="seed of prompt construction and sampling")
    include_seeds: bool = Field(
        default=False,
        description="start the pool with the packaged seed instructions (source 'seed'), as Self-Instruct "
        "does; they count toward n and the quotas. Needed when the model writes no usable lists (tests).",
    )


def instruction_id(text: str) -> str:
    """Stable id from the normalized text: the same instruction always gets the same id."""
    return "ins-" + hashlib.sha256(normalize(text).encode()).hexdigest()[:12]


def quota(cfg: InstructionsConfig, categories: list[str]) -> int:
    return math.ceil(cfg.n / len(categories))


def _categories(cfg: InstructionsConfig) -> list[str]:
    known = list(pools.categories())
    if cfg.categories is None:
        return known
    unknown = [c for c in cfg.categories if c not in known]
    if unknown or not cfg.categories:
        raise ConfigError(f"instructions.categories: unknown {unknown}; known: {known}")
    return list(dict.fromkeys(cfg.categories))


class _State:
    """Everything the next batch depends on: the dedup index, per-category counts, kept records."""

    def __init__(self, cfg: InstructionsConfig, categories: list[str]) -> None:
        self.cfg = cfg
        self.categories = categories
        self.quota = quota(cfg, categories)
        self.dedup = Deduper()
        # Seeds go in first: an item that near-copies a seed from its own prompt is not a new instruction.
        for s in pools.seeds():
            self.dedup.add(s.instruction, key=s.id)
        self.kept: list[dict[str, Any]] = []
        self.per_category: Counter[str] = Counter()
        if cfg.include_seeds:
            for s in pools.seeds():
                if s.category in categories and self.per_category[s.category] < self.quota:
                    self.per_category[s.category] += 1
                    self.kept.append({"id": instruction_id(s.instruction), "text": s.instruction,
                                      "category": s.category, "source": "seed", "prompt": None,
                                      "gen": None, "constraints": None})  # fmt: skip
        self.prompts_sent = 0
        self.batches = 0
        self.drops: Counter[str] = Counter()
        self.parsed = 0
        self.tokens = 0

    def open_categories(self) -> list[str]:
        return [c for c in self.categories if self.per_category[c] < self.quota]

    def done(self) -> bool:
        return len(self.kept) >= self.cfg.n or not self.open_categories()

    def consider(self, text: str, category: str) -> tuple[dict[str, Any] | None, str | None]:
        """Keep ``text`` or name why not; the order of checks is the order of DROP_REASONS."""
        fmt = get_format()
        markers = (fmt.instruction_prefix.strip(), fmt.response_prefix.strip(), *fmt.stop)
        if any(m.strip() and m.strip() in text for m in markers):
            return None, "format_marker"
        if len(self.kept) >= self.cfg.n:
            return None, "target_reached"
        if self.per_category[category] >= self.quota:
            return None, "quota"
        rid = instruction_id(text)
        kept, other = self.dedup.add(text, key=rid)
        if not kept:
            if other is not None and other.startswith("seed:"):
                return None, "seed_copy"
            return None, "duplicate" if other == rid else "near_duplicate"
        self.per_category[category] += 1
        return {"id": rid, "text": text, "category": category, "source": "generated"}, None

    def replay(self, batch_log: dict[str, Any]) -> None:
        """Apply a finished batch read back from its shard (dedup state, counts, kept records)."""
        for rec in batch_log["kept"]:
            kept, _ = self.dedup.add(rec["text"], key=rec["id"])
            if not kept:  # the shards were written by a different config or code: never mix them
                raise ConfigError(
                    f"instructions: shard record {rec['id']} no longer dedups cleanly; delete "
                    f"{ATTEMPTS_FILE}.shards to restart"
                )
            self.per_category[rec["category"]] += 1
            self.kept.append(rec)
        self._count(batch_log)

    def _count(self, batch_log: dict[str, Any]) -> None:
        self.batches += 1
        self.prompts_sent += len(batch_log["prompts"])
        self.parsed += batch_log["parsed"]
        self.drops.update(batch_log["drops"])
        self.tokens += batch_log["tokens"]


def _batch_plan(state: _State, b: int) -> list[tuple[str, str, int]]:
    """``(category, prompt, k)`` per row of batch ``b``: categories round-robin over the open ones."""
    cfg = state.cfg
    open_cats = state.open_categories()
    rows = min(cfg.batch_size, cfg.max_prompts - state.prompts_sent)
    plan = []
    for i in range(rows):
        cat = open_cats[(b * cfg.batch_size + i) % len(open_cats)]
        rng = random.Random(f"{cfg.seed}:{b}:{i}")
        k = min(cfg.shots, len(pools.seeds(cat)))
        plan.append((cat, instruction_prompt(cat, rng, k=k), k))
    return plan


def _run_batch(ctx: StageContext, state: _State, b: int, params: GenParams) -> dict[str, Any]:
    plan = _batch_plan(state, b)
    gens = ctx.engine().generate([p for _, p, _ in plan], params)
    tokens = sum(g.n_tokens for g in gens)
    log: dict[str, Any] = {
        "batch": b,
        "prompts": [],
        "parsed": 0,
        "tokens": tokens,
        "drops": Counter(),
        "kept": [],
    }
    for row, ((cat, _, k), g) in enumerate(zip(plan, gens, strict=True)):
        items = parse_instruction_list(g.text, start=k + 1)
        log["parsed"] += len(items)
        log["prompts"].append({"category": cat, "prompt": g.prompt, "raw": g.raw, "items": len(items)})
        for text in items:
            rec, why = state.consider(text, cat)
            if rec is None:
                log["drops"][why] += 1
                continue
            gen = {
                "temperature": params.temperature, "top_p": params.top_p,
                "max_new_tokens": params.max_new_tokens, "seed": params.seed, "row_seed": g.seed,
                "batch": b, "row": row, "stop_reason": g.stop_reason,
            }  # fmt: skip
            rec = {**rec, "prompt": g.prompt, "gen": gen, "constraints": None}
            log["kept"].append(rec)
            state.kept.append(rec)
    log["drops"] = dict(log["drops"])
    state._count(log)
    return log


def _check(ctx: StageContext) -> InstructionsConfig:
    cfg = ctx.config
    if not isinstance(cfg, InstructionsConfig):
        raise ConfigError(f"instructions: expected an InstructionsConfig, got {type(cfg).__name__}")
    return cfg


def run(ctx: StageContext) -> StageResult:
    cfg = _check(ctx)
    started = time.perf_counter()
    categories = _categories(cfg)
    state = _State(cfg, categories)
    out_dir = ctx.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    attempts_path, data_path = out_dir / ATTEMPTS_FILE, out_dir / DATA_FILE
    writer = ShardWriter(attempts_path, key=lambda r: f"{r['batch']:06d}")
    resumed = 0
    for shard in writer.shard_paths():
        for _, log in iter_jsonl(shard):
            state.replay(log)
            resumed += 1
    params = GenParams(
        max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
        seed=cfg.seed, stop=instruction_stop(), batch_size=cfg.batch_size,
    )  # fmt: skip
    while not state.done() and state.prompts_sent < cfg.max_prompts:
        log = _run_batch(ctx, state, state.batches, params)
        writer.write_batch([log])
    stopped_by = "target" if len(state.kept) >= cfg.n else ("quota" if state.done() else "budget")
    order = [f"{b:06d}" for b in range(state.batches)]
    writer.finalize(attempts_path, order)
    n = write_jsonl_atomic(data_path, state.kept)
    per_cat = {c: state.per_category[c] for c in categories}
    counts = {"kept": n, "prompts": state.prompts_sent, "parsed": state.parsed, "batches": state.batches}
    counts.update({f"dropped_{r}": state.drops[r] for r in DROP_REASONS})
    metrics: dict[str, Any] = {
        "stopped_by": stopped_by,
        "per_category": per_cat,
        "quota_per_category": state.quota,
        "missing_categories": [c for c, k in per_cat.items() if k == 0],
        "unique_per_prompt": round(n / max(state.prompts_sent, 1), 3),
        # Exact all-pairs re-check of what was kept (the incremental LSH dedup can rarely miss one).
        "near_duplicate_pairs": len(remaining := near_duplicate_pairs([r["text"] for r in state.kept])),
        "near_duplicate_rate": round(len(remaining) / max(n, 1), 4),
        "resumed_batches": resumed,
    }
    return finish(ctx, cfg, started, {"instructions": data_path, "attempts": attempts_path}, counts, metrics,
                  state.tokens)  # fmt: skip
