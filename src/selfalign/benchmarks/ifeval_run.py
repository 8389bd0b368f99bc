"""``selfalign evaluate --benchmark ifeval``: every condition answers an IFEval-format file; IFEval scores it.

The conditions are ``selfalign evaluate``'s (base zero-shot, base few-shot, then each adapter zero-shot),
generated the same way (greedy, the format's stop strings, one base with adapters switched). Each IFEval
``prompt`` is the instruction of selfalign's format (``Instruction: {prompt}\\nResponse:``; the few-shot
base gets the solved examples first), because that is the format the tuned policies were trained on.
Outputs: ``items.jsonl`` (one record per prompt and condition), ``results.json``, ``manifest.json``.
"""

from __future__ import annotations

import time

from selfalign.benchmarks.ifeval_checkers import load_checkers, provenance
from selfalign.benchmarks.ifeval_data import load_ifeval
from selfalign.benchmarks.ifeval_score import score_records
from selfalign.benchmarks.ifeval_summary import summarize_ifeval
from selfalign.errors import ConfigError
from selfalign.evaluate.conditions import BASE_FEW_SHOT, PromptBuilder, check_conditions, with_adapters
from selfalign.evaluate.headline import stronger_base
from selfalign.evaluate.items import HeldOutItem
from selfalign.evaluate.runner import gen_params, generate_outputs
from selfalign.stages.base import StageContext, StageResult, finish
from selfalign.stages.evaluate import EvaluateConfig, adapters_to_attach, write_outputs

AUTO = "auto"  # baseline: the stronger base condition by prompt-level strict (as the pipeline picks)


def run_ifeval(ctx: StageContext) -> StageResult:
    """Generate under every condition, score with IFEval's checkers, compare with the baseline."""
    cfg = ctx.config
    if not isinstance(cfg, EvaluateConfig):
        raise ConfigError(f"ifeval: expected an EvaluateConfig, got {type(cfg).__name__}")
    started = time.perf_counter()
    checkers = load_checkers()  # before the model: a missing extra fails in a second, not after loading
    rows = load_ifeval(ctx.inputs["data"], checkers)
    engine = ctx.engine()
    for name, path in adapters_to_attach(ctx, cfg).items():
        if name not in engine.adapters:
            engine.add_adapter(name, path)
    conditions = cfg.conditions or with_adapters(sorted(engine.adapters))
    auto = cfg.baseline == AUTO
    check_conditions(conditions, BASE_FEW_SHOT if auto else cfg.baseline, list(engine.adapters))

    items = [HeldOutItem(r.key, r.prompt.strip(), r.group) for r in rows]
    builder = PromptBuilder(items, cfg.shots, cfg.shots_seed)
    params = gen_params(cfg.max_new_tokens, cfg.batch_size, cfg.seed)
    gens = generate_outputs(engine, items, conditions, builder, params)
    records = {name: score_records(checkers, rows, name, g) for name, g in gens.items()}
    strict = {n: [{"passed": r["prompt_strict"]} for r in recs] for n, recs in records.items()}
    baseline = (stronger_base(strict) or BASE_FEW_SHOT) if auto else cfg.baseline
    results = summarize_ifeval(
        records, baseline, n_boot=cfg.n_boot, seed=cfg.seed, confidence=cfg.confidence, alpha=cfg.alpha
    )
    results["baseline_rule"] = "stronger base condition (prompt-level strict)" if auto else "given"
    results["checkers"] = provenance()
    results["data"] = str(ctx.inputs["data"])
    results["conditions_run"] = [c.model_dump() for c in conditions]
    results["adapters"] = dict(engine.adapters)

    outputs, n, tokens = write_outputs(ctx, records, results, gens)
    counts = {"prompts": len(rows), "conditions": len(conditions), "records": n}
    return finish(ctx, cfg, started, outputs, counts, {"results": results}, tokens, record_metrics=False,
                  benchmark="ifeval")  # fmt: skip
