"""Issue 28, item 7: a file in IFEval's format with the published file's quirks (``letter_frequency`` whose
letter is not a letter) is scored, with a warning, exactly as lm-evaluation-harness 0.4.13 scores it.

The reference is lm-eval itself: ``simple_evaluate`` on a task that includes lm-eval's own ``ifeval.yaml``
over this file, with a model that returns the fixed responses below. Its four numbers and its per-document
verdicts must equal selfalign's on the same responses. The rows are written for this test (no IFEval
prompt is copied); the quirky ones have answers where about half the letters a checker could draw pass, so
a different random draw changes the verdicts."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest

from selfalign.benchmarks.ifeval_checkers import load_checkers
from selfalign.benchmarks.ifeval_data import load_ifeval
from selfalign.benchmarks.ifeval_score import LM_EVAL_RANDOM_SEED, score_records
from selfalign.benchmarks.ifeval_summary import summarize_ifeval
from selfalign.engine.types import Generation

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is in the 'ifeval' extra")

HALF = "aaa bbb ccc ddd eee fff ggg hhh iii jjj kkk lll mmm"  # a-m three times each, n-z never


def _letter(letter: str, freq: int, rel: str) -> dict[str, Any]:
    return {"letter": letter, "let_frequency": freq, "let_relation": rel}


# (prompt, instruction ids, kwargs, response); keys are the row numbers
ROWS: list[tuple[str, list[str], list[dict[str, Any]], str]] = [
    ("Spell out a chant.", ["keywords:letter_frequency"], [_letter("#", 3, "at least")], HALF),
    ("Spell out a second chant.", ["keywords:letter_frequency"], [_letter("#", 2, "less than")], HALF),
    ("Spell out a third chant.", ["keywords:letter_frequency"], [_letter("%", 3, "at least")], HALF),
    ("Chant without commas.", ["keywords:letter_frequency", "punctuation:no_comma"],
     [_letter("7", 3, "at least"), {}], HALF),
    ("Chant with a pair.", ["keywords:letter_frequency"], [_letter("ab", 3, "at least")], HALF),
    ("Chant once more.", ["keywords:letter_frequency"], [_letter("#", 1, "less than")], "*" + HALF + "*"),
    ("Chant loudly.", ["keywords:letter_frequency"], [_letter("E", 3, "at least")], HALF),
    ("Describe a creek.", ["keywords:existence"], [{"keywords": ["creek"]}], "the creek runs cold"),
    ("Describe a meadow.", ["punctuation:no_comma"], [{}], "green, wide, and quiet"),
    ("Describe a hill in lowercase.", ["change_case:english_lowercase"], [{}], "a round hill under the sky"),
    ("Describe a lake briefly.", ["length_constraints:number_words"],
     [{"num_words": 6, "relation": "less than"}], "a still lake at dawn with mist everywhere"),
    ("Name a cave.", ["keywords:letter_frequency", "keywords:existence"],
     [_letter("#", 2, "at least"), {"keywords": ["cave"]}], "cave " + HALF),
]  # fmt: skip
QUIRKY = {1, 2, 3, 4, 5, 6, 12}  # rows (1-based lines) whose letter the checker replaces


@pytest.fixture(scope="module")
def checkers():
    return load_checkers()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ifeval-quirks") / "input_data.jsonl"
    rows = [{"key": i, "prompt": p, "instruction_id_list": ids, "kwargs": kw}
            for i, (p, ids, kw, _) in enumerate(ROWS, 1)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def _records(checkers, rows) -> list[dict[str, Any]]:
    gens = [Generation(prompt=r.prompt, raw=ROWS[i][3], text=ROWS[i][3], stop_reason="eos", n_prompt_tokens=1,
                       n_tokens=1) for i, r in enumerate(rows)]  # fmt: skip
    return score_records(checkers, rows, "fixed", gens)


@pytest.fixture(scope="module")
def lm_eval_run(data, tmp_path_factory) -> dict[str, Any]:
    """lm-eval 0.4.13's own IFEval task over ``data``, answered with the fixed responses."""
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    answers = {p: resp for p, _, _, resp in ROWS}

    class Fixed(LM):
        def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
            return [answers[r.args[0]] for r in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    tasks = tmp_path_factory.mktemp("lm-eval-task")
    include = Path(lm_eval.__file__).parent / "tasks" / "ifeval" / "ifeval.yaml"
    (tasks / "quirks.yaml").write_text(
        f"include: {include}\ntask: selfalign_ifeval_quirks\ndataset_path: json\ndataset_kwargs:\n"
        f"  data_files:\n    train: {data}\n  cache_dir: {tasks / 'hf-cache'}\n", "utf-8"
    )
    out = lm_eval.simple_evaluate(model=Fixed(), tasks=["selfalign_ifeval_quirks"], log_samples=True,
                                  task_manager=TaskManager(include_path=str(tasks)))  # fmt: skip
    name = "selfalign_ifeval_quirks"
    return {"results": out["results"][name], "samples": out["samples"][name]}


def test_the_quirky_rows_load_with_a_warning_naming_file_line_and_field(checkers, data, caplog):
    with caplog.at_level(logging.WARNING, logger="selfalign"):
        rows = load_ifeval(data, checkers)
    assert len(rows) == len(ROWS)
    warned = [r.getMessage() for r in caplog.records]
    assert {int(m.split(":")[1]) for m in warned} == QUIRKY
    assert f"{data}:1: kwargs[0]: keywords:letter_frequency: letter='#' is not usable" in warned[0]
    assert any("kwargs[0]" in m and "letter='ab'" in m for m in warned)
    assert all("\n" not in m for m in warned)


def test_selfalign_gives_lm_evals_four_numbers_and_every_verdict(checkers, data, lm_eval_run):
    rows = load_ifeval(data, checkers)
    records = _records(checkers, rows)
    ours = summarize_ifeval({"fixed": records}, "fixed", n_boot=10)["conditions"]["fixed"]["ifeval"]
    theirs = lm_eval_run["results"]
    names = {"prompt_strict": "prompt_level_strict_acc", "instruction_strict": "inst_level_strict_acc",
             "prompt_loose": "prompt_level_loose_acc",
             "instruction_loose": "inst_level_loose_acc"}  # fmt: skip
    for mine, ref in names.items():
        assert ours[mine]["rate"] == pytest.approx(theirs[f"{ref},none"]), mine  # fmt: skip
    samples = sorted(lm_eval_run["samples"], key=lambda s: s["doc_id"])
    assert [r["strict"] for r in records] == [s["inst_level_strict_acc"] for s in samples]
    assert [r["loose"] for r in records] == [s["inst_level_loose_acc"] for s in samples]


def test_a_different_draw_would_change_the_verdicts(checkers, data):
    """The test above can fail: under another random state the quirky rows score differently."""
    rows = load_ifeval(data, checkers)
    seeded = [(r["strict"], r["loose"]) for r in _records(checkers, rows)]
    other = []
    for seed in range(1, 6):
        random.seed(seed)
        other.append([(tuple(x.strict), tuple(x.loose)) for x in
                      (_score_unseeded(checkers, r, ROWS[i][3]) for i, r in enumerate(rows))])  # fmt: skip
    assert any(o != [(tuple(s), tuple(lo)) for s, lo in seeded] for o in other)


def _score_unseeded(checkers, row, response):
    from selfalign.benchmarks.ifeval_score import score_response

    return score_response(checkers, row, response)


def test_scoring_is_repeatable_and_leaves_the_programs_random_state_alone(checkers, data):
    rows = load_ifeval(data, checkers)
    random.seed(1234)
    before = random.getstate()
    first = _records(checkers, rows)
    assert random.getstate() == before
    assert _records(checkers, rows) == first


def test_the_seed_is_lm_evals():
    from lm_eval.defaults import DEFAULT_RANDOM_SEED

    assert LM_EVAL_RANDOM_SEED == DEFAULT_RANDOM_SEED
