"""Statistics for paired evaluation: every condition is scored on the *same* held-out items.

All functions here are pure (no I/O, no model) and return plain Python numbers so that results can be
written to JSON as they are. The first version of this project reported a fake improvement with
p = 2e-12; each formula is therefore written out in its docstring and tested against scipy and
textbook values. See ``docs/STATISTICS.md`` for when to use what and how to read the results.

Implementation choices (kept dependency-light on purpose, and independent of scipy so that the tests
that compare against scipy are a real cross-check):
- exact binomial tails use integer arithmetic (``math.comb`` / ``Fraction``), so no rounding at all;
- the chi-square(df=1) survival function uses the identity ``P[chi2_1 > x] = erfc(sqrt(x / 2))``;
- normal quantiles come from ``statistics.NormalDist``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

__all__ = [
    "EXACT_BELOW",
    "McNemarResult",
    "benjamini_hochberg",
    "cohens_h",
    "compare",
    "mcnemar",
    "paired_bootstrap_lift",
    "paired_cluster_bootstrap_lift",
    "two_way_bootstrap_lift",
    "wilson_interval",
]

EXACT_BELOW = 25
"""McNemar uses the exact binomial test when the number of discordant pairs is below this."""

# Upper bound on resampled index cells held in memory at once by the bootstrap (~8 MB of int64).
_BOOT_CELLS = 1_000_000


@dataclass(frozen=True)
class McNemarResult:
    """Outcome of :func:`mcnemar`.

    ``b01``: items where A passed and B failed; ``b10``: A failed and B passed;
    ``statistic``: ``min(b01, b10)`` for the exact test, the corrected chi-square for ``"chi2-cc"``.
    """

    b01: int
    b10: int
    n_discordant: int
    statistic: float
    p_value: float
    method: Literal["exact", "chi2-cc"]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict of the fields."""
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------
# input checks


def _as_bools(values: Sequence[Any], name: str) -> list[bool]:
    """Strictly binary outcomes. Strings and 0.5-like floats are refused: ``bool("False")`` is True."""
    out: list[bool] = []
    for i, v in enumerate(values):
        # bool is an int subclass, so this accepts True/False and the integers 0/1 (numpy ones too).
        if isinstance(v, int | np.integer | np.bool_) and v in (0, 1):
            out.append(bool(v))
        else:
            raise ValueError(f"{name}[{i}] = {v!r}: expected a bool (pass/fail outcome)")
    return out


def _as_scores(values: Sequence[Any], name: str) -> np.ndarray:
    """Finite float scores (bools become 0/1)."""
    raw = np.asarray(values)
    # Refuse strings/objects outright: numpy would quietly turn "1.0" into 1.0.
    if raw.size and raw.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers or bools, got dtype {raw.dtype}")
    arr = raw.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a flat sequence, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] = {arr[bad[0]]!r}: scores must be finite")
    return arr


def _check_paired(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired outcomes need equal lengths, got {len(a)} and {len(b)}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


def _check_probability(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")


# ---------------------------------------------------------------------------------------------------------
# tests and intervals


def _binom_cdf_half(k: int, n: int) -> Fraction:
    """Exact ``P[X <= k]`` for ``X ~ Bin(n, 1/2)``: ``sum_{i<=k} C(n, i) / 2**n``."""
    return Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)


def _chi2_sf_df1(x: float) -> float:
    """``P[chi2_1 > x]``: chi2_1 is Z**2 with Z standard normal, so this is ``2*P[Z > sqrt(x)]``."""
    return math.erfc(math.sqrt(x / 2.0))


def mcnemar(a: Sequence[bool], b: Sequence[bool], *, exact: bool = False) -> McNemarResult:
    """Paired McNemar test of H0: A and B pass equally often on the same items.

    Only discordant items carry information: ``b01 = #(A pass, B fail)``, ``b10 = #(A fail, B pass)``,
    ``n = b01 + b10``. Under H0 each discordant item is a fair coin, so ``b10 ~ Bin(n, 1/2)``.

    - ``n == 0`` (no items, or all concordant): no evidence either way, ``p = 1``, method ``"exact"``.
    - ``n < 25``: exact two-sided binomial test,
      ``p = min(1, 2 * P[X <= min(b01, b10)])`` with ``X ~ Bin(n, 1/2)`` (computed exactly);
      ``statistic = min(b01, b10)``.
    - ``n >= 25``: continuity-corrected chi-square (Edwards 1948),
      ``statistic = max(0, |b01 - b10| - 1)**2 / (b01 + b10)``, ``p = P[chi2_1 > statistic]``.
      The ``max(0, .)`` only matters when ``b01 == b10``: the correction must not turn an exact tie
      into evidence (without it the statistic would be ``1/n``, not ``0``).
    - ``exact=True``: the exact binomial test whatever ``n`` (integer arithmetic, so no rounding).

    Raises ``ValueError`` on unequal lengths or non-boolean outcomes.
    """
    _check_paired(a, b)
    xa, xb = _as_bools(a, "a"), _as_bools(b, "b")
    b01 = sum(1 for x, y in zip(xa, xb, strict=True) if x and not y)
    b10 = sum(1 for x, y in zip(xa, xb, strict=True) if y and not x)
    n = b01 + b10
    if n < EXACT_BELOW or exact:
        k = min(b01, b10)
        p = 1.0 if n == 0 else float(min(Fraction(1), 2 * _binom_cdf_half(k, n)))
        return McNemarResult(b01, b10, n, float(k), p, "exact")
    stat = max(0, abs(b01 - b10) - 1) ** 2 / n
    return McNemarResult(b01, b10, n, float(stat), _chi2_sf_df1(stat), "chi2-cc")


def benjamini_hochberg(pvalues: Sequence[float], alpha: float = 0.05) -> tuple[list[bool], list[float]]:
    """Benjamini–Hochberg (1995) step-up control of the false discovery rate at level ``alpha``.

    With ``m`` p-values sorted ascending ``p_(1) <= ... <= p_(m)``, the adjusted p-values are
    ``q_(i) = min(1, min_{j >= i} m * p_(j) / j)`` (the running minimum from the largest p makes them
    monotone). Hypothesis ``i`` is rejected iff ``q_i <= alpha``, which is the same as rejecting the
    ``k`` smallest where ``k = max{i : p_(i) <= i * alpha / m}``. Results are in the input order.

    Returns ``(rejected, adjusted)``. Empty input gives ``([], [])``. Raises ``ValueError`` on a
    p-value outside ``[0, 1]`` (or NaN) or ``alpha`` outside ``(0, 1)``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    ps = [float(p) for p in pvalues]
    for i, p in enumerate(ps):
        _check_probability(p, f"pvalues[{i}]")
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p-value down, so the minimum runs over j >= i
        idx = order[rank - 1]
        running = min(running, ps[idx] * m / rank)
        adjusted[idx] = running
    return [q <= alpha for q in adjusted], adjusted


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval for a binomial proportion.

    With ``p = successes / n`` and ``z`` the ``(1 + confidence) / 2`` normal quantile:
    ``centre = (p + z**2 / (2n)) / (1 + z**2 / n)``,
    ``half = z / (1 + z**2 / n) * sqrt(p (1 - p) / n + z**2 / (4 n**2))``, interval ``centre -+ half``.
    Unlike the Wald interval it stays inside ``[0, 1]`` and is not degenerate at 0 or n successes.
    ``n == 0`` gives ``(0.0, 1.0)``: nothing is known.
    """
    _check_confidence(confidence)
    if isinstance(successes, bool) or isinstance(n, bool):
        raise ValueError("successes and n must be integer counts, not bools")
    if int(successes) != successes or int(n) != n:
        raise ValueError(f"successes and n must be integers, got {successes!r} and {n!r}")
    successes, n = int(successes), int(n)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    # At 0 or n successes the bound is exactly 0 or 1 in theory; pin it so rounding cannot leak past.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def cohens_h(p1: float, p2: float) -> float:
    """Signed Cohen's h effect size between two proportions: ``h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1))``.

    Sign: **positive means p2 is higher** (B better than A when called as ``cohens_h(rate_a, rate_b)``).
    The arcsine transform makes equal differences equally detectable anywhere in ``[0, 1]``; Cohen's
    rough guide for ``|h|``: 0.2 small, 0.5 medium, 0.8 large. Range ``[-pi, pi]``.
    """
    _check_probability(p1, "p1")
    _check_probability(p2, "p2")
    return 2.0 * math.asin(math.sqrt(p2)) - 2.0 * math.asin(math.sqrt(p1))


def paired_bootstrap_lift(
    a: Sequence[float],
    b: Sequence[float],
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Lift ``mean(b) - mean(a)`` with a paired percentile bootstrap interval.

    Each replicate draws ``n`` item indices with replacement and takes the mean of ``d_i = b_i - a_i``
    over them, so both conditions keep the same items (the pairing is what removes item difficulty from
    the comparison). The interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
    (numpy's default linear interpolation) of the ``n_boot`` replicate means.

    Scores may be bools (pass/fail) or floats such as critic win probabilities. Deterministic for a
    given ``(a, b, n_boot, seed)``: one ``numpy.random.default_rng(seed)`` draws all indices.
    Returns ``(lift, low, high)``. Raises ``ValueError`` on unequal lengths, no items, non-finite
    scores, ``n_boot < 1`` or a confidence outside ``(0, 1)``.
    """
    _check_paired(a, b)
    _check_confidence(confidence)
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    diff = _as_scores(b, "b") - _as_scores(a, "a")
    n = diff.size
    if n == 0:
        raise ValueError("paired_bootstrap_lift needs at least one item; a lift over no items is undefined")
    rng = np.random.default_rng(seed)
    reps = np.empty(int(n_boot), dtype=np.float64)
    rows = max(1, _BOOT_CELLS // n)  # bounded memory for large item sets
    for start in range(0, int(n_boot), rows):
        stop = min(int(n_boot), start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        reps[start:stop] = diff[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [tail, 1.0 - tail])
    return float(diff.mean()), float(low), float(high)


def paired_cluster_bootstrap_lift(
    a: Sequence[bool],
    b: Sequence[bool],
    clusters: Sequence[int],
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Lift ``mean(b) - mean(a)`` over units grouped in clusters, resampling whole clusters.

    For outcomes that are not independent, e.g. IFEval's instructions, several per prompt: each replicate
    draws ``C`` clusters with replacement and takes ``sum(d over drawn clusters) / units in them`` with
    ``d_i = b_i - a_i``, so the interval carries the correlation within a prompt that a per-unit bootstrap
    would ignore. The estimate is the plain ``mean(d)``. Same interval rule and determinism as
    :func:`paired_bootstrap_lift`; with one unit per cluster the two agree in distribution.
    """
    _check_paired(a, b)
    _check_paired(a, clusters)
    _check_confidence(confidence)
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    diff = _as_scores(b, "b") - _as_scores(a, "a")
    if diff.size == 0:
        raise ValueError("paired_cluster_bootstrap_lift needs at least one unit")
    _, cid = np.unique(np.asarray(clusters), return_inverse=True)
    d_sum = np.bincount(cid, weights=diff)
    size = np.bincount(cid).astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, size.size, size=(int(n_boot), size.size))
    reps = d_sum[idx].sum(axis=1) / size[idx].sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [tail, 1.0 - tail])
    return float(diff.mean()), float(low), float(high)


def two_way_bootstrap_lift(
    a: Sequence[bool],
    bs: Sequence[Sequence[bool]],
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Lift of several draws of one method (e.g. training seeds, ``bs[k][i]``) over ``a`` on the same items,
    with an interval over items *and* draws.

    The estimate is ``mean over k, i of (b_ki - a_i)`` (the per-item mean pass minus the baseline). Each
    replicate resamples the items and, independently, the draws, both with replacement (Owen's pigeonhole
    bootstrap for crossed factors, 2007: mildly conservative), and takes the weighted mean of ``d_ki``:
    ``sum_ki w_k c_i d_ki / (K n)`` with ``w`` and ``c`` the multinomial counts. So the interval carries
    seed-to-seed variation as well as which items were drawn; with one draw it is the items-only
    bootstrap. Percentile interval and determinism as :func:`paired_bootstrap_lift`.
    """
    _check_confidence(confidence)
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not bs:
        raise ValueError("two_way_bootstrap_lift needs at least one draw")
    for b in bs:
        _check_paired(a, b)
    base = _as_scores(_as_bools(a, "a"), "a")
    d = np.stack([_as_scores(_as_bools(b, f"bs[{k}]"), f"bs[{k}]") for k, b in enumerate(bs)]) - base
    k, n = d.shape
    if n == 0:
        raise ValueError("two_way_bootstrap_lift needs at least one item")
    rng = np.random.default_rng(seed)
    reps = np.empty(int(n_boot), dtype=np.float64)
    rows = max(1, _BOOT_CELLS // n)
    for start in range(0, int(n_boot), rows):
        stop = min(int(n_boot), start + rows)
        w = rng.multinomial(k, np.full(k, 1.0 / k), size=stop - start).astype(np.float64)
        c = rng.multinomial(n, np.full(n, 1.0 / n), size=stop - start).astype(np.float64)
        reps[start:stop] = ((w @ d) * c).sum(axis=1) / (k * n)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [tail, 1.0 - tail])
    return float(d.mean()), float(low), float(high)


# ---------------------------------------------------------------------------------------------------------
# convenience


def compare(
    a: Sequence[bool],
    b: Sequence[bool],
    name_a: str,
    name_b: str,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    exact: bool = False,
) -> dict[str, Any]:
    """Everything the report needs for "B versus A" on the same items, as a JSON-serialisable dict.

    Keys: ``n``; ``a`` and ``b`` (each ``name, passed, rate, ci_low, ci_high`` with a Wilson interval);
    ``mcnemar`` (:class:`McNemarResult` fields); ``cohens_h`` (positive = B higher); ``lift``
    (``estimate, ci_low, ci_high`` from :func:`paired_bootstrap_lift`); ``confidence``, ``n_boot``,
    ``seed``. Raises ``ValueError`` on unequal lengths, non-boolean outcomes or no items.
    """
    _check_paired(a, b)
    xa, xb = _as_bools(a, "a"), _as_bools(b, "b")
    n = len(xa)
    if n == 0:
        raise ValueError(f"cannot compare {name_a!r} and {name_b!r} on zero items")

    def side(name: str, xs: list[bool]) -> dict[str, Any]:
        k = sum(xs)
        low, high = wilson_interval(k, n, confidence)
        return {"name": name, "passed": k, "rate": k / n, "ci_low": low, "ci_high": high}

    sa, sb = side(name_a, xa), side(name_b, xb)
    lift, low, high = paired_bootstrap_lift(xa, xb, n_boot=n_boot, confidence=confidence, seed=seed)
    return {
        "n": n,
        "a": sa,
        "b": sb,
        "mcnemar": mcnemar(xa, xb, exact=exact).to_dict(),
        "cohens_h": cohens_h(sa["rate"], sb["rate"]),
        "lift": {"estimate": lift, "ci_low": low, "ci_high": high},
        "confidence": confidence,
        "n_boot": int(n_boot),
        "seed": seed,
    }
