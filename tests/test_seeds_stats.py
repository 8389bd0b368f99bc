"""The pooled headline over seeds: numbers checked by hand, scipy and the one pooling implementation."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from selfalign.evaluate.across import pool
from selfalign.evaluate.headline import headline
from selfalign.evaluate.stats import paired_bootstrap_lift, two_way_bootstrap_lift
from selfalign.report import pooled as report_pooled

N = 40
TYPES = [["max_words"]] * 20 + [["quoted"]] * 10 + [["title", "no_commas"]] * 10  # quoted: a held-out type


def _passing(*ranges: range) -> list[bool]:
    hit = {k for r in ranges for k in r}
    return [k in hit for k in range(N)]


def _records(spec: dict[str, list[bool]]) -> dict[str, list[dict[str, Any]]]:
    return {name: [{"id": f"i{i}", "checks": [{"type": t, "passed": p} for t in TYPES[i]], "passed": p,
                    "output": "a b c"} for i, p in enumerate(ps)]
            for name, ps in spec.items()}  # fmt: skip


BASE = _passing(range(4))
SPEC = {
    "base_zero_shot": _passing(range(2)),
    "base_few_shot": BASE,  # the stronger base
    "sft-s0": _passing(range(4), range(20, 30)),  # +10 items
    "sft-s1": _passing(range(3), range(20, 24)),  # +4 - 1
    "sft-s2": _passing(range(4), range(30, 32)),  # +2
    "dpo": _passing(range(4), range(5, 8)),  # one seed: +3
}


def _bh(ps: list[float]) -> list[float]:
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    q = [0.0] * m
    for rank, i in enumerate(order):
        q[i] = min(1.0, min(m * ps[order[j]] / (j + 1) for j in range(rank, m)))
    return q


def test_seeds_are_pooled_per_subset_against_the_stronger_base():
    h = headline(_records(SPEC), {}, n_boot=500)
    assert h["stronger_base"] == "base_few_shot"
    by = {(e["group"], e["subset"]): e for e in h["pooled"]}
    assert set(by) == {(g, s) for g in ("sft", "dpo") for s in ("all", "unseen_types", "seen_types",
                                                                 "multi_constraint")}  # fmt: skip
    e = by[("sft", "all")]
    assert e["seeds"] == ["sft-s0", "sft-s1", "sft-s2"] and e["baseline"] == "base_few_shot"
    lifts = np.array([10, 3, 2]) / N
    assert e["pooled"]["lift"] == pytest.approx(lifts.mean())
    assert e["pooled"]["mean_passed"] == pytest.approx((14 + 7 + 6) / 3)
    t = sps.ttest_1samp(lifts, 0.0)
    assert e["across_policies"]["t"] == pytest.approx(t.statistic)
    assert e["across_policies"]["p_value"] == pytest.approx(t.pvalue)
    exact = [sps.binomtest(b10, b10 + b01, 0.5).pvalue for b10, b01 in ((10, 0), (4, 1), (2, 0))]
    assert [c["p_value"] for c in e["comparisons"]] == pytest.approx(exact)
    assert [c["p_bh"] for c in e["comparisons"]] == pytest.approx(_bh(exact))  # BH over the three seeds
    unseen = by[("sft", "unseen_types")]  # items 20-29: the quoted ones
    assert unseen["n"] == 10 and unseen["pooled"]["lift"] == pytest.approx((10 + 4 + 0) / 3 / 10)
    assert by[("sft", "multi_constraint")]["pooled"]["lift"] == pytest.approx(2 / 3 / 10)


def test_the_headline_entry_is_the_pooling_of_compare_exactly():
    h = headline(_records(SPEC), {}, n_boot=300, seed=7)
    e = next(x for x in h["pooled"] if (x["group"], x["subset"]) == ("sft", "all"))
    direct = pool(BASE, {k: SPEC[k] for k in ("sft-s0", "sft-s1", "sft-s2")}, "base_few_shot", n_boot=300,
                  seed=7)  # fmt: skip
    assert {k: v for k, v in e.items() if k not in ("group", "subset", "seeds")} == direct


def test_a_single_seed_is_a_group_of_one_and_says_so():
    h = headline(_records(SPEC), {}, n_boot=200)
    e = next(x for x in h["pooled"] if (x["group"], x["subset"]) == ("dpo", "all"))
    assert e["seeds"] == ["dpo"] and e["pooled"]["policies"] == 1 and "p_value" not in e["across_policies"]
    assert e["pooled"]["lift"] == pytest.approx(3 / N)
    row = next(r for r in report_pooled.pooled_rows(h) if r[0] == "dpo" and r[2] == "all")
    assert row[8] == "– (1 seed: one training draw)"
    sft_row = next(r for r in report_pooled.pooled_rows(h) if r[0] == "sft" and r[2] == "all")
    assert sft_row[1] == "3" and sft_row[8].startswith("t(2) = ") and sft_row[6].startswith("+12.5 [")
    only_dpo = headline(_records({k: v for k, v in SPEC.items() if not k.startswith("sft")}), {}, n_boot=200)
    assert "one seed only" in (report_pooled.lead_sentence(only_dpo) or "")
    lead = report_pooled.lead_sentence(h) or ""
    assert "sft (3 seeds pooled): +12.5 pts [" in lead and "dpo (one seed only" in lead
    backwards = headline(_records(dict(reversed(SPEC.items()))), {}, n_boot=100)  # dpo answered first
    assert [e["group"] for e in backwards["pooled"] if e["subset"] == "all"] == ["sft", "dpo"]  # as trained


def test_the_wording_subset_appears_only_when_items_say_their_wording_was_unseen():
    records = _records(SPEC)
    assert "unseen_wording" not in headline(records, {}, n_boot=100)["subsets"]
    ids = [f"i{k}" for k in range(20, 40)]  # unseen wording on items 20-39
    h = headline(records, {}, n_boot=100, unseen_wording=ids)
    assert h["subsets"]["unseen_wording"] == 20
    e = next(x for x in h["pooled"] if (x["group"], x["subset"]) == ("sft", "unseen_wording"))
    assert e["n"] == 20 and e["pooled"]["lift"] == pytest.approx((10 + 4 + 2) / 3 / 20)
    assert {c["subset"] for c in h["comparisons"]} >= {"unseen_wording"}


def test_two_way_interval_widens_with_seed_disagreement_and_is_the_item_one_for_a_single_draw():
    rng = np.random.default_rng(0)
    n = 300
    base = list(rng.random(n) < 0.2)
    agree = [list(np.array(base) | (rng.random(n) < 0.1)) for _ in range(3)]
    lift, lo, hi = two_way_bootstrap_lift(base, agree, n_boot=3000)
    assert lift == pytest.approx((np.array(agree, float) - np.array(base, float)).mean())
    assert lo < lift < hi
    assert two_way_bootstrap_lift(base, agree, n_boot=3000) == (lift, lo, hi)  # deterministic
    # One seed gains a lot, two lose a little: the items-only interval of the mean is narrow, the two-way
    # one carries the seeds' disagreement.
    big = list(np.array(base) | (rng.random(n) < 0.4))
    small = [list(np.array(base) & (rng.random(n) < 0.9)) for _ in range(2)]
    mixed = [big, *small]
    mean = np.mean(np.array(mixed, float), axis=0)
    _, ilo, ihi = paired_bootstrap_lift(base, list(mean), n_boot=3000)
    _, tlo, thi = two_way_bootstrap_lift(base, mixed, n_boot=3000)
    assert thi - tlo > 2 * (ihi - ilo)
    one = [agree[0]]
    _, ilo, ihi = paired_bootstrap_lift(base, agree[0], n_boot=4000)
    _, tlo, thi = two_way_bootstrap_lift(base, one, n_boot=4000)
    assert abs(tlo - ilo) < 0.01 and abs(thi - ihi) < 0.01


def test_two_way_bootstrap_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one draw"):
        two_way_bootstrap_lift([True], [])
    with pytest.raises(ValueError, match="equal lengths"):
        two_way_bootstrap_lift([True, False], [[True]])
    with pytest.raises(ValueError, match="expected a bool"):
        two_way_bootstrap_lift([True], [["yes"]])


def test_selfalign_run_prints_the_pooled_headline_under_its_stage_table(tmp_path):
    from selfalign.commands.pipeline import result_line

    assert result_line(tmp_path) is None  # not evaluated (--until, or stopped): no line
    h = headline(_records(SPEC), {}, n_boot=100)
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "results.json").write_text(json.dumps({"headline": h}))
    line = result_line(tmp_path) or ""
    assert line == report_pooled.lead_sentence(h) and "sft (3 seeds pooled): +12.5 pts [" in line
