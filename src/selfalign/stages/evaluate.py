"""Stage ``evaluate``: every condition answers the same held-out items; verifiable checks and a critic score
them; paired statistics compare each condition with base few-shot.

Inputs: ``heldout`` (JSONL of items: id, instruction|text, category, optional constraints and wording) and
any number of adapters as ``adapter:<name>`` (a PEFT adapter dir; the pipeline passes ``adapter:sft``,
``adapter:dpo``, ... and, with several seeds, ``adapter:sft-s0``, ``adapter:sft-s1``, ...), plus
``config.adapters``. Every seed's policy answers the same items, greedy and never steered; the headline pools
each policy's seeds (``evaluate.headline``). Outputs: ``items.jsonl`` (every output with its checks
and judge verdict), ``results.json`` (rates, intervals, tests, memory) and the manifest.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from selfalign.atomic import atomic_open
from selfalign.config import stable_hash
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.errors import ConfigError
from selfalign.evaluate.budget import check_budget
from selfalign.evaluate.clean import clean_headline, loop_warnings
from selfalign.evaluate.conditions import BASE_FEW_SHOT, Condition, PromptBuilder, check_conditions
from selfalign.evaluate.conditions import with_adapters as default_conditions
from selfalign.evaluate.critic import AUTO, get_critic
from selfalign.evaluate.headline import headline
from selfalign.evaluate.items import load_items
from selfalign.evaluate.memory import snapshot
from selfalign.evaluate.runner import gen_params, run_conditions
from selfalign.evaluate.store import STORE_DIR, ConditionStore
from selfalign.evaluate.summary import summarize
from selfalign.stages.base import StageContext, StageResult, finish
from selfalign.stages.digest import code_version, digest

log = logging.getLogger("selfalign")

ADAPTER_PREFIX = "adapter:"


class EvaluateConfig(BaseModel):
    """The ``evaluate`` section of the run config."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    conditions: list[Condition] | None = Field(
        default=None,
        description="conditions to run; null = base_zero_shot, base_few_shot, then every adapter zero-shot",
    )
    adapters: dict[str, str] = Field(
        default_factory=dict, description="extra adapters to attach: name -> PEFT adapter dir"
    )
    baseline: str = Field(default=BASE_FEW_SHOT, description="condition every other one is compared with")
    max_new_tokens: int = Field(default=128, ge=1, description="tokens generated per answer at most")
    batch_size: int = Field(default=16, ge=1, description="prompts per generate / logprobs batch")
    critic: str | None = Field(
        default=AUTO,
        description="pairwise critic for open-ended items: a selfalign.judge scorer name, 'auto' (the one "
        "the critique stage picked by measured agreement), or null = none",
    )
    shots: int = Field(default=3, ge=0, description="solved examples in the base few-shot prompt")
    shots_seed: int = Field(default=0, description="seed choosing the few-shot examples (fixed per run)")
    n_boot: int = Field(default=2000, ge=1, description="paired bootstrap replicates for lift intervals")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="level of every interval")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Benjamini-Hochberg false discovery rate")
    seed: int = Field(default=0, description="generation and bootstrap seed")
    reuse: list[str] = Field(
        default_factory=list,
        description="earlier evaluations' out dirs: a condition whose answers one of them kept under the "
        "same key (code, weights, adapter files, prompts, decoding) is read from there, not generated",
    )


def _write_json(path: Path, obj: Any) -> None:
    with atomic_open(path) as f:
        json.dump(obj, f, indent=2)


def write_outputs(
    ctx: StageContext, records: dict[str, list[dict[str, Any]]], results: dict[str, Any], gens: dict[str, Any]
) -> tuple[dict[str, Path], int, int]:
    """Write ``items.jsonl`` (every record) and ``results.json``; return (paths, records, tokens)."""
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    items_path, results_path = ctx.out_dir / "items.jsonl", ctx.out_dir / "results.json"
    n = write_jsonl_atomic(items_path, [r for recs in records.values() for r in recs])
    _write_json(results_path, results)
    tokens = sum(g.n_tokens for gs in gens.values() for g in gs)
    return {"items": items_path, "results": results_path}, n, tokens


def adapters_to_attach(ctx: StageContext, cfg: EvaluateConfig) -> dict[str, str]:
    found = {
        k.removeprefix(ADAPTER_PREFIX): str(v) for k, v in ctx.inputs.items() if k.startswith(ADAPTER_PREFIX)
    }
    for name, path in cfg.adapters.items():
        if name in found and found[name] != path:
            raise ConfigError(f"evaluate.adapters.{name}: given twice ({found[name]} and {path})")
        found[name] = path
    return found


def adapter_digest(path: Path) -> str:
    """What an adapter's answers depend on: its config and weights, not its model card (which names the run
    dir it was trained in) or the tokenizer files PEFT saves beside them (the engine loads one tokenizer)."""
    files = sorted(p for p in path.glob("adapter_*") if p.is_file()) if path.is_dir() else []
    if not files:
        return digest(path)
    return stable_hash({f.name: digest(f) for f in files})


def reuse_dirs(dirs: list[str]) -> list[Path]:
    """The ``reuse`` dirs, each checked to hold kept answers (a typo must not quietly cost an hour)."""
    out = []
    for d in dirs:
        path = Path(d)
        if not (path / STORE_DIR).is_dir():
            raise ConfigError(
                f"evaluate.reuse: {path} has no {STORE_DIR}/ of kept answers (an evaluation's out dir is "
                "needed; evaluations made before 2026-12-07 removed theirs once done)"
            )
        out.append(path)
    return out


def run(ctx: StageContext) -> StageResult:
    cfg = ctx.config
    if not isinstance(cfg, EvaluateConfig):
        raise ConfigError(f"evaluate: expected an EvaluateConfig, got {type(cfg).__name__}")
    if "heldout" not in ctx.inputs:
        raise ConfigError("evaluate: no 'heldout' input (the held-out items JSONL)")
    started = time.perf_counter()
    items = load_items(ctx.inputs["heldout"])
    check_budget(ctx.inputs["heldout"], cfg.max_new_tokens)  # before any generation
    reuse = reuse_dirs(cfg.reuse)  # before the model loads
    memory = [snapshot("start")]
    engine = ctx.engine()
    memory.append(snapshot("base loaded"))
    for name, path in adapters_to_attach(ctx, cfg).items():
        if name not in engine.adapters:
            engine.add_adapter(name, path)
    memory.append(snapshot(f"{len(engine.adapters)} adapters attached"))
    conditions = cfg.conditions or default_conditions(sorted(engine.adapters))
    check_conditions(conditions, cfg.baseline, list(engine.adapters))

    builder = PromptBuilder(items, cfg.shots, cfg.shots_seed)
    params = gen_params(cfg.max_new_tokens, cfg.batch_size, cfg.seed)
    critic = get_critic(cfg.critic, ctx.extra.get("critic")) if cfg.critic else None
    # Kept per condition as each is done: a killed evaluation resumes at the condition it was in, and a later
    # one of the same items can reuse it. The key holds what the answers depend on beyond the config (the
    # CLI's --out, unlike a pipeline stage dir, is not cleared when it changes): the code, the weights, how
    # they run, and the condition's adapter files.
    prov = engine.provenance
    # Library versions too: greedy answers can change with torch/transformers, and kept files never expire.
    made_by = {k: prov.get(k) for k in ("weights_sha256", "dtype", "quantization", "device", "backend",
                                        "architecture", "versions")}  # fmt: skip
    adapters = {name: adapter_digest(Path(path)) for name, path in sorted(engine.adapters.items())}
    store = ConditionStore(ctx.out_dir / STORE_DIR, {**made_by, "code": code_version()}, adapters, reuse)
    records, gens = run_conditions(engine, items, conditions, builder, params, cfg.baseline, critic, store)
    memory.append(snapshot("generated and judged"))

    results = summarize(
        records, cfg.baseline, n_boot=cfg.n_boot, seed=cfg.seed, confidence=cfg.confidence, alpha=cfg.alpha
    )
    results["conditions_run"] = [c.model_dump() for c in conditions]
    results["reused"] = store.reused  # condition -> the kept file its answers were read from
    results["adapters"] = dict(engine.adapters)
    results["memory"] = memory
    results["stop_reasons"] = {
        name: {r: sum(g.stop_reason == r for g in gs) for r in ("stop", "eos", "length")}
        for name, gs in gens.items()
    }
    # The lead: each policy's seeds (sft-s0, sft-s1, ...) pooled against the stronger base.
    results["headline"] = headline(
        records, {name: [g.stop_reason for g in gs] for name, gs in gens.items()},
        n_boot=cfg.n_boot, seed=cfg.seed, confidence=cfg.confidence, alpha=cfg.alpha,
        unseen_wording=[it.id for it in items if it.wording == "unseen"],
    )  # fmt: skip
    # Beside it: the same statistics where a pass also needs an answer QC does not flag as a loop or an echo.
    results["headline_clean"] = clean_headline(
        records, {it.id: it.instruction for it in items}, n_boot=cfg.n_boot, seed=cfg.seed,
        confidence=cfg.confidence, alpha=cfg.alpha,
        unseen_wording=[it.id for it in items if it.wording == "unseen"],
    )  # fmt: skip
    for line in loop_warnings(results["headline_clean"]["lost"]):  # said in the log, not only in a table
        log.warning("evaluate: %s", line)
    made_here = {name: gs for name, gs in gens.items() if name not in store.read}  # tokens this run spent
    outputs, n, tokens = write_outputs(ctx, records, results, made_here)
    counts = {"items": len(items), "conditions": len(conditions), "records": n, "reused": len(store.reused)}
    return finish(ctx, cfg, started, outputs, counts, {"results": results}, tokens, record_metrics=False,
                  memory=memory)  # fmt: skip
