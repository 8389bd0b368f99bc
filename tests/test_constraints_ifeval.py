"""IFEval mapping table and IFEval-style strict/loose scoring with our checkers."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from constraint_answers import obeying_answer
from selfalign.constraints import (
    IFEVAL_COVERAGE,
    IFEVAL_GROUPS,
    REGISTRY,
    IfevalResult,
    all_types,
    check_all,
    ifeval_result,
    ifeval_scores,
    loose_variants,
    types_for,
)
from selfalign.constraints.ifeval_map import UNMAPPED_TYPES
from selfalign.evaluate.checks import ifeval_output, ifeval_rates
from selfalign.evaluate.items import HeldOutItem

GROUPS = {
    "keywords", "language", "length_constraints", "detectable_content", "detectable_format",
    "combination", "startend", "change_case", "punctuation",
}  # fmt: skip


def c(ctype: str, **params: object) -> dict:
    return {"type": ctype, "params": params}


def test_every_ifeval_family_and_instruction_id_has_a_type_of_ours() -> None:
    ids = [cover.ifeval_id for cover in IFEVAL_COVERAGE]
    assert len(ids) == len(set(ids)) == 25
    assert set(IFEVAL_GROUPS) == GROUPS
    for cover in IFEVAL_COVERAGE:
        assert cover.types and set(cover.types) <= set(REGISTRY), cover
    mapped = {t for cover in IFEVAL_COVERAGE for t in cover.types}
    assert mapped | UNMAPPED_TYPES == set(all_types())
    assert not mapped & UNMAPPED_TYPES


def test_types_for() -> None:
    assert types_for("detectable_format:title") == ("title",)
    assert types_for("length_constraints:number_words") == ("max_words", "min_words")
    with pytest.raises(KeyError, match="unknown IFEval instruction id 'title'"):
        types_for("title")


def test_loose_variants_drop_first_last_lines_and_asterisks() -> None:
    variants = loose_variants("Sure!\r\n**Bold** body\nBye")
    assert variants == [
        "Sure!\n**Bold** body\nBye",
        "**Bold** body\nBye",
        "Sure!\n**Bold** body",
        "**Bold** body",
        "Sure!\nBold body\nBye",
        "Bold body\nBye",
        "Sure!\nBold body",
        "Bold body",
    ]
    assert len(loose_variants("one line")) == 8


@pytest.mark.parametrize(
    ("answer", "constraints", "strict", "loose"),
    [
        # A chatty opener line breaks "wrap in quotes" strictly; loose drops the first line.
        ('Sure, here it is:\n"Tides follow the moon."', [c("quoted")], [False], [True]),
        # A trailing sign-off breaks the closing phrase strictly; loose drops the last line.
        ("Boil the pasta. That is all.\nEnjoy!", [c("ends_with", phrase="That is all.")], [False], [True]),
        # Bold around the marker hides it strictly; loose removes every asterisk.
        ("Thanks for lunch.\n**P.S.** Next time I pay.", [c("postscript", marker="P.S.")], [False], [True]),
        # Loose does not rescue a real violation, and judges each instruction on its own.
        (
            "Sure:\n- calm, quiet hills\n- rivers",
            [c("bullet_count", n=2), c("no_commas")],
            [True, False],
            [True, False],
        ),
        ("Title\n*x* and *y*", [c("highlighted_sections", n=2), c("lowercase")], [True, False], [True, True]),
        # One line: dropping it leaves nothing, and a blank variant never passes.
        ("Hi, there", [c("no_commas")], [False], [False]),
    ],
)
def test_ifeval_result_strict_and_loose(answer: str, constraints: list, strict: list, loose: list) -> None:
    result = ifeval_result(answer, constraints)
    assert list(result.strict) == strict
    assert list(result.loose) == loose
    assert result.prompt_strict == all(strict) and result.prompt_loose == all(loose)


def test_loose_never_fails_what_strict_passes() -> None:
    rng = random.Random(3)
    for ctype in all_types():
        cs = [{"type": ctype, "params": REGISTRY[ctype].sample_params(rng)}]
        answer = obeying_answer(cs)
        result = ifeval_result(answer, cs)
        assert result.strict == (True,) and result.loose == (True,), (ctype, answer)
        assert [r.passed for r in check_all(answer, cs)] == [True]


def test_ifeval_scores_prompt_and_instruction_level() -> None:
    results = [
        IfevalResult(strict=(True, False), loose=(True, True)),
        IfevalResult(strict=(True,), loose=(True,)),
        IfevalResult(strict=(False, False, True), loose=(False, True, True)),
    ]
    s = ifeval_scores(results)
    assert (s.prompts, s.instructions) == (3, 6)
    assert s.prompt_strict == pytest.approx(1 / 3)
    assert s.prompt_loose == pytest.approx(2 / 3)
    assert s.instruction_strict == pytest.approx(3 / 6)
    assert s.instruction_loose == pytest.approx(5 / 6)
    assert s.to_dict()["instructions"] == 6


def test_ifeval_errors_and_round_trip() -> None:
    with pytest.raises(ValueError, match="at least one constraint"):
        ifeval_result("text", [])
    with pytest.raises(ValueError, match="at least one result"):
        ifeval_scores([])
    r = IfevalResult(strict=(True, False), loose=(True, True))
    assert IfevalResult.from_dict(r.to_dict()) == r
    with pytest.raises(ValueError, match="equal-length"):
        IfevalResult.from_dict({"strict": [True], "loose": []})


def test_evaluation_record_carries_ifeval_verdicts() -> None:
    item = HeldOutItem("i1", "Describe the sea.", "creative", [c("quoted"), c("no_commas")])
    record = ifeval_output(item, 'Here you go:\n"The sea is grey and calm."')
    assert record == {
        "strict": [False, True],
        "loose": [True, True],
        "prompt_strict": False,
        "prompt_loose": True,
    }
    assert ifeval_output(HeldOutItem("o", "Chat.", "c"), "anything") is None


def test_doc_mapping_table_matches_the_code() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "CONSTRAINTS.md").read_text("utf-8")
    rows = {}
    for line in doc.splitlines():
        m = re.match(r"\| `([a-z_]+:[a-z_]+)` \| (.+?) \|", line)
        if m:
            rows[m.group(1)] = tuple(re.findall(r"`([a-z_]+)`", m.group(2)))
    assert rows == {cover.ifeval_id: cover.types for cover in IFEVAL_COVERAGE}


def test_ifeval_rates_aggregate_eval_records() -> None:
    quoted = HeldOutItem("a", "Say hi.", "creative", [c("quoted")])
    records = [
        {"id": "a", "ifeval": ifeval_output(quoted, 'Sure:\n"Hi there."')},
        {"id": "b", "ifeval": ifeval_output(quoted, '"Hello."')},
        {"id": "open", "ifeval": None},
    ]
    assert ifeval_rates(records) == {
        "prompt_strict": 0.5,
        "prompt_loose": 1.0,
        "instruction_strict": 0.5,
        "instruction_loose": 1.0,
        "prompts": 2,
        "instructions": 2,
    }
    assert ifeval_rates([{"id": "open"}]) is None


def test_evaluation_summary_reports_ifeval_numbers_per_condition() -> None:
    from selfalign.evaluate.runner import score_records
    from selfalign.evaluate.summary import summarize

    items = [HeldOutItem("a", "Say hi.", "creative", [c("quoted")]), HeldOutItem("o", "Chat.", "chat")]
    recs = {
        "base": score_records(items, "base", ["p1", "p2"], ['Sure:\n"Hi there."', "hello"]),
        "sft": score_records(items, "sft", ["p1", "p2"], ['"Hi there."', "hello"]),
    }
    out = summarize(recs, "base", n_boot=10)["conditions"]
    assert out["base"]["ifeval"]["prompt_strict"] == 0.0 and out["base"]["ifeval"]["prompt_loose"] == 1.0
    assert out["sft"]["ifeval"]["prompt_strict"] == 1.0 and out["sft"]["ifeval"]["prompts"] == 1
