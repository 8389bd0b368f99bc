"""The headline comparison: stronger base per run, subsets, exact McNemar with BH, stop rate, lengths."""

from __future__ import annotations

from typing import Any

import pytest
from scipy import stats as sps

from selfalign.evaluate.headline import headline, length_histogram, stronger_base, subset_of


def _rec(i: int, types: list[str], passed: bool | None, output: str = "a b c") -> dict[str, Any]:
    checks = [{"type": t, "passed": passed} for t in types]
    return {"id": f"i{i}", "checks": checks, "passed": passed if types else None, "output": output}


def _records(spec: dict[str, list[bool]], types: list[list[str]]) -> dict[str, list[dict[str, Any]]]:
    return {name: [_rec(i, t, p) for i, (t, p) in enumerate(zip(types, ps, strict=True))]
            for name, ps in spec.items()}  # fmt: skip


TYPES = [["max_words"]] * 6 + [["quoted"]] * 4 + [["title", "no_commas"]] * 2


def test_stronger_base_is_zero_shot_when_few_shot_passes_less() -> None:
    recs = _records({"base_zero_shot": [True] * 6 + [False] * 6, "base_few_shot": [True] * 3 + [False] * 9,
                     "sft": [True] * 12}, TYPES)  # fmt: skip
    assert stronger_base(recs) == "base_zero_shot"
    out = headline(recs, {}, n_boot=200)
    assert out["stronger_base"] == "base_zero_shot"
    # Per subset: zero-shot is stronger on all items and on the max_words ones; the rest tie (few-shot).
    bases = {"all": "base_zero_shot", "seen_types": "base_zero_shot", "unseen_types": "base_few_shot",
             "multi_constraint": "base_few_shot"}  # fmt: skip
    assert out["subset_bases"] == bases
    assert {c["subset"]: c["a"]["name"] for c in out["comparisons"]} == bases
    assert {e["subset"]: e["baseline"] for e in out["pooled"]} == bases


def test_a_subset_is_compared_with_the_base_that_is_stronger_on_it() -> None:
    # Run 6's shape: the bases tie on all items (few-shot named), zero-shot is stronger on unseen types.
    zs = [False] * 6 + [True, True, False, False] + [False, False]
    fs = [True, True] + [False] * 10
    sft = [True, True] + [False] * 4 + [True, True, True, False] + [False, False]
    out = headline(_records({"base_zero_shot": zs, "base_few_shot": fs, "sft": sft}, TYPES), {}, n_boot=200)
    assert out["stronger_base"] == "base_few_shot"
    unseen = next(c for c in out["comparisons"] if c["subset"] == "unseen_types")
    assert unseen["baseline"] == "base_zero_shot" and unseen["a"]["passed"] == 2
    assert unseen["lift"]["estimate"] == pytest.approx(1 / 4)  # 3 of 4 vs zero-shot's 2, not few-shot's 0
    pooled = next(e for e in out["pooled"] if e["subset"] == "unseen_types")
    assert pooled["baseline"] == "base_zero_shot" and pooled["baseline_passed"] == 2


def test_tie_goes_to_few_shot() -> None:
    recs = _records({"base_zero_shot": [True] * 6 + [False] * 6, "base_few_shot": [False] * 6 + [True] * 6},
                    TYPES)  # fmt: skip
    assert stronger_base(recs) == "base_few_shot"


def test_subsets_and_exact_mcnemar_with_bh() -> None:
    base = [False] * 12
    sft = [True] * 5 + [False] + [True] * 3 + [False] + [True, False]
    out = headline(
        _records({"base_zero_shot": base, "base_few_shot": base, "sft": sft}, TYPES), {}, n_boot=200
    )
    assert out["subsets"] == {"all": 12, "unseen_types": 4, "seen_types": 6, "multi_constraint": 2}
    by = {c["subset"]: c for c in out["comparisons"]}
    assert set(by) == {"all", "unseen_types", "seen_types", "multi_constraint"}
    assert (by["all"]["mcnemar"]["b10"], by["all"]["mcnemar"]["b01"]) == (9, 0)
    assert by["all"]["p_value"] == pytest.approx(sps.binomtest(9, 9, 0.5).pvalue)
    assert by["unseen_types"]["b"]["passed"] == 3 and by["unseen_types"]["n"] == 4
    # BH over the four: q_i = min over j >= i of m * p_(j) / j.
    ps = sorted(c["p_value"] for c in out["comparisons"])
    expected = [min(min(4 * ps[j] / (j + 1) for j in range(i, 4)), 1.0) for i in range(4)]
    assert sorted(c["p_bh"] for c in out["comparisons"]) == pytest.approx(expected)
    assert by["all"]["significant"] is True and by["multi_constraint"]["significant"] is False


def test_stop_rate_and_length_histogram() -> None:
    recs = {
        "base_zero_shot": [_rec(0, ["max_words"], True, "w " * 5), _rec(1, ["max_words"], False, "w " * 95)]
    }
    out = headline(recs, {"base_zero_shot": ["length", "eos"]}, n_boot=10)
    cond = out["conditions"]["base_zero_shot"]
    assert cond["stop_rate"] == 0.5 and cond["mean_words"] == 50
    assert cond["length_histogram"]["0-9"] == 1 and cond["length_histogram"]["80-99"] == 1
    assert sum(length_histogram(["x " * n for n in range(200)]).values()) == 200


def test_unknown_subset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown subset"):
        subset_of("bogus", _rec(0, ["quoted"], True))


def test_a_report_recomputes_a_headline_from_before_per_subset_bases(tmp_path) -> None:
    import json

    from selfalign.report.rehead import current

    zs = [False] * 6 + [True, True, False, False] + [False, False]
    fs = [True, True] + [False] * 10
    sft = [True, True] + [False] * 4 + [True, True, True, False] + [False, False]
    recs = _records({"base_zero_shot": zs, "base_few_shot": fs, "sft": sft}, TYPES)
    (tmp_path / "evaluate").mkdir()
    items = tmp_path / "evaluate" / "items.jsonl"
    items.write_text("".join(json.dumps({**r, "condition": c}) + "\n" for c, rs in recs.items() for r in rs))
    old = {"n_boot": 100,
           "headline": {"stronger_base": "base_few_shot", "conditions": {"sft": {"stop_rate": 1}}}}
    res = current(old, tmp_path / "evaluate" / "results.json")
    h = res["headline"]
    assert h["subset_bases"]["unseen_types"] == "base_zero_shot" and "items.jsonl" in h["recomputed"]
    assert h["conditions"] == {"sft": {"stop_rate": 1}}  # stop rates kept from the run
    assert current(res, tmp_path / "evaluate" / "results.json") is res  # a current headline is left alone
