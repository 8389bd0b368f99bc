"""Answer every held-out item under every condition, score each answer, judge the open-ended ones.

The unit everything passes around is the eval record (``selfalign.data.schemas.EvalItem``):
``id, condition, category, prompt, output, checks, passed, judge``. Scoring is a pure function of an
item and an output text, so a test can score transformed outputs of a real condition exactly as the
product scores real ones (the planted-confound test does this).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from selfalign.engine.types import Generation, GenParams
from selfalign.evaluate.checks import ifeval_output, score_output
from selfalign.evaluate.conditions import Condition, PromptBuilder
from selfalign.evaluate.critic import PairItem, PairwiseCritic
from selfalign.evaluate.items import HeldOutItem
from selfalign.evaluate.store import ConditionStore
from selfalign.prompts.format import get_format

if TYPE_CHECKING:
    from selfalign.engine import Engine

log = logging.getLogger("selfalign")


def gen_params(max_new_tokens: int, batch_size: int, seed: int) -> GenParams:
    """Greedy decoding with the format's stop strings: the same for every condition."""
    return GenParams(
        max_new_tokens=max_new_tokens,
        temperature=0.0,
        seed=seed,
        stop=get_format().stop,
        batch_size=batch_size,
    )


def generate_outputs(
    engine: Engine,
    items: Sequence[HeldOutItem],
    conditions: Sequence[Condition],
    builder: PromptBuilder,
    params: GenParams,
    store: ConditionStore | None = None,
) -> dict[str, list[Generation]]:
    """Each condition's generations, in item order. One base; the adapter is switched per condition. With a
    ``store``, a condition it already holds is read back and each new one is saved as soon as it is done."""
    out: dict[str, list[Generation]] = {}
    for cond in conditions:
        prompts = [builder.build(cond.prompt, it) for it in items]
        kept = store.load(cond, prompts, params) if store is not None else None
        if kept is not None:
            log.info("evaluate: %s: %d answers read from the kept ones (an interrupted run, or --reuse)",
                     cond.name, len(kept))  # fmt: skip
            out[cond.name] = kept
            continue
        out[cond.name] = engine.generate(prompts, params, adapter=cond.adapter)
        if store is not None:
            store.save(cond, prompts, params, out[cond.name])
    return out


def score_records(
    items: Sequence[HeldOutItem], condition: str, prompts: Sequence[str], outputs: Sequence[str]
) -> list[dict[str, Any]]:
    """One eval record per item: the exact prompt, the output, every check and the verdict."""
    if not len(items) == len(prompts) == len(outputs):
        raise ValueError(f"{condition}: {len(items)} items, {len(prompts)} prompts, {len(outputs)} outputs")
    records = []
    for item, prompt, output in zip(items, prompts, outputs, strict=True):
        checks, passed = score_output(item, output)
        records.append(
            {
                "id": item.id,
                "condition": condition,
                "category": item.category,
                "prompt": prompt,
                "output": output,
                "checks": checks,
                "passed": passed,
                "judge": None,
                "ifeval": ifeval_output(item, output),
            }
        )
    return records


def records_from_generations(
    items: Sequence[HeldOutItem], generations: dict[str, list[Generation]]
) -> dict[str, list[dict[str, Any]]]:
    """Score every condition's generations (output = the text cut at the stop string, stripped)."""
    return {
        name: score_records(items, name, [g.prompt for g in gens], [g.text.strip() for g in gens])
        for name, gens in generations.items()
    }


def judge_open_ended(
    engine: Engine,
    items: Sequence[HeldOutItem],
    records: dict[str, list[dict[str, Any]]],
    baseline: str,
    critic: PairwiseCritic,
) -> None:
    """For items without constraints, P(condition's answer better than the baseline's), both orders.

    Written into each record's ``judge``; the baseline's own records get none (it would be 0.5 by
    construction). Verifiable items are never judged: code decides them.
    """
    open_idx = [i for i, it in enumerate(items) if not it.verifiable]
    if not open_idx:
        return
    base = records[baseline]
    for name, recs in records.items():
        if name == baseline:
            continue
        pairs = [PairItem(items[i].instruction, base[i]["output"], recs[i]["output"]) for i in open_idx]
        probs = critic.compare(engine, pairs)
        if len(probs) != len(pairs):
            raise ValueError(f"critic {critic.name!r} returned {len(probs)} verdicts for {len(pairs)} pairs")
        for i, p in zip(open_idx, probs, strict=True):
            recs[i]["judge"] = {"scorer": critic.name, "vs": baseline, "p_better": float(p)}


def run_conditions(
    engine: Engine,
    items: Sequence[HeldOutItem],
    conditions: Sequence[Condition],
    builder: PromptBuilder,
    params: GenParams,
    baseline: str,
    critic: PairwiseCritic | None,
    store: ConditionStore | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[Generation]]]:
    """Generate, score and (for open-ended items, when a critic is given) judge: records per condition."""
    generations = generate_outputs(engine, items, conditions, builder, params, store)
    records = records_from_generations(items, generations)
    if critic is not None:
        judge_open_ended(engine, items, records, baseline, critic)
    return records, generations
