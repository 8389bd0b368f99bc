"""Critique stage: the model judges its own responses; QC-clean responses it judges good go to SFT.

Input ``ctx.inputs["responses"]``: response records (id, instruction_id, instruction, prompt, raw, text,
stop_reason, n_tokens, qc, optional category, constraints).
Outputs: ``judgments.jsonl`` (schema ``judgment``), ``accepted.jsonl`` (the accepted response records:
unchanged, except the ones options add — repaired ``-fix``, redrawn ``-aug<d>``, back-translated ``-bt``,
each marked in ``gen``) and ``manifest.json`` (chosen scorer, calibration table, A/B prior, counts).

Acceptance rule: a response is accepted when every QC flag is false and
- it has constraints: every constraint check passes (the verifiable judge; the model is not asked), or
- it has none: the open-ended critic's score is at least ``accept_threshold`` (the scorer's units; default
  0 = "more likely given its instruction than given a neutral one" for likelihood-contrast, P(good) > 0.5
  with both label orders averaged for ab-pointwise).
With ``repair`` a failing constrained response is accepted in the form code edited it to (every check
re-run on the edit, ``constraints.repair``); the options are off by default.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selfalign.constraints.backtranslate import back_translate
from selfalign.constraints.repair import Context, redraw, repair
from selfalign.data.jsonl import read_jsonl, write_jsonl_atomic
from selfalign.data.qc import word_count
from selfalign.errors import DataError
from selfalign.judge.registry import get_scorer
from selfalign.judge.select import choose
from selfalign.judge.types import Item, Judgment
from selfalign.stages.base import StageContext, StageResult, finish


class CritiqueConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    critic: str = Field(
        default="auto",
        description="Open-ended scorer: 'auto' (calibrate every pointwise model scorer on the labeled "
        "check set, use the most accurate) or a name: ab-pointwise, likelihood-contrast, "
        "likelihood-contrast-end. Constrained items are always judged by their checks.",
    )
    critic_candidates: list[str] | None = Field(
        default=None,
        description="Scorers 'auto' measures and picks from; null = every pointwise model scorer.",
    )
    calibration_per_kind: int = Field(
        default=8, ge=1, description="Check-set cases per open-ended kind (other, truncated, refusal)."
    )
    calibrate_named: bool = Field(
        default=True, description="Also measure an explicitly named critic (manifest says how good it is)."
    )
    accept_threshold: float = Field(
        default=0.0,
        description="Minimum open-ended critic score to accept a response (scorer's units); used when "
        "accept_top_fraction is null.",
    )
    accept_top_fraction: float | None = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Accept the best-scored fraction of QC-clean open-ended responses (scale-free across "
        "scorers, whose units differ); null = use accept_threshold.",
    )
    batch_size: int = Field(default=16, ge=1, description="Sequences per forward pass when scoring.")
    max_accepted_per_instruction: int | None = Field(
        default=None,
        ge=1,
        description="Accept at most this many distinct responses per instruction (first in sample order); "
        "identical texts of one instruction are always accepted once. null = no cap.",
    )
    min_words: int | None = Field(
        default=None,
        ge=1,
        description="Accept a response whose constraints leave its length open (none fixes a count, a cap or "
        "a closed form: the steers' ``open_length``) only with at least this many words. Checks pass short "
        "answers (a 4-word reply, '[name]' for placeholders), and a policy tuned on them answers short, "
        "losing the 'at least N' rules it was never trained on. null = no floor.",
    )
    require_qc_clean: bool = Field(
        default=True,
        description="Accept only responses with no QC flag. Turn off only for smoke tests on random models.",
    )
    back_translate: int = Field(
        default=0,
        ge=0,
        le=3,
        description="Also train on every distinct QC-clean response, passing or not, under its plain "
        "instruction plus up to this many training-type constraints it already satisfies (constraint "
        "back-translation; labels exact by the checks). 0 = off. Needs the split's training instructions.",
    )
    repair: bool = Field(
        default=False,
        description="A QC-clean constrained response that fails a check is edited by code to meet its "
        "instruction's constraints (constraints.repair: upper-case it, prepend the phrase, regroup its "
        "sentences into N bullets, ...) and accepted when the edit passes every check; it counts toward "
        "max_accepted_per_instruction like a passing sample.",
    )
    repair_draws: int = Field(
        default=0,
        ge=0,
        le=4,
        description="Also train on every distinct QC-clean response this many more times, each under its "
        "plain instruction plus 1-3 freshly drawn repairable training-type constraints that the response "
        "is then edited to meet (kept only when an edit was needed and every check passes). 0 = off. "
        "Needs the split's training instructions.",
    )

    @model_validator(mode="after")
    def _one_acceptance_rule(self) -> CritiqueConfig:
        # accept_threshold is read only when accept_top_fraction is null: a threshold given beside the default
        # fraction would change the cache key and nothing else.
        if "accept_threshold" in self.model_fields_set and self.accept_top_fraction is not None:
            raise ValueError(
                "accept_threshold is used only when accept_top_fraction is null (it is "
                f"{self.accept_top_fraction}): set accept_top_fraction: null to accept by threshold"
            )
        return self


_REQUIRED = ("id", "instruction", "text", "qc")


def load_items(path: Any) -> tuple[list[dict[str, Any]], list[Item]]:
    records = read_jsonl(path)
    items = []
    for line, r in enumerate(records, start=1):
        for key in _REQUIRED:
            if key not in r:
                raise DataError(path, line, key, "missing (a response record is needed)")
        items.append(Item(str(r["id"]), r["instruction"], r["text"], tuple(r.get("constraints") or ())))
    return records, items


def _too_short(record: dict[str, Any], floor: int | None) -> bool:
    """Under the floor with no constraint that fixes the length (a floor could not apply to those)."""
    if not floor or word_count(record["text"]) >= floor:
        return False
    from selfalign.steer.build import STEERS  # here: the steers load torch, which `config show` must not

    return all(STEERS[c["type"]].open_length for c in record.get("constraints") or [])


def qc_clean(record: dict[str, Any]) -> bool:
    return not any(bool(v) for v in (record.get("qc") or {}).values())


def _threshold(cfg: CritiqueConfig, judged: list[Judgment | None]) -> float:
    """The score an open-ended response needs: fixed, or the quantile that keeps the top fraction."""
    scores = sorted(j.score for j in judged if j is not None)
    if cfg.accept_top_fraction is None or not scores:
        return cfg.accept_threshold
    keep = max(1, round(len(scores) * cfg.accept_top_fraction))
    return scores[len(scores) - keep]


def _plain_instructions(path: Path) -> dict[str, str]:
    """Instruction id -> its text before split attached constraints (``gen.augment.base_text``)."""
    out = {}
    for line, r in enumerate(read_jsonl(path), start=1):
        if "id" not in r or "text" not in r:
            raise DataError(
                path, line, "id" if "id" not in r else "text", "missing (an instruction is needed)"
            )
        out[str(r["id"])] = ((r.get("gen") or {}).get("augment") or {}).get("base_text") or r["text"]
    return out


def _distinct_clean(
    cfg: CritiqueConfig, ctx: StageContext, records: list[dict[str, Any]], field: str
) -> list[tuple[dict[str, Any], str]]:
    """``(record, its plain instruction)`` once per distinct QC-clean (instruction, response), in order.

    ``field`` is the option that needs it (named in the error when the split's train file is missing)."""
    if "train" not in ctx.inputs:
        raise DataError("<critique>", None, field, "needs the split's training instructions")
    plain = _plain_instructions(ctx.inputs["train"])
    seen: set[tuple[str, str]] = set()
    out = []
    for line, rec in enumerate(records, start=1):
        iid = str(rec.get("instruction_id", ""))
        if iid not in plain:
            raise DataError(
                ctx.inputs["responses"], line, "instruction_id", f"{iid!r} is not a training instruction"
            )
        key = (iid, " ".join(rec["text"].split()))
        if (cfg.require_qc_clean and not qc_clean(rec)) or key in seen:
            continue
        seen.add(key)
        out.append((rec, plain[iid]))
    return out


def _back_translated(
    cfg: CritiqueConfig, ctx: StageContext, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One new accepted record per distinct QC-clean (instruction, response): its plain instruction plus
    constraints the response satisfies (see ``constraints.backtranslate``); the response is unchanged."""
    rng = random.Random(f"back-translate:{ctx.seed}")
    out = []
    for rec, plain in _distinct_clean(cfg, ctx, records, "back_translate"):
        found = back_translate(plain, rec["text"], rng, k=rng.randint(1, cfg.back_translate))
        if found is None:
            continue
        instruction, constraints = found
        gen = {**(rec.get("gen") or {}), "back_translated": {"from": rec["instruction"]}}
        out.append({**rec, "id": f"{rec['id']}-bt", "instruction": instruction,
                    "constraints": constraints, "gen": gen})  # fmt: skip
    return out


def _redrawn(
    cfg: CritiqueConfig, ctx: StageContext, records: list[dict[str, Any]], alternates: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Up to ``repair_draws`` new records per distinct QC-clean response: its plain instruction under
    freshly drawn repairable constraints, the response edited to meet them (``constraints.repair.redraw``)."""
    rng = random.Random(f"redraw:{ctx.seed}")
    out = []
    for rec, plain in _distinct_clean(cfg, ctx, records, "repair_draws"):
        iid = str(rec["instruction_id"])
        others = Context(tuple(t for t in alternates.get(iid, []) if t != rec["text"]))
        for d in range(cfg.repair_draws):
            found = redraw(plain, rec["text"], rng, others)
            if found is None:
                continue
            instruction, constraints, text, types = found
            repaired = {"types": types, "sampled_text": rec["text"], "redrawn_from": rec["instruction"]}
            gen = {**(rec.get("gen") or {}), "repaired": repaired}
            out.append({**rec, "id": f"{rec['id']}-aug{d}", "instruction": instruction, "text": text,
                        "constraints": constraints, "gen": gen})  # fmt: skip
    return out


def _edit_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(t for r in records for t in r["gen"]["repaired"]["types"]).items()))


def _clean_texts(cfg: CritiqueConfig, records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Instruction id -> the QC-clean sampled texts of it, in sample order (a repair may need a second)."""
    out: dict[str, list[str]] = {}
    for rec in records:
        if qc_clean(rec) or not cfg.require_qc_clean:
            out.setdefault(str(rec.get("instruction_id", rec["id"])), []).append(rec["text"])
    return out


def _repaired(rec: dict[str, Any], alternates: dict[str, list[str]]) -> dict[str, Any] | None:
    """The record with its text edited to pass every constraint (``constraints.repair``), or None."""
    others = [t for t in alternates.get(str(rec.get("instruction_id", rec["id"])), []) if t != rec["text"]]
    found = repair(rec["text"], list(rec["constraints"]), Context(tuple(others)))
    if found is None:
        return None
    text, types = found
    gen = {**(rec.get("gen") or {}), "repaired": {"types": types, "sampled_text": rec["text"]}}
    return {**rec, "id": f"{rec['id']}-fix", "text": text, "gen": gen}


def run(ctx: StageContext) -> StageResult:
    cfg = ctx.config if isinstance(ctx.config, CritiqueConfig) else CritiqueConfig.model_validate(ctx.config)
    started = time.perf_counter()
    records, items = load_items(ctx.inputs["responses"])
    engine = ctx.engine()
    # The calibration is cached in the out dir by weights, scorers, n and seed: a rerun does not repeat it.
    choice = choose(engine, cfg.critic, n_per_kind=cfg.calibration_per_kind, seed=ctx.seed,
                    calibrate_named=cfg.calibrate_named, require_pointwise=True,
                    candidates=cfg.critic_candidates, cache_dir=ctx.out_dir)  # fmt: skip
    choice.scorer.batch_size = cfg.batch_size
    constrained = [i for i, it in enumerate(items) if it.constraints]
    open_ended = [i for i, it in enumerate(items) if not it.constraints]
    verdicts: list[Judgment | None] = [None] * len(items)
    for idx, scorer in ((constrained, get_scorer("verifiable")), (open_ended, choice.scorer)):
        for i, j in zip(idx, scorer.score(engine, [items[i] for i in idx]) if idx else [], strict=True):
            verdicts[i] = j
    threshold = _threshold(cfg, [verdicts[i] for i in open_ended if qc_clean(records[i])])
    judgments, accepted = [], []
    seen: dict[str, set[str]] = {}  # instruction -> normalized texts accepted
    duplicates = capped = dropped_short = 0
    cap = cfg.max_accepted_per_instruction
    alternates = _clean_texts(cfg, records) if cfg.repair or cfg.repair_draws else {}
    for rec, j in zip(records, verdicts, strict=True):
        assert j is not None  # every index is in exactly one of the two groups
        good = j.p_good == 1.0 if j.scorer == "verifiable" else j.score >= threshold
        # ``confident`` is the scorer's own (orders agree, margin off its neutral point): the acceptance
        # threshold is a score, not a margin, and made every judgment "confident".
        judgments.append({**j.record()})
        clean = qc_clean(rec) or not cfg.require_qc_clean
        if not good and cfg.repair and j.scorer == "verifiable" and clean:
            edit = _repaired(rec, alternates)
            if edit is not None:
                rec, good = edit, True
        if not good or not (qc_clean(rec) or not cfg.require_qc_clean):
            continue
        if _too_short(rec, cfg.min_words):
            dropped_short += 1  # before the cap: a longer sample of the same instruction may still be taken
            continue
        mine = seen.setdefault(str(rec.get("instruction_id", rec["id"])), set())
        key = " ".join(rec["text"].split())
        if key in mine:  # best-of-k often samples the same answer twice: train on it once
            duplicates += 1
        elif cap is not None and len(mine) >= cap:
            capped += 1
        else:
            mine.add(key)
            accepted.append(rec)
    translated = _back_translated(cfg, ctx, records) if cfg.back_translate else []
    redrawn = _redrawn(cfg, ctx, records, alternates) if cfg.repair_draws else []
    made = len(translated) + len(redrawn)  # the floor holds for the examples these options add too
    translated = [r for r in translated if not _too_short(r, cfg.min_words)]
    redrawn = [r for r in redrawn if not _too_short(r, cfg.min_words)]
    dropped_short += made - len(translated) - len(redrawn)
    fixed = [r for r in accepted if "repaired" in (r.get("gen") or {})]  # the repaired ones kept
    out = ctx.out_dir
    out.mkdir(parents=True, exist_ok=True)
    accepted += translated + redrawn
    write_jsonl_atomic(out / "judgments.jsonl", judgments)
    write_jsonl_atomic(out / "accepted.jsonl", accepted)
    counts = {
        "responses": len(records),
        "constrained": len(constrained),
        "open_ended": len(open_ended),
        "qc_clean": sum(qc_clean(r) for r in records),
        "accepted": len(accepted),
        "accepted_instructions": sum(bool(v) for v in seen.values()),
        "dropped_duplicate_text": duplicates,
        "dropped_over_cap": capped,
        "dropped_short": dropped_short,
        "repaired": len(fixed),
        "repaired_edits": _edit_counts(fixed),
        "redrawn": len(redrawn),
        "redrawn_edits": _edit_counts(redrawn),
        "back_translated": len(translated),
        "back_translated_types": dict(
            sorted(Counter(c["type"] for r in translated for c in r["constraints"]).items())
        ),
    }
    metrics = {
        **choice.manifest(),
        "accept_threshold": threshold,
        "accept_top_fraction": cfg.accept_top_fraction,
    }
    outputs = {"judgments": out / "judgments.jsonl", "accepted": out / "accepted.jsonl"}
    return finish(ctx, cfg, started, outputs, counts, metrics)
