"""Results from records: hand-computed rates, paired tests and BH; scoring by checks; item loading."""

from __future__ import annotations

import json
import math

import pytest

from selfalign.errors import DataError
from selfalign.evaluate.checks import score_output
from selfalign.evaluate.items import HeldOutItem, load_items
from selfalign.evaluate.stats import wilson_interval
from selfalign.evaluate.summary import summarize


def rec(i: int, cond: str, cat: str, passed: bool | None, p_better: float | None = None) -> dict:
    judge = None if p_better is None else {"scorer": "t", "vs": "base", "p_better": p_better}
    return {"id": f"i{i}", "condition": cond, "category": cat, "prompt": "p", "output": "x y",
            "checks": [] if passed is None else [{"type": "no_commas", "passed": passed}],
            "passed": passed, "judge": judge}  # fmt: skip


def test_rates_mcnemar_and_bh_match_hand_computation():
    # Category A: base passes 0/8, cond 7/8 (b10 = 7, b01 = 0) → exact p = 2 / 2**7 = 1/64.
    # Category B: base 4/8, cond 4/8, concordant → p = 1.
    base = [rec(i, "base", "A", False) for i in range(8)] + [rec(8 + i, "base", "B", i < 4) for i in range(8)]
    cond = [rec(i, "c", "A", i < 7) for i in range(8)] + [rec(8 + i, "c", "B", i < 4) for i in range(8)]
    res = summarize({"base": base, "c": cond}, "base", n_boot=300)
    v = res["conditions"]["c"]["verifiable"]
    a, b = v["categories"]["A"], v["categories"]["B"]
    assert (a["passed"], a["n"], a["rate"]) == (7, 8, 7 / 8)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx(wilson_interval(7, 8))
    assert a["vs_baseline"]["p_value"] == pytest.approx(1 / 64)
    assert b["vs_baseline"]["p_value"] == 1.0
    # BH over two p-values: sorted (1/64, 1) → q = min(2 * 1/64, 1) = 1/32 and 1.
    assert a["vs_baseline"]["p_bh"] == pytest.approx(1 / 32)
    assert a["vs_baseline"]["significant"] and not b["vs_baseline"]["significant"]
    overall = v["overall"]
    assert (overall["passed"], overall["n"]) == (11, 16)
    assert overall["vs_baseline"]["mcnemar"]["b10"] == 7
    assert overall["vs_baseline"]["cohens_h"] == pytest.approx(
        2 * math.asin(math.sqrt(11 / 16)) - 2 * math.asin(0.5)
    )
    assert overall["vs_baseline"]["lift"]["estimate"] == pytest.approx(7 / 16)
    assert res["conditions"]["base"]["verifiable"]["overall"]["vs_baseline"] is None


def test_open_ended_win_rate_and_sign_test():
    probs = [0.9, 0.8, 0.7, 0.6, 0.5, 0.2]  # 4 wins, 1 tie, 1 loss; mean 0.6167
    base = [rec(i, "base", "open", None) for i in range(6)]
    cond = [rec(i, "c", "open", None, p) for i, p in enumerate(probs)]
    res = summarize({"base": base, "c": cond}, "base", n_boot=300)["conditions"]["c"]
    o = res["open_ended"]
    assert o["win_rate"] == pytest.approx(sum(probs) / 6)
    assert (o["wins"], o["losses"], o["ties"]) == (4, 1, 1)
    assert o["sign_test_p"] == pytest.approx(2 * (1 + 5) / 32)  # exact binomial, n = 5 discordant
    assert o["ci_low"] <= o["win_rate"] <= o["ci_high"]
    assert res["verifiable"] is None


def test_open_ended_names_its_scorer_when_a_verifiable_item_comes_first():
    base = [rec(0, "base", "A", True), rec(1, "base", "open", None)]
    cond = [rec(0, "c", "A", True), rec(1, "c", "open", None, 0.7)]
    o = summarize({"base": base, "c": cond}, "base", n_boot=100)["conditions"]["c"]["open_ended"]
    assert o["scorer"] == "t" and o["n"] == 1


def test_conditions_must_answer_the_same_items():
    base = [rec(0, "base", "A", True), rec(1, "base", "A", False)]
    cond = [rec(1, "c", "A", True), rec(0, "c", "A", False)]
    with pytest.raises(ValueError, match="same items"):
        summarize({"base": base, "c": cond}, "base")


def test_score_output_uses_every_constraint_and_no_length_rule():
    constraints = [
        {"type": "lowercase", "params": {}},
        {"type": "include_words", "params": {"words": ["sea"]}},
    ]
    item = HeldOutItem("x", "Write.", "c", constraints)
    checks, passed = score_output(item, "the sea " * 300)
    assert passed is True and [c["type"] for c in checks] == ["lowercase", "include_words"]
    checks, passed = score_output(item, "The sea")
    assert passed is False and [c["passed"] for c in checks] == [False, True]
    assert score_output(HeldOutItem("o", "Chat.", "c"), "anything") == ([], None)


def test_load_items_accepts_text_and_refuses_bad_records(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "text": "Hi.", "category": "c"}) + "\n")
    assert load_items(good) == [HeldOutItem("a", "Hi.", "c", [])]
    cases = {
        "category": {"id": "a", "instruction": "Hi."},
        "duplicate id": [{"id": "a", "instruction": "Hi.", "category": "c"}] * 2,
        "constraints": {"id": "a", "instruction": "Hi.", "category": "c", "constraints": [{"type": "nope"}]},
    }
    for what, rows in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in (rows if isinstance(rows, list) else [rows])))
        with pytest.raises(DataError, match=what):
            load_items(path)
