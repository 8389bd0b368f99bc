"""Pairs stage: best-of-N samples from the current policy, ranked by the critic, become DPO pairs.

Input ``ctx.inputs["instructions"]``: instruction records (id, text, optional category, constraints);
optional ``ctx.inputs["adapter"]``: the policy adapter's directory (attached as ``policy`` if not yet).
Per instruction the policy writes ``n_samples`` answers. Constrained items: chosen = a sample that passes
every check, rejected = one that fails (source ``verifiable``). Open-ended items: the critic ranks the
samples; (best, worst) is kept when the margin passes the threshold and, for A/B critics, both label
orders agree (source ``critic:<scorer>``). Optional negatives (``negative:<kind>``) mix in at the
configured weights. Chosen and rejected always come from the model (negatives are edits or combinations
of its samples, see ``selfalign.judge.negatives``); nothing hand-written is ever "chosen".
Outputs: ``pairs.jsonl`` (TRL preference format: prompt, chosen, rejected + margin, source, scorer, ids),
``pair_details.jsonl`` (generation prompt, sample indices, per-order verdicts) and ``manifest.json``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from selfalign.constraints import check_all, passes_all
from selfalign.data.jsonl import read_jsonl, write_jsonl_atomic
from selfalign.engine import Generation, GenParams
from selfalign.errors import DataError
from selfalign.judge import negatives as neg
from selfalign.judge.preference import keep, rank_all
from selfalign.judge.select import choose
from selfalign.judge.types import PairItem, Scorer
from selfalign.prompts.builders import response_prompt
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext, StageResult, finish
from selfalign.stages.rounds import redraw_constraints, round_seed
from selfalign.stages.steered import STEER_SEED_OFFSET, contrast_pair, unended


class NegativesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    ratio: float = Field(default=0.0, ge=0.0, description="Negative pairs per instruction (0 = none).")
    weights: dict[str, float] = Field(
        default_factory=lambda: {k: 1.0 for k in neg.NEGATIVE_KINDS},
        description=f"Relative share of each negative kind ({', '.join(neg.NEGATIVE_KINDS)}).",
    )


class PairsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    policy: str | None = Field(default=None, description="Adapter name that writes the samples; null = base.")
    prompt_style: Literal["auto", "few-shot", "zero-shot"] = Field(
        default="auto", description="auto: few-shot for the base model, zero-shot for an adapter."
    )
    few_shot_k: int = Field(default=3, ge=0, description="Solved examples in a few-shot sampling prompt.")
    n_samples: int = Field(default=4, ge=2, description="Samples per instruction (best-of-N).")
    temperature: float = Field(default=0.8, gt=0.0, description="Sampling temperature.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(default=96, ge=1, description="Tokens per sample at most.")
    batch_size: int = Field(default=16, ge=1, description="Rows per generate/score batch.")
    critic: str = Field(default="auto", description="'auto' (calibrate, pick the best) or a scorer name.")
    critic_candidates: list[str] | None = Field(
        default=None, description="Scorers 'auto' measures and picks from; null = every model scorer."
    )
    calibration_per_kind: int = Field(
        default=8, ge=1, description="Check-set cases per open-ended kind (other, truncated, refusal)."
    )
    margin_threshold: float | None = Field(
        default=None, description="Minimum critic margin, chosen over rejected; null = the scorer's default."
    )
    require_agreement: bool = Field(default=True, description="A/B critics: keep only if both orders agree.")
    negatives: NegativesConfig = Field(default_factory=NegativesConfig, description="Diverse negatives mix.")
    contrast: int = Field(
        default=0,
        ge=0,
        description="Steered samples per constrained instruction from the same policy (docs/CONSTRAINTS.md); "
        "a contrast pair is chosen = a steered sample that passes every check, rejected = the policy's own "
        "unsteered sample that fails one (source 'contrast'). 0 = none.",
    )


def _load(path: Any) -> list[dict[str, Any]]:
    recs = read_jsonl(path)
    for line, r in enumerate(recs, start=1):
        for key in ("id", "text"):
            if key not in r:
                raise DataError(path, line, key, "missing (an instruction record is needed)")
    return recs


def _sample(
    ctx: StageContext, cfg: PairsConfig, recs: list[dict[str, Any]], seed: int
) -> tuple[list[str], list[list[Generation]]]:
    engine = ctx.engine()
    if cfg.policy is not None and cfg.policy not in engine.adapters and "adapter" in ctx.inputs:
        engine.add_adapter(cfg.policy, ctx.inputs["adapter"])
    few = cfg.prompt_style == "few-shot" or (cfg.prompt_style == "auto" and cfg.policy is None)
    rng = random.Random(seed)
    prompts = [
        response_prompt(r["text"], rng, k=cfg.few_shot_k, category=r.get("category"),
                        constrained=bool(r.get("constraints")))[0]
        if few else get_format().prompt(r["text"])
        for r in recs
    ]  # fmt: skip
    params = GenParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                       seed=seed, stop=get_format().stop, batch_size=cfg.batch_size)  # fmt: skip
    gens = engine.generate([p for p in prompts for _ in range(cfg.n_samples)], params, adapter=cfg.policy)
    samples = [gens[i * cfg.n_samples : (i + 1) * cfg.n_samples] for i in range(len(recs))]
    return prompts, samples


def _steered(
    ctx: StageContext, cfg: PairsConfig, recs: list[dict[str, Any]], prompts: list[str], seed: int
) -> dict[int, list[Generation]]:
    """``cfg.contrast`` steered samples of each constrained instruction, from the same prompt and policy."""
    idx = [i for i, r in enumerate(recs) if r.get("constraints")] if cfg.contrast else []
    if not idx:
        return {}
    params = GenParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                       seed=seed + STEER_SEED_OFFSET, stop=get_format().stop, batch_size=cfg.batch_size)
    rows = [i for i in idx for _ in range(cfg.contrast)]
    gens = ctx.engine().generate([prompts[i] for i in rows], params, adapter=cfg.policy,
                                 constraints=[recs[i]["constraints"] for i in rows])  # fmt: skip
    return {i: gens[j * cfg.contrast : (j + 1) * cfg.contrast] for j, i in enumerate(idx)}


def run(ctx: StageContext) -> StageResult:
    cfg = ctx.config if isinstance(ctx.config, PairsConfig) else PairsConfig.model_validate(ctx.config)
    if cfg.policy is None and ctx.extra.get("policy"):  # the pipeline names the current policy per round
        cfg = cfg.model_copy(update={"policy": ctx.extra["policy"]})
    started = time.perf_counter()
    round_ = int(ctx.extra.get("round", 1))
    seed = round_seed(ctx.seed, round_)
    recs = redraw_constraints(_load(ctx.inputs["instructions"]), seed, round_)
    engine = ctx.engine()
    prompts, samples = _sample(ctx, cfg, recs, seed)
    steered = _steered(ctx, cfg, recs, prompts, seed)
    choice = choose(engine, cfg.critic, n_per_kind=cfg.calibration_per_kind, seed=ctx.seed,
                    calibrate_named=True, require_pointwise=False, adapter=cfg.policy,
                    candidates=cfg.critic_candidates, cache_dir=ctx.out_dir,
                    min_agreement=0.5 if cfg.require_agreement else 0.0)  # fmt: skip
    scorer = choice.scorer
    scorer.batch_size = cfg.batch_size
    threshold = scorer.default_threshold if cfg.margin_threshold is None else cfg.margin_threshold
    fmt = get_format()
    texts = [list(dict.fromkeys(g.text.strip() for g in gs if g.text.strip())) for gs in samples]
    cut = [unended((g.text.strip(), g.stop_reason) for g in gs) for gs in samples]  # rejected: trained open
    pairs: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    best: dict[int, str] = {}  # instruction index -> its best sample (chosen side of negatives)
    dropped = {"fewer_than_2_distinct": 0, "verifiable_no_contrast": 0, "below_margin_or_disagree": 0,
               "steered_no_contrast": 0}

    def add(i: int, chosen: str, rejected: str, margin: float, source: str, extra: dict[str, Any]) -> None:
        pid = f"pair:{recs[i]['id']}:{len(pairs)}"
        is_open = rejected in cut[i]
        pairs.append({"id": pid, "instruction_id": str(recs[i]["id"]), "prompt": fmt.prompt(recs[i]["text"]),
                      "chosen": fmt.completion(chosen),
                      "rejected": fmt.unfinished(rejected) if is_open else fmt.completion(rejected),
                      "rejected_ended": not is_open, "margin": float(margin), "source": source,
                      "scorer": extra.pop("scorer")})  # fmt: skip
        details.append({"id": pid, "gen_prompt": prompts[i], **extra})

    for i, gs in steered.items():
        cons = recs[i]["constraints"]
        pair = contrast_pair(cons, texts[i], [g.text.strip() for g in gs if g.stop_reason != "dead_end"])
        if pair is None:
            dropped["steered_no_contrast"] += 1
            continue
        frac = sum(c.passed for c in check_all(pair[1], cons)) / len(cons)
        add(i, *pair, 1.0 - frac, "contrast", {"scorer": "verifiable", "rejected_pass_fraction": frac})
    open_idx = []
    for i, r in enumerate(recs):
        if len(texts[i]) < 2:
            dropped["fewer_than_2_distinct"] += 1
            if texts[i]:
                best[i] = texts[i][0]
            continue
        cons = list(r.get("constraints") or [])
        if not cons:
            open_idx.append(i)
            continue
        frac = [sum(c.passed for c in check_all(t, cons)) / len(cons) for t in texts[i]]
        order = sorted(range(len(frac)), key=lambda k: -frac[k])
        if frac[order[0]] == 1.0:
            best[i] = texts[i][order[0]]
        if frac[order[0]] == 1.0 and frac[order[-1]] < 1.0:
            add(i, texts[i][order[0]], texts[i][order[-1]], frac[order[0]] - frac[order[-1]], "verifiable",
                {"scorer": "verifiable", "pass_fraction": frac, "chosen_index": order[0],
                 "rejected_index": order[-1]})  # fmt: skip
        else:
            dropped["verifiable_no_contrast"] += 1
    groups = [(str(recs[i]["id"]), recs[i]["text"], texts[i]) for i in open_idx]
    for i, ranked in zip(open_idx, rank_all(scorer, engine, groups, adapter=cfg.policy), strict=True):
        if ranked is None:
            continue
        best[i] = texts[i][ranked.order[0]]
        if keep(ranked, threshold, cfg.require_agreement):
            c, r = texts[i][ranked.order[0]], texts[i][ranked.order[-1]]
            add(i, c, r, ranked.margin, f"critic:{scorer.name}",
                {"scorer": scorer.name, "orders_agree": ranked.orders_agree, "chosen_index": ranked.order[0],
                 "rejected_index": ranked.order[-1], **ranked.details})  # fmt: skip
        else:
            dropped["below_margin_or_disagree"] += 1
    requested = _negatives(ctx, cfg, recs, prompts, texts, best, scorer, add)
    out = ctx.out_dir
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / "pairs.jsonl", pairs)
    write_jsonl_atomic(out / "pair_details.jsonl", details)
    by_source: dict[str, int] = {}
    for p in pairs:
        by_source[p["source"]] = by_source.get(p["source"], 0) + 1
    counts = {"instructions": len(recs), "samples": sum(len(s) for s in samples), "pairs": len(pairs),
              "steered_samples": sum(len(g) for g in steered.values()),
              **{f"dropped_{k}": v for k, v in dropped.items()}}  # fmt: skip
    checked = [passes_all(g.text.strip(), r["constraints"]) for r, gs in zip(recs, samples, strict=True)
               if r.get("constraints") for g in gs]  # fmt: skip
    metrics = {**choice.manifest(), "margin_threshold": threshold, "by_source": by_source,
               "negatives_requested": requested, "round": round_, "seed": seed,
               # The sampling policy's own pass rate on its training instructions: the signal a round has.
               "policy_pass_rate": round(sum(checked) / len(checked), 4) if checked else None}  # fmt: skip
    outputs = {"pairs": out / "pairs.jsonl", "pair_details": out / "pair_details.jsonl"}
    tokens = sum(g.n_tokens for gs in [*samples, *steered.values()] for g in gs)
    return finish(ctx, cfg, started, outputs, counts, metrics, tokens)


AddPair = Callable[[int, str, str, float, str, dict[str, Any]], None]


def _negatives(
    ctx: StageContext,
    cfg: PairsConfig,
    recs: list[dict[str, Any]],
    prompts: list[str],
    texts: list[list[str]],
    best: dict[int, str],
    scorer: Scorer,
    add: AddPair,
) -> dict[str, int]:
    """Add negatives for prompts that have a best sample; return the count requested per kind."""
    eligible = sorted(best)
    total = min(len(eligible), round(cfg.negatives.ratio * len(recs)))
    requested = neg.apportion(cfg.negatives.weights, total)
    rng = random.Random(ctx.seed + 1)
    rng.shuffle(eligible)
    kinds = [kind for kind, n in requested.items() for _ in range(n)]
    plan = [(eligible[j], kind) for j, kind in enumerate(kinds)]
    refusals: dict[int, str] = {}
    need_refusal = [i for i, kind in plan if kind == "refusal"]
    if need_refusal:
        params = GenParams(max_new_tokens=min(32, cfg.max_new_tokens), temperature=cfg.temperature,
                           top_p=cfg.top_p, seed=ctx.seed, stop=get_format().stop)  # fmt: skip
        opening = " " + neg.REFUSAL_OPENING
        gens = ctx.engine().generate([prompts[i] + opening for i in need_refusal], params, adapter=cfg.policy)
        for i, g in zip(need_refusal, gens, strict=True):
            sep = "" if g.text[:1] in (" ", ",", ".", "'") else " "  # keep the model's spacing
            refusals[i] = (neg.REFUSAL_OPENING + sep + g.text).strip()
    built = []
    for i, kind in plan:
        others = [best[k] for k in eligible if k != i]
        seconds = [t for t in texts[i] if t != best[i]]
        bad = neg.build(kind, best[i], rng, constraints=recs[i].get("constraints") or (),
                        other_answer=rng.choice(others) if others else None,
                        second_sample=seconds[0] if seconds else None, refusal=refusals.get(i))  # fmt: skip
        if bad is not None:
            built.append((i, kind, bad))
    verdicts = scorer.compare(
        ctx.engine(),
        [PairItem(f"neg:{n}", recs[i]["text"], bad, best[i]) for n, (i, _, bad) in enumerate(built)],
        adapter=cfg.policy,
    )
    for (i, kind, bad), v in zip(built, verdicts, strict=True):
        add(i, best[i], bad, v.margin, f"negative:{kind}",
            {"scorer": scorer.name, "orders_agree": v.orders_agree, "p_chosen": v.p_b})  # fmt: skip
    return requested
