"""Stage ``responses``: the base model answers each training instruction from a few-shot completion prompt.

Each prompt shows ``shots`` solved pool examples (``builders.response_prompt``; one of the instruction's
category, one constraint example when the instruction has constraints) and never a pool entry that
near-copies a held-out test item (``heldout_overlap`` of the ``test`` input). Generation is batched with
the format's stop strings; the text is cleaned and given QC flags (``selfalign.data.qc``). Every record
keeps the exact prompt the engine fed (``Generation.prompt``), the raw output and the seeds.

Resume: records are written one shard per batch (``ShardWriter``); a restarted run skips ids already
written. Prompts and sampling are seeded per record (instruction id, sample index), never by position in
a batch, so an interrupted and resumed run writes exactly the records of an uninterrupted one.

Round r >= 2 (``ctx.extra["round"]``, from ``run.sft_rounds``) is rejection sampling from the newest
policy: the adapter ``ctx.inputs["adapter"]`` (attached as ``ctx.extra["policy"]``) answers in the zero-shot
format it was trained on, with the round's own seed, on the r-th block of ``limit`` instructions (ones no
earlier round answered; topped up with redrawn constraints when the split runs out, ``stages.rounds``).

Inputs: ``instructions`` (train split), optional ``test`` (held-out split, for prompt exclusion), optional
``adapter`` (round r's sampling policy).
Outputs: ``responses.jsonl`` (response schema) and the manifest with per-flag QC rates.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selfalign.constraints import passes_all, words_needed
from selfalign.data.jsonl import ShardWriter, iter_jsonl
from selfalign.data.qc import qc_flags, qc_rates
from selfalign.data.schemas import validate_file
from selfalign.engine import GenParams
from selfalign.errors import ConfigError
from selfalign.prompts.builders import heldout_overlap, response_prompt
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext, StageResult, finish
from selfalign.stages.rounds import round_seed, round_window
from selfalign.stages.split import base_text
from selfalign.stages.steered import STEER_SEED_OFFSET, fluency, is_steered, side_by_side, steered_id
from selfalign.stages.steered import yield_table as steer_yield

DATA_FILE = "responses.jsonl"
log = logging.getLogger("selfalign")
# "... answer. END" or END on its own line; not "THE END" (the words of a story's last line).
_TRAILING_END = re.compile(r"(?:(?<=[.!?\"')\]])\s+|\s*\n\s*)END\s*\Z")


class ResponsesConfig(BaseModel):
    """The ``responses`` section of the run config."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    shots: int = Field(default=3, ge=0, description="solved examples in each few-shot prompt")
    samples: int = Field(default=1, ge=1, description="responses generated per instruction")
    extra_samples: int = Field(
        default=0,
        ge=0,
        description="more samples for each constrained instruction none of whose first `samples` passes "
        "every check (rejection sampling spends where the yield is low)",
    )
    shared_prompt: bool = Field(
        default=False,
        description="all samples of an instruction continue one prompt (best-of-N: the engine computes the "
        "prompt once for all of them); false = a fresh shot draw per sample (more prompt diversity, N "
        "prompt passes)",
    )
    match_constraint_shot: bool = Field(
        default=True,
        description="the constraint shot of a constrained prompt shows one of the instruction's own types "
        "when the pool has one",
    )
    temperature: float = Field(default=0.7, ge=0.0, description="sampling temperature (0 = greedy)")
    top_p: float = Field(default=0.9, gt=0.0, le=1.0, description="nucleus sampling mass")
    repetition_penalty: float = Field(default=1.0, ge=1.0, description="HF repetition penalty (1 = none)")
    max_new_tokens: int = Field(default=192, ge=1, description="tokens generated per response at most")
    batch_size: int = Field(default=8, ge=1, description="prompts per generate call (= per shard)")
    min_words: int = Field(default=2, ge=1, description="answers with fewer words are flagged too_short")
    limit: int | None = Field(default=None, ge=1, description="answer only the first N instructions")
    steered: int = Field(
        default=0,
        ge=0,
        description="steered samples per constrained instruction, on top of the unsteered ones: the "
        "instruction's constraints steer decoding (docs/CONSTRAINTS.md); each still goes through every "
        "check, QC and the critique stage like any other sample. 0 = none",
    )
    length_floor: int | None = Field(
        default=None,
        ge=1,
        description="steered rows whose constraints all leave the length open end only after this many "
        "words (a min_words steer, never a check; steer.build.with_length_floor): without it the steered "
        "samples that survive QC are short and so is the policy trained on them. null = no floor",
    )
    seed: int = Field(default=0, description="seed of shot selection and sampling")

    @model_validator(mode="after")
    def _floor_fits(self) -> ResponsesConfig:
        # A word takes a token at least: a floor the budget cannot hold would only make dead ends.
        if self.length_floor is not None and self.length_floor >= self.max_new_tokens:
            n, budget = self.length_floor, self.max_new_tokens
            raise ValueError(f"length_floor {n} needs more tokens than max_new_tokens {budget}")
        return self


def response_id(instruction_id: str, sample: int, round_: int = 1) -> str:
    """Round 1 keeps its historical ids; a later round's differ even where it re-answers an instruction."""
    return f"{instruction_id}-r{sample}" if round_ < 2 else f"{instruction_id}-round{round_}-r{sample}"


@dataclass(frozen=True)
class Sampler:
    """Who answers: the base from few-shot prompts (round 1) or a policy adapter zero-shot (round r)."""

    round: int = 1
    policy: str | None = None
    steered: bool = False  # the instruction's constraints steer decoding (ids -s<k>, a seed of their own)

    def rid(self, instruction_id: str, sample: int) -> str:
        if self.steered:
            return steered_id(instruction_id, sample, self.round)
        return response_id(instruction_id, sample, self.round)


def clean(text: str) -> str:
    """Strip whitespace and a trailing end marker the model wrote on the answer's own line ("... END")."""
    return _TRAILING_END.sub("", text.strip()).strip()


def _prompt(
    ins: dict[str, Any], sample: int, cfg: ResponsesConfig, exclude: Sequence[str], who: Sampler
) -> tuple[str, list[str]]:
    if who.policy is not None:  # a tuned policy answers in the format it was trained on, no shots
        return get_format().prompt(ins["text"]), []
    rng = random.Random(f"{cfg.seed}:{ins['id']}:{0 if cfg.shared_prompt else sample}")
    types = [c["type"] for c in ins.get("constraints") or []]
    return response_prompt(
        ins["text"],
        rng,
        k=cfg.shots,
        exclude_ids=exclude,
        category=ins["category"],
        constrained=bool(ins.get("constraints")),
        constraint_types=types if cfg.match_constraint_shot else (),
    )


def _seed(cfg: ResponsesConfig, sample: int, round_: int = 1, steered: bool = False) -> int:
    """The generate seed of a sample. Separate prompts: one seed per sample index, so sample s of an
    instruction is the same whichever batch it lands in. Shared prompt: one call holds all of an
    instruction's first-pass samples (the engine seeds each repeat by its index), extra samples another seed.
    """
    seed = round_seed(cfg.seed, round_)
    if steered:  # every steered row in one call; the engine seeds a shared prompt's repeats by index
        return seed + STEER_SEED_OFFSET
    if not cfg.shared_prompt:
        return seed + sample
    return seed if sample < cfg.samples else seed + 1


def _params(cfg: ResponsesConfig, seed: int) -> GenParams:
    return GenParams(
        max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
        repetition_penalty=cfg.repetition_penalty, seed=seed, stop=get_format().stop,
        batch_size=cfg.batch_size,
    )  # fmt: skip


def _records(
    ctx: StageContext,
    cfg: ResponsesConfig,
    batch: list[tuple[dict[str, Any], int]],
    exclude: Sequence[str],
    who: Sampler,
) -> list[dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for seed in sorted({_seed(cfg, s, who.round, who.steered) for _, s in batch}):
        # Sorted by (instruction, sample) within a call: a shared prompt's repeats are its samples in order.
        rows = [(ins, s) for ins, s in batch if _seed(cfg, s, who.round, who.steered) == seed]
        built = [_prompt(ins, s, cfg, exclude, who) for ins, s in rows]
        params = _params(cfg, seed)
        # Unsteered calls leave the keyword out: the exact call every earlier run made.
        floor = cfg.length_floor
        # Imported here: the steer package loads torch, and `config show` must not (test_reliability_cli).
        from selfalign.steer.build import with_length_floor

        held = [with_length_floor(ins["constraints"], floor) if who.steered else None for ins, _ in rows]
        steer = {"constraints": held} if who.steered else {}
        gens = ctx.engine().generate([p for p, _ in built], params, adapter=who.policy, **steer)
        for (ins, sample), (_, shot_ids), g, cs in zip(rows, built, gens, held, strict=True):
            text = clean(g.text)
            flags = qc_flags(text, g.raw, g.stop_reason, ins["text"], min_words=cfg.min_words)
            gen = {
                "temperature": params.temperature, "top_p": params.top_p,
                "max_new_tokens": params.max_new_tokens, "repetition_penalty": params.repetition_penalty,
                "seed": params.seed, "row_seed": g.seed,
                "sample": sample, "shots": shot_ids, "stop": g.stop,
                **({"round": who.round, "policy": who.policy} if who.policy else {}),
                **({"steered": True} if who.steered else {}),
                **({"length_floor": cfg.length_floor} if cs and cs != ins["constraints"] else {}),
            }  # fmt: skip
            out[(ins["id"], sample)] = {
                "id": who.rid(ins["id"], sample),
                "instruction_id": ins["id"],
                "instruction": ins["text"],
                "prompt": g.prompt,
                "raw": g.raw,
                "text": text,
                "stop_reason": g.stop_reason,
                "n_tokens": g.n_tokens,
                "qc": flags,
                "category": ins["category"],
                "constraints": ins.get("constraints"),
                "gen": gen,
            }
    return [out[(ins["id"], s)] for ins, s in batch]


def _summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    constrained = [r for r in records if r.get("constraints")]
    return {
        "qc_rates": {k: round(v, 4) for k, v in qc_rates(records).items()},
        "qc_counts": {k: sum(bool(r["qc"][k]) for r in records) for k in records[0]["qc"]},
        "stop_reasons": dict(Counter(r["stop_reason"] for r in records)),
        "per_category": dict(sorted(Counter(r["category"] for r in records).items())),
        "mean_tokens": round(sum(r["n_tokens"] for r in records) / len(records), 1),
        "constrained": len(constrained),
        "constraints_pass_rate": (
            round(sum(passes_all(r["text"], r["constraints"]) for r in constrained) / len(constrained), 4)
            if constrained
            else None
        ),
    }


def _generate(
    ctx: StageContext,
    cfg: ResponsesConfig,
    writer: ShardWriter,
    todo: list[tuple[dict[str, Any], int]],
    exclude: Sequence[str],
    who: Sampler,
) -> int:
    tokens = 0
    for rows in _batches(cfg, todo):
        batch = _records(ctx, cfg, rows, exclude, who)
        tokens += sum(r["n_tokens"] for r in batch)
        writer.write_batch(batch)
    return tokens


def _batches(
    cfg: ResponsesConfig, todo: list[tuple[dict[str, Any], int]]
) -> list[list[tuple[dict[str, Any], int]]]:
    """Batches of ``batch_size`` rows; with a shared prompt, whole instructions (samples in order) per batch,
    so every repeat of a prompt is in one call and a shard never holds part of an instruction."""
    if not cfg.shared_prompt:
        return [todo[i : i + cfg.batch_size] for i in range(0, len(todo), cfg.batch_size)]
    by_ins: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for ins, s in todo:
        by_ins.setdefault(ins["id"], []).append((ins, s))
    out: list[list[tuple[dict[str, Any], int]]] = [[]]
    for rows in by_ins.values():
        if out[-1] and len(out[-1]) + len(rows) > cfg.batch_size:
            out.append([])
        out[-1].extend(sorted(rows, key=lambda r: r[1]))
    return [b for b in out if b]


def _needs_more(ins: dict[str, Any], written: dict[str, dict[str, Any]], samples: int, who: Sampler) -> bool:
    if not ins.get("constraints"):
        return False
    texts = [written[rid]["text"] for s in range(samples) if (rid := who.rid(ins["id"], s)) in written]
    return not any(passes_all(t, ins["constraints"]) for t in texts)


def sampler_yield(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rejection sampler's pass rates: per sample and per instruction, overall and per constraint type.

    A type's figures count the samples/instructions that carry that type (an item with two types counts
    for both); ``samples_passed`` is every check passing, as SFT selection requires.
    """
    per_type: dict[str, dict[str, Any]] = {}
    by_ins: dict[str, list[bool]] = {}
    types_of: dict[str, list[str]] = {}
    for r in records:
        if not r.get("constraints"):
            continue
        ok = passes_all(r["text"], r["constraints"])
        by_ins.setdefault(r["instruction_id"], []).append(ok)
        types_of[r["instruction_id"]] = [c["type"] for c in r["constraints"]]
        for t in types_of[r["instruction_id"]]:
            row = per_type.setdefault(t, {"samples": 0, "samples_passed": 0})
            row["samples"] += 1
            row["samples_passed"] += ok
    for iid, oks in by_ins.items():
        for t in types_of[iid]:
            row = per_type[t]
            row["instructions"] = row.get("instructions", 0) + 1
            row["instructions_with_a_pass"] = row.get("instructions_with_a_pass", 0) + any(oks)
    n = sum(len(v) for v in by_ins.values())
    return {
        "samples": n,
        "samples_passed": sum(sum(v) for v in by_ins.values()),
        "instructions": len(by_ins),
        "instructions_with_a_pass": sum(any(v) for v in by_ins.values()),
        "per_type": dict(sorted(per_type.items())),
    }


def _sampler(ctx: StageContext) -> Sampler:
    """Round 1: the base. Round r: the policy adapter the pipeline passes, attached once under its name."""
    round_ = int(ctx.extra.get("round", 1))
    if round_ < 2:
        return Sampler()
    policy = ctx.extra.get("policy")
    if not policy or "adapter" not in ctx.inputs:
        raise ConfigError(f"responses round {round_}: no policy adapter to sample from (input 'adapter')")
    engine = ctx.engine()
    if policy not in engine.adapters:
        engine.add_adapter(policy, ctx.inputs["adapter"])
    return Sampler(round_, str(policy))


def run(ctx: StageContext) -> StageResult:
    cfg = ctx.config
    if not isinstance(cfg, ResponsesConfig):
        raise ConfigError(f"responses: expected a ResponsesConfig, got {type(cfg).__name__}")
    if "instructions" not in ctx.inputs:
        raise ConfigError("responses: no 'instructions' input (the training instructions JSONL)")
    started = time.perf_counter()
    who = _sampler(ctx)
    instructions = round_window(
        [r.model_dump(mode="json") for r in validate_file(ctx.inputs["instructions"], "instruction")],
        cfg.limit, round_seed(cfg.seed, who.round), who.round,
    )  # fmt: skip
    exclude: list[str] = []
    if "test" in ctx.inputs:
        test = [r.model_dump(mode="json") for r in validate_file(ctx.inputs["test"], "instruction")]
        exclude = heldout_overlap([t for r in test for t in {base_text(r), r["text"]}])
    out_path = ctx.out_dir / DATA_FILE
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(out_path, key="id")
    done = writer.done_keys()
    todo = [(ins, s) for s in range(cfg.samples) for ins in instructions if who.rid(ins["id"], s) not in done]
    resumed = len(done)
    tokens = _generate(ctx, cfg, writer, todo, exclude, who)
    # Second pass (a pure function of the first pass's records, so a resumed run makes the same choice):
    # constrained instructions with no passing sample yet get extra samples.
    written = {r["id"]: r for shard in writer.shard_paths() for _, r in iter_jsonl(shard)}
    extra = [ins for ins in instructions if cfg.extra_samples and _needs_more(ins, written, cfg.samples, who)]
    done = writer.done_keys()
    more = [
        (ins, s) for s in range(cfg.samples, cfg.samples + cfg.extra_samples) for ins in extra
        if who.rid(ins["id"], s) not in done
    ]  # fmt: skip
    tokens += _generate(ctx, cfg, writer, more, exclude, who)
    # Third pass: steered samples of every constrained instruction (after the unsteered ones, so the extra
    # samples' choice above never sees them).
    steer = replace(who, steered=True)
    constrained = [ins for ins in instructions if ins.get("constraints")]
    # A steer cannot fit n words into fewer tokens: it would force one-token words to the limit and the row
    # would be QC-truncated, counted as the steer's failure. Such instructions are not steered, and said so.
    over = [ins["id"] for ins in constrained if words_needed(ins["constraints"])[0] > cfg.max_new_tokens]
    # Nor where a steer would pass the check without doing what it asks.
    from selfalign.steer.build import unsteerable

    foreign = [ins["id"] for ins in constrained if unsteerable(ins["constraints"])]
    skip = set(over) | set(foreign)
    constrained = [ins for ins in constrained if ins["id"] not in skip] if cfg.steered else []
    done = writer.done_keys()
    steered = [(ins, k) for k in range(cfg.steered) for ins in constrained
               if steer.rid(ins["id"], k) not in done]  # fmt: skip
    tokens += _generate(ctx, cfg, writer, steered, exclude, steer)
    extra_ids = {ins["id"] for ins in extra}
    order = [
        who.rid(ins["id"], s)
        for ins in instructions
        for s in range(cfg.samples + (cfg.extra_samples if ins["id"] in extra_ids else 0))
    ] + [steer.rid(ins["id"], k) for ins in constrained for k in range(cfg.steered)]
    writer.finalize(out_path, order)
    records = [rec for _, rec in iter_jsonl(out_path)]
    alone = [r for r in records if not is_steered(r)]
    metrics = {**_summary(records), "excluded_pool_ids": exclude, "resumed_records": resumed,
               "yield": sampler_yield(alone), "extra_sampled_instructions": len(extra),
               "round": who.round, "policy": who.policy}  # fmt: skip
    if cfg.steered:
        metrics["steer"] = {"yield": steer_yield(records), "fluency": fluency(ctx.engine(), records),
                            "side_by_side": side_by_side(records),
                            "not_steered_over_budget": over, "not_steered_language": foreign}  # fmt: skip
        if over:
            log.warning("responses: %d constrained instruction(s) need more words than max_new_tokens "
                        "%d holds; not steered, e.g. %s", len(over), cfg.max_new_tokens, over[0])  # fmt: skip
    counts = {"instructions": len(instructions), "responses": len(records)}
    if cfg.steered:
        counts["not_steered_over_budget"] = len(over)
        counts["not_steered_language"] = len(foreign)
    counts.update({f"flag_{k}": v for k, v in metrics["qc_counts"].items()})
    return finish(ctx, cfg, started, {"responses": out_path}, counts, metrics, tokens)
