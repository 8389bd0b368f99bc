"""Score answers to IFEval prompts with IFEval's checkers: one record per prompt and condition.

The strict and loose tests are lm-eval's own functions, called as its ``process_results`` calls them, so
the per-instruction verdicts are IFEval's, not a re-implementation (selfalign's own constraint checks are a
separate measurement: ``constraints.ifeval``).

A checker given a value it cannot use draws one from Python's ``random`` (the published file's
``letter_frequency`` rows with ``letter: '#'``). lm-eval's ``simple_evaluate`` seeds ``random`` with its
``DEFAULT_RANDOM_SEED`` (0), loads the task — which draws too: ``ConfigurableTask.task_name`` is
``getattr(config, "task", random_task_id())``, whose default is evaluated on every read, and loading one task
reads it three times — and then scores the documents in order, strict before loose. Each condition here is
scored from that same state (:func:`lm_eval_random`), so those rows get the verdicts of ``lm_eval --tasks
ifeval`` run alone (tests/test_ifeval_quirks.py runs lm-eval itself); the program's own random state is
restored afterwards. (In an lm-eval run of several tasks the draw, and so those rows' verdicts, differ.)
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from selfalign.benchmarks.ifeval_data import IfevalPrompt
from selfalign.constraints.ifeval import IfevalResult
from selfalign.engine.types import Generation

LM_EVAL_RANDOM_SEED = 0  # lm_eval.defaults.DEFAULT_RANDOM_SEED in 0.4.13 (tests/test_ifeval_quirks.py)
TASK_NAME_READS = 3  # lm-eval 0.4.13's TaskManager.load reads task_name three times for one task


@contextlib.contextmanager
def lm_eval_random() -> Iterator[None]:
    """Python's ``random`` as an lm-eval run of the one task has it when scoring starts; restored after."""
    from lm_eval.api.utils import random_task_id  # loaded with the checkers

    state = random.getstate()
    random.seed(LM_EVAL_RANDOM_SEED)
    for _ in range(TASK_NAME_READS):
        random_task_id()
    try:
        yield
    finally:
        random.setstate(state)


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
    with lm_eval_random():  # in document order, as lm-eval scores them
        pairs = zip(rows, generations, strict=True)
        results = [score_response(checkers, r, g.text.strip()) for r, g in pairs]
    for row, gen, result in zip(rows, generations, results, strict=True):
        output = gen.text.strip()
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
