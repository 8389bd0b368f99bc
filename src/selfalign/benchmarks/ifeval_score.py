"""Score answers to IFEval prompts with IFEval's checkers: one record per prompt and condition.

The strict and loose tests are lm-eval's own functions, called as its ``process_results`` calls them, so
the per-instruction verdicts are IFEval's, not a re-implementation (selfalign's own constraint checks are a
separate measurement: ``constraints.ifeval``).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from selfalign.benchmarks.ifeval_data import IfevalPrompt
from selfalign.constraints.ifeval import IfevalResult
from selfalign.engine.types import Generation


def score_response(checkers: ModuleType, p: IfevalPrompt, response: str) -> IfevalResult:
    """IFEval's strict and loose verdict for each of the prompt's instructions, in order."""
    inp = checkers.InputExample(
        key=p.key,
        instruction_id_list=list(p.instruction_id_list),
        prompt=p.prompt,
        kwargs=[dict(kw) for kw in p.kwargs],
    )
    strict = checkers.test_instruction_following_strict(inp, response)
    loose = checkers.test_instruction_following_loose(inp, response)
    return IfevalResult(
        tuple(bool(x) for x in strict.follow_instruction_list),
        tuple(bool(x) for x in loose.follow_instruction_list),
    )


def score_records(
    checkers: ModuleType, rows: Sequence[IfevalPrompt], condition: str, generations: Sequence[Generation]
) -> list[dict[str, Any]]:
    """One record per prompt: the exact text fed, the answer (cut at the stop string, stripped), verdicts."""
    if len(rows) != len(generations):
        raise ValueError(f"{condition}: {len(rows)} prompts but {len(generations)} generations")
    records = []
    for row, gen in zip(rows, generations, strict=True):
        output = gen.text.strip()
        result = score_response(checkers, row, output)
        records.append(
            {
                "key": row.key,
                "condition": condition,
                "instruction_id_list": list(row.instruction_id_list),
                "prompt": gen.prompt,
                "output": output,
                "stop_reason": gen.stop_reason,
                **result.to_dict(),
            }
        )
    return records
