"""Tests for selfalign.evaluate.stats against scipy and published/hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from selfalign.evaluate.stats import (
    EXACT_BELOW,
    benjamini_hochberg,
    cohens_h,
    compare,
    mcnemar,
    paired_bootstrap_lift,
    wilson_interval,
)


def paired(b01: int, b10: int, both: int = 0, neither: int = 0) -> tuple[list[bool], list[bool]]:
    """Build paired outcomes with the given cell counts (shuffled so order cannot matter)."""
    cells = [(True, False)] * b01 + [(False, True)] * b10 + [(True, True)] * both + [(False, False)] * neither
    rng = np.random.default_rng(123)
    order = rng.permutation(len(cells))
    a = [cells[i][0] for i in order]
    b = [cells[i][1] for i in order]
    return a, b


# --------------------------------------------------------------------------------------------- McNemar


def test_mcnemar_counts_direction():
    a, b = paired(b01=3, b10=5, both=7, neither=2)
    r = mcnemar(a, b)
    assert (r.b01, r.b10, r.n_discordant) == (3, 5, 8)
    swapped = mcnemar(b, a)
    assert (swapped.b01, swapped.b10) == (5, 3)
    assert swapped.p_value == r.p_value


def test_mcnemar_exact_textbook():
    # b01=1, b10=6: p = 2 * (C(7,0) + C(7,1)) / 2**7 = 2 * 8 / 128 = 0.125
    r = mcnemar(*paired(1, 6, both=20, neither=5))
    assert r.method == "exact"
    assert r.p_value == pytest.approx(0.125, abs=1e-12)
    assert r.statistic == 1.0


@pytest.mark.parametrize("n", range(1, EXACT_BELOW))
def test_mcnemar_exact_matches_scipy_binomtest(n: int):
    for k in range(n + 1):
        r = mcnemar(*paired(k, n - k))
        assert r.method == "exact"
        expected = sps.binomtest(k, n, 0.5, alternative="two-sided").pvalue
        assert r.p_value == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert 0.0 < r.p_value <= 1.0


@pytest.mark.parametrize(("b01", "b10"), [(18, 52), (40, 40), (3, 97), (120, 90)])
def test_mcnemar_exact_on_request_above_the_threshold_matches_scipy(b01: int, b10: int):
    r = mcnemar(*paired(b01, b10, both=50, neither=30), exact=True)
    assert r.method == "exact" and r.n_discordant >= EXACT_BELOW
    expected = sps.binomtest(b10, b01 + b10, 0.5, alternative="two-sided").pvalue
    assert r.p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert mcnemar(*paired(b01, b10, both=50, neither=30)).method == "chi2-cc"


def test_mcnemar_chi2_cc_textbook():
    r = mcnemar(*paired(10, 25, both=40, neither=12))
    assert r.method == "chi2-cc"
    assert r.statistic == pytest.approx((15 - 1) ** 2 / 35)
    assert r.statistic == pytest.approx(5.6)
    assert r.p_value == pytest.approx(0.01796, abs=5e-6)
    assert r.p_value == pytest.approx(sps.chi2.sf(5.6, df=1), rel=1e-10)


@pytest.mark.parametrize(("b01", "b10"), [(0, 25), (12, 13), (3, 40), (100, 130), (500, 430), (7, 60)])
def test_mcnemar_chi2_matches_scipy(b01: int, b10: int):
    r = mcnemar(*paired(b01, b10))
    stat = (abs(b01 - b10) - 1) ** 2 / (b01 + b10)
    assert r.method == "chi2-cc"
    assert r.statistic == pytest.approx(stat, rel=1e-12)
    assert r.p_value == pytest.approx(sps.chi2.sf(stat, df=1), rel=1e-9, abs=1e-300)


def test_mcnemar_switches_method_at_25():
    assert mcnemar(*paired(10, 14)).method == "exact"
    assert mcnemar(*paired(10, 15)).method == "chi2-cc"


def test_mcnemar_tie_above_threshold_is_no_evidence():
    # (|b01-b10|-1)^2 would give 1/n; the correction must not manufacture evidence from a tie.
    r = mcnemar(*paired(15, 15))
    assert r.method == "chi2-cc"
    assert r.statistic == 0.0
    assert r.p_value == 1.0


def test_mcnemar_no_discordant_pairs():
    for a, b in [([], []), paired(0, 0, both=30, neither=10)]:
        r = mcnemar(a, b)
        assert r.n_discordant == 0
        assert r.p_value == 1.0
        assert r.method == "exact"


def test_mcnemar_large_effect_is_small_but_not_absurd():
    # The first version reported p = 2e-12 for nothing; a real 0 vs 24 split is exact, 2 / 2**24.
    r = mcnemar(*paired(0, 24))
    assert r.p_value == pytest.approx(2 / 2**24, rel=1e-12)


def test_mcnemar_rejects_bad_input():
    with pytest.raises(ValueError, match="equal lengths"):
        mcnemar([True, False], [True])
    with pytest.raises(ValueError, match="bool"):
        mcnemar(["True", "False"], [True, False])
    with pytest.raises(ValueError, match="bool"):
        mcnemar([0.5, 1.0], [True, False])
    with pytest.raises(ValueError, match="bool"):
        mcnemar([2, 0], [True, False])


def test_mcnemar_accepts_numpy_and_ints():
    r = mcnemar(np.array([1, 0, 1, 0]), np.array([True, True, False, True]))
    assert (r.b01, r.b10) == (1, 2)


def test_mcnemar_result_to_dict_is_json():
    d = mcnemar(*paired(2, 9)).to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert set(d) == {"b01", "b10", "n_discordant", "statistic", "p_value", "method"}


# --------------------------------------------------------------------------------- Benjamini-Hochberg


def test_bh_small_classic():
    rejected, adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert rejected == [True, True, True, True]


def test_bh_original_paper_example():
    # Benjamini & Hochberg (1995), section 4: 15 p-values, q = 0.05 -> the four smallest are rejected.
    ps = [0.0201, 0.0001, 0.0004, 0.0019, 0.0095, 0.0278, 0.0298, 0.0344,
          0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip
    rejected, adjusted = benjamini_hochberg(ps, alpha=0.05)
    assert [p for p, r in zip(ps, rejected, strict=True) if r] == [0.0001, 0.0004, 0.0019, 0.0095]
    assert adjusted[1] == pytest.approx(0.0015)  # 0.0001 * 15 / 1
    assert adjusted[-1] == 1.0


def test_bh_step_up_rejects_below_a_larger_pass():
    # p_(2)=0.03 > 2*0.05/3 would fail step-down at rank 2, but p_(3)=0.04 <= 0.05 rescues both (step-up).
    rejected, adjusted = benjamini_hochberg([0.04, 0.03, 0.001])
    assert rejected == [True, True, True]
    assert adjusted == pytest.approx([0.04, 0.04, 0.003])


def test_bh_matches_scipy_random():
    rng = np.random.default_rng(7)
    for m in (1, 2, 5, 17, 100):
        ps = np.concatenate([rng.uniform(0, 1, m), rng.uniform(0, 0.01, m // 3)])
        rng.shuffle(ps)
        rejected, adjusted = benjamini_hochberg(ps.tolist(), alpha=0.1)
        expected = sps.false_discovery_control(ps, method="bh")
        assert adjusted == pytest.approx(expected.tolist(), rel=1e-12)
        assert rejected == (expected <= 0.1).tolist()
        # monotone in the raw p-values, capped at 1
        order = np.argsort(ps)
        adj_sorted = np.asarray(adjusted)[order]
        assert np.all(np.diff(adj_sorted) >= 0)
        assert max(adjusted) <= 1.0
        assert all(q >= p for q, p in zip(adjusted, ps, strict=True))


def test_bh_cap_and_ties_and_empty():
    _, adjusted = benjamini_hochberg([0.9, 0.8, 0.95])
    assert adjusted == pytest.approx([0.95, 0.95, 0.95])
    rejected, adjusted = benjamini_hochberg([0.02, 0.02, 0.02, 0.02])
    assert adjusted == pytest.approx([0.02] * 4) and all(rejected)
    assert benjamini_hochberg([]) == ([], [])


def test_bh_rejects_at_exactly_alpha():
    # the rule is p_(k) <= k * alpha / m, so an adjusted p-value equal to alpha is a rejection
    assert benjamini_hochberg([0.05]) == ([True], [0.05])
    assert benjamini_hochberg([0.025, 0.05]) == ([True, True], [0.05, 0.05])


def test_bh_rejects_bad_input():
    for bad in ([0.1, 1.2], [-0.01], [float("nan")]):
        with pytest.raises(ValueError, match="probability"):
            benjamini_hochberg(bad)
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg([0.1], alpha=0.0)


# ------------------------------------------------------------------------------------------------ Wilson


def test_wilson_textbook_8_of_10():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    # Newcombe (1998), Stat Med 17:857, Table I, method 3 (score interval without correction)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_newcombe_examples(k: int, n: int, low: float, high: float):
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_confidence_and_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo0, hi0 = wilson_interval(0, 10)
    lo1, hi1 = wilson_interval(10, 10)
    assert lo0 == 0.0 and hi1 == 1.0
    assert hi0 == pytest.approx(1 - lo1)  # symmetry
    assert hi0 == pytest.approx(0.2775, abs=1e-4)
    w90 = wilson_interval(30, 50, 0.90)
    w99 = wilson_interval(30, 50, 0.99)
    assert w99[0] < w90[0] < 0.6 < w90[1] < w99[1]


def test_wilson_matches_scipy_binomtest():
    for k, n in [(3, 7), (50, 100), (1, 1000), (999, 1000), (17, 23)]:
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_wilson_rejects_bad_input():
    for args in [(11, 10), (-1, 10), (1, -1), (2.5, 10)]:
        with pytest.raises(ValueError):
            wilson_interval(*args)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=1.0)


# ----------------------------------------------------------------------------------------------- Cohen's h


def test_cohens_h_values_and_sign():
    assert cohens_h(0.5, 0.5) == 0.0
    assert cohens_h(0.2, 0.5) > 0  # positive = second proportion higher
    assert cohens_h(0.5, 0.2) == pytest.approx(-cohens_h(0.2, 0.5))
    assert cohens_h(0.0, 1.0) == pytest.approx(math.pi)
    # phi(0.8) - phi(0.5) = 2.2143 - 1.5708 (Cohen 1988, Table 6.2.1)
    assert cohens_h(0.5, 0.8) == pytest.approx(0.6435, abs=1e-4)


def test_cohens_h_rejects_non_probabilities():
    with pytest.raises(ValueError):
        cohens_h(1.1, 0.5)
    with pytest.raises(ValueError):
        cohens_h(0.5, float("nan"))


# ---------------------------------------------------------------------------------------------- bootstrap


def correlated_pairs(n: int, p_a: float, lift: float, rng: np.random.Generator):
    """Paired outcomes with true lift P(b) - P(a) = `lift` and strong positive item correlation."""
    u = rng.uniform(size=n)  # item "difficulty", shared by both conditions
    return (u < p_a).tolist(), (u < p_a + lift).tolist()


def test_bootstrap_point_estimate_and_contains_true_lift():
    rng = np.random.default_rng(1)
    a, b = correlated_pairs(400, 0.4, 0.2, rng)
    lift, low, high = paired_bootstrap_lift(a, b)
    assert lift == pytest.approx(np.mean(b) - np.mean(a))
    assert low < 0.2 < high
    assert low <= lift <= high
    # every b-win here is discordant in one direction only, so the interval must stay above 0
    assert low > 0


def test_bootstrap_deterministic_under_seed():
    # float scores: with pass/fail the quantiles sit on a 1/n grid and two seeds may tie by chance
    rng = np.random.default_rng(2)
    a, b = rng.uniform(size=120).tolist(), rng.uniform(size=120).tolist()
    first = paired_bootstrap_lift(a, b, n_boot=500, seed=42)
    assert paired_bootstrap_lift(a, b, n_boot=500, seed=42) == first
    assert paired_bootstrap_lift(a, b, n_boot=500, seed=43) != first


def test_bootstrap_coverage_is_near_nominal_and_paired():
    # An unpaired bootstrap would ignore the shared difficulty and over-cover badly (~100%).
    rng = np.random.default_rng(3)
    true_lift, hits, widths = 0.1, 0, []
    for rep in range(300):
        u = rng.uniform(size=200)
        noise = rng.uniform(size=200) < 0.15
        a = u < 0.5
        b = (u < 0.5 + true_lift) ^ noise  # noise flips move P(b) from 0.6 to 0.57: true lift 0.07
        _, low, high = paired_bootstrap_lift(a.tolist(), b.tolist(), n_boot=400, seed=rep)
        expected = (0.6 * 0.85 + 0.4 * 0.15) - 0.5  # = 0.07
        hits += low <= expected <= high
        widths.append(high - low)
    coverage = hits / 300
    assert 0.89 <= coverage <= 0.985
    # paired SE of the mean difference is sqrt(var(d)/n); the interval width should be ~2*1.96*SE
    # d in {-1, 0, 1}: P(d=-1) = 0.5*0.15, P(d=+1) = 0.1*0.85 + 0.4*0.15, so E[d^2] = 0.22, E[d] = 0.07
    var_d = 0.22 - 0.07**2
    assert np.mean(widths) == pytest.approx(2 * 1.96 * math.sqrt(var_d / 200), rel=0.1)


def test_bootstrap_interval_is_equal_tailed():
    # Swapping a and b negates every replicate (same seed -> same indices), so an equal-tailed percentile
    # interval must come back mirrored: (-lift, -high, -low).
    rng = np.random.default_rng(5)
    a, b = rng.uniform(size=80).tolist(), (rng.uniform(size=80) + 0.1).tolist()
    lift, low, high = paired_bootstrap_lift(a, b, n_boot=999, confidence=0.9, seed=11)
    back = paired_bootstrap_lift(b, a, n_boot=999, confidence=0.9, seed=11)
    assert back == pytest.approx((-lift, -high, -low), abs=1e-12)
    assert low < lift < high


def test_bootstrap_float_scores():
    a = [0.2, 0.4, 0.5, 0.1, 0.3]
    b = [0.6, 0.9, 0.7, 0.5, 0.8]
    lift, low, high = paired_bootstrap_lift(a, b, n_boot=1000)
    assert lift == pytest.approx(0.4)
    assert min(bi - ai for ai, bi in zip(a, b, strict=True)) <= low <= lift <= high
    assert high <= max(bi - ai for ai, bi in zip(a, b, strict=True))


def test_bootstrap_constant_difference_gives_point_interval():
    lift, low, high = paired_bootstrap_lift([0.1, 0.5, 0.2], [0.3, 0.7, 0.4], n_boot=50)
    assert (lift, low, high) == pytest.approx((0.2, 0.2, 0.2))


def test_bootstrap_chunking_keeps_all_replicates(monkeypatch: pytest.MonkeyPatch):
    import selfalign.evaluate.stats as st

    rng = np.random.default_rng(4)
    a, b = rng.uniform(size=51).tolist(), rng.uniform(size=51).tolist()
    whole = st.paired_bootstrap_lift(a, b, n_boot=301, seed=9)
    # 2 rows per chunk -> 151 chunks, the last one short. numpy's Generator draws int64 indices one word
    # each, so the chunked stream is the same stream and every replicate must come out identical.
    monkeypatch.setattr(st, "_BOOT_CELLS", 120)
    assert st.paired_bootstrap_lift(a, b, n_boot=301, seed=9) == whole


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap_lift([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least one item"):
        paired_bootstrap_lift([], [])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap_lift([0.1, float("nan")], [0.2, 0.3])
    with pytest.raises(ValueError, match="numbers"):
        paired_bootstrap_lift(["1.0"], ["0.0"])
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap_lift([0.1], [0.2], n_boot=0)
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap_lift([0.1], [0.2], confidence=0.0)


# ------------------------------------------------------------------------------------------------ compare


def test_compare_summary_is_consistent_and_json():
    a, b = paired(b01=4, b10=16, both=50, neither=30)
    out = compare(a, b, "base-few-shot", "sft", n_boot=300, seed=5)
    text = json.dumps(out, allow_nan=False)  # strict JSON: no NaN, no numpy types
    assert json.loads(text) == out
    assert out["n"] == 100
    low, high = wilson_interval(54, 100)
    assert out["a"] == {"name": "base-few-shot", "passed": 54, "rate": 0.54, "ci_low": low, "ci_high": high}
    assert out["b"]["passed"] == 66 and out["b"]["rate"] == pytest.approx(0.66)
    assert out["mcnemar"] == mcnemar(a, b).to_dict()
    assert out["mcnemar"]["method"] == "exact" and (out["mcnemar"]["b01"], out["mcnemar"]["b10"]) == (4, 16)
    assert out["cohens_h"] == pytest.approx(cohens_h(0.54, 0.66)) and out["cohens_h"] > 0
    lift = out["lift"]
    assert lift["estimate"] == pytest.approx(0.12)
    again = paired_bootstrap_lift(a, b, n_boot=300, seed=5)
    assert (lift["estimate"], lift["ci_low"], lift["ci_high"]) == again


def test_compare_rejects_bad_input():
    with pytest.raises(ValueError, match="equal lengths"):
        compare([True], [True, False], "x", "y")
    with pytest.raises(ValueError, match="zero items"):
        compare([], [], "x", "y")
    with pytest.raises(ValueError, match="bool"):
        compare([0.7], [0.2], "x", "y")
