"""The clean pass: a strict pass counts only where QC finds no loop, echo, runaway or empty answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from selfalign.evaluate.clean import (
    LOOP_FLAGS,
    clean_headline,
    clean_records,
    loop_flags,
    loop_warnings,
    passes_lost,
)

LOOP = "1. What does the word people mean?\n" * 6  # loops: the word is there six times
ANSWER = "People like parks. Many people walk there, and people meet friends."
INSTR = {f"i{i}": "Write about parks. Use the word people at least 3 times." for i in range(12)}


def _rec(i: int, passed: bool | None, output: str) -> dict[str, Any]:
    checks = [] if passed is None else [{"type": "word_frequency", "passed": passed}]
    return {"id": f"i{i}", "checks": checks, "passed": passed, "output": output}


def test_loop_flags_name_what_qc_finds() -> None:
    assert loop_flags(ANSWER, INSTR["i0"]) == []
    assert loop_flags(LOOP, INSTR["i0"]) == ["repetitive"]
    assert loop_flags(INSTR["i0"], INSTR["i0"]) == ["echo"]
    assert loop_flags("Sure.\nInstruction: Write more.", INSTR["i0"]) == ["runaway"]
    assert loop_flags("  ", INSTR["i0"]) == ["empty"]
    assert set(LOOP_FLAGS) == {"repetitive", "echo", "runaway", "empty"}


def test_a_looping_pass_is_not_a_clean_pass_and_unverifiable_items_stay_unscored() -> None:
    recs = {"base": [_rec(0, True, LOOP), _rec(1, True, ANSWER), _rec(2, False, ANSWER), _rec(3, None, LOOP)]}
    clean = clean_records(recs, INSTR)["base"]
    assert [r["passed"] for r in clean] == [False, True, False, None]
    assert clean[0]["loop_flags"] == ["repetitive"] and recs["base"][0]["passed"] is True  # copies
    lost = passes_lost(recs, {"base": clean})["base"]
    assert (lost["strict"], lost["clean"], lost["repetitive"], lost["echo"]) == (2, 1, 1, 0)


def test_an_item_without_its_instruction_is_refused() -> None:
    with pytest.raises(KeyError, match="i99"):
        clean_records({"base": [_rec(99, True, ANSWER)]}, INSTR)


def test_the_clean_headline_can_name_another_stronger_base() -> None:
    # Zero-shot passes 6 items by looping, few-shot 3 with answers, the policy 8 with answers.
    zs = [_rec(i, i < 6, LOOP) for i in range(12)]
    fs = [_rec(i, i < 3, ANSWER) for i in range(12)]
    sft = [_rec(i, i < 8, ANSWER) for i in range(12)]
    recs = {"base_zero_shot": zs, "base_few_shot": fs, "sft": sft}
    out = clean_headline(recs, INSTR, n_boot=200)
    assert out["stronger_base"] == "base_few_shot"
    zero = out["lost"]["base_zero_shot"]
    assert zero == {"strict": 6, "clean": 0, "repetitive": 6, "echo": 0, "runaway": 0, "empty": 0}
    assert loop_warnings(out["lost"]) == [
        "base_zero_shot passes 6 items, but 6 of those answers are loops, echoes or runaways (QC); its clean "
        "pass is 0"
    ]  # few-shot and the policy lose nothing: no line
    lead = next(e for e in out["pooled"] if e["subset"] == "all")
    assert lead["baseline_passed"] == 3 and lead["pooled"]["lift"] == pytest.approx(5 / 12)


def test_a_report_adds_the_clean_headline_to_an_older_run(tmp_path) -> None:
    from selfalign.report.markdown import clean_section
    from selfalign.report.rehead import current

    (tmp_path / "evaluate").mkdir()
    (tmp_path / "split").mkdir()
    recs = {"base_zero_shot": [_rec(i, i < 6, LOOP) for i in range(12)],
            "base_few_shot": [_rec(i, i < 3, ANSWER) for i in range(12)],
            "sft": [_rec(i, i < 8, ANSWER) for i in range(12)]}  # fmt: skip
    items = tmp_path / "evaluate" / "items.jsonl"
    items.write_text("".join(json.dumps({**r, "condition": c}) + "\n" for c, rs in recs.items() for r in rs))
    held = [{"id": k, "text": v, "category": "creative"} for k, v in INSTR.items()]
    (tmp_path / "split" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held))
    results = tmp_path / "evaluate" / "results.json"
    head = {"stronger_base": "base_zero_shot", "subset_bases": {}, "conditions": {}}
    old = {"n_boot": 100, "headline": head}
    res = current(old, results)
    assert res["headline"] is old["headline"]  # current already: only the clean pass is added
    assert "split/test.jsonl" in res["headline_clean"]["recomputed"]
    md = clean_section(res)
    assert "| base_zero_shot | 6 | 0 | 6 | 0 | 0 | 0 |" in md and "Against base_few_shot" in md
    assert current(res, results) is res  # nothing left to add
