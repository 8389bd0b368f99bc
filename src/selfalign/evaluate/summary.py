"""Turn eval records into results: rates, intervals and paired comparisons against the baseline.

Verifiable items: pass rate with a Wilson interval, overall and per category; versus the baseline on the
same items, exact/corrected McNemar, signed Cohen's h and a paired bootstrap interval of the lift.
Category p-values are Benjamini–Hochberg adjusted within each condition; overall p-values across the
compared conditions. Open-ended items: the critic's mean P(better than baseline) with a paired bootstrap
interval and a sign test (McNemar on wins vs losses is exactly that). All from ``evaluate.stats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from selfalign.evaluate.checks import ifeval_rates
from selfalign.evaluate.stats import (
    benjamini_hochberg,
    compare,
    mcnemar,
    paired_bootstrap_lift,
    wilson_interval,
)


def pass_rate(passed: Sequence[bool], confidence: float) -> dict[str, Any]:
    """``n, passed, rate`` and a Wilson interval (``rate`` None for no items)."""
    n, k = len(passed), sum(passed)
    low, high = wilson_interval(k, n, confidence)
    return {"n": n, "passed": k, "rate": k / n if n else None, "ci_low": low, "ci_high": high}


def _versus(
    base: list[bool], cond: list[bool], names: tuple[str, str], opts: dict[str, Any]
) -> dict[str, Any]:
    c = compare(base, cond, *names, **opts)
    return {
        "p_value": c["mcnemar"]["p_value"],
        "mcnemar": c["mcnemar"],
        "cohens_h": c["cohens_h"],
        "lift": c["lift"],
    }


def _verifiable(
    base: list[dict[str, Any]], recs: list[dict[str, Any]], is_baseline: bool, names: tuple[str, str],
    opts: dict[str, Any], alpha: float,
) -> dict[str, Any] | None:  # fmt: skip
    idx = [i for i, r in enumerate(recs) if r["passed"] is not None]
    if not idx:
        return None
    confidence = opts["confidence"]
    mine = [bool(recs[i]["passed"]) for i in idx]
    theirs = [bool(base[i]["passed"]) for i in idx]
    overall = pass_rate(mine, confidence)
    overall["vs_baseline"] = None if is_baseline else _versus(theirs, mine, names, opts)

    categories: dict[str, dict[str, Any]] = {}
    for cat in sorted({recs[i]["category"] for i in idx}):
        sub = [i for i in idx if recs[i]["category"] == cat]
        a = [bool(base[i]["passed"]) for i in sub]
        b = [bool(recs[i]["passed"]) for i in sub]
        categories[cat] = pass_rate(b, confidence)
        categories[cat]["vs_baseline"] = None if is_baseline else _versus(a, b, names, opts)
    if not is_baseline:
        cats = list(categories.values())
        rejected, adjusted = benjamini_hochberg([c["vs_baseline"]["p_value"] for c in cats], alpha)
        for c, rej, q in zip(cats, rejected, adjusted, strict=True):
            c["vs_baseline"]["p_bh"] = q
            c["vs_baseline"]["significant"] = rej

    by_type: dict[str, list[bool]] = {}
    for i in idx:
        for chk in recs[i]["checks"]:
            by_type.setdefault(chk["type"], []).append(bool(chk["passed"]))
    types = {t: pass_rate(v, confidence) for t, v in sorted(by_type.items())}
    return {"overall": overall, "categories": categories, "by_constraint_type": types}


def _open_ended(recs: list[dict[str, Any]], opts: dict[str, Any]) -> dict[str, Any] | None:
    judged = [r["judge"] for r in recs if r["passed"] is None and r["judge"] is not None]
    if not judged:
        return None
    probs = [j["p_better"] for j in judged]
    wins = [p > 0.5 for p in probs]
    losses = [p < 0.5 for p in probs]
    sign = mcnemar(losses, wins)  # b10 = wins, b01 = losses; ties drop out as concordant
    lift, low, high = paired_bootstrap_lift(
        [0.5] * len(probs), probs, n_boot=opts["n_boot"], confidence=opts["confidence"], seed=opts["seed"]
    )
    return {
        "n": len(probs),
        "scorer": judged[0]["scorer"],  # from a judged record: the first record may be a verifiable one
        "win_rate": 0.5 + lift,
        "ci_low": 0.5 + low,
        "ci_high": 0.5 + high,
        "wins": sum(wins),
        "losses": sum(losses),
        "ties": len(probs) - sum(wins) - sum(losses),
        "sign_test_p": sign.p_value,
    }


def same_items(records: dict[str, list[dict[str, Any]]], baseline: str, key: str) -> list[Any]:
    """The baseline's item keys in order; ValueError unless every condition answers exactly those."""
    if baseline not in records:
        raise ValueError(f"baseline {baseline!r} is not among the conditions {list(records)}")
    keys = [r[key] for r in records[baseline]]
    for name, recs in records.items():
        if [r[key] for r in recs] != keys:
            raise ValueError(f"condition {name!r} does not answer the same items, in order, as {baseline!r}")
    return keys


def summarize(
    records: dict[str, list[dict[str, Any]]],
    baseline: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Results per condition (in ``records`` order); every condition must cover the same items in order."""
    ids = same_items(records, baseline, "id")
    base = records[baseline]
    opts = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    out: dict[str, Any] = {}
    for name, recs in records.items():
        words = [len(r["output"].split()) for r in recs]
        out[name] = {
            "verifiable": _verifiable(base, recs, name == baseline, (baseline, name), opts, alpha),
            "open_ended": None if name == baseline else _open_ended(recs, opts),
            # IFEval's four numbers (prompt/instruction level, strict/loose) beside ours, for comparison with
            # published results; the paired statistics above use our own verdicts.
            "ifeval": ifeval_rates(recs),
            # Reported so a reader can see a length shift next to any score shift; never used to score.
            "mean_words": sum(words) / len(words) if words else 0.0,
        }
    # The overall comparisons are one family too (one per trained condition): adjust them together.
    compared = [
        v["verifiable"]["overall"]["vs_baseline"]
        for n, v in out.items()
        if n != baseline and v["verifiable"] is not None
    ]
    if compared:
        rejected, adjusted = benjamini_hochberg([c["p_value"] for c in compared], alpha)
        for c, rej, q in zip(compared, rejected, adjusted, strict=True):
            c["p_bh"] = q
            c["significant"] = rej
    return {
        "baseline": baseline,
        "n_items": len(ids),
        "n_verifiable": sum(1 for r in base if r["passed"] is not None),
        "n_open_ended": sum(1 for r in base if r["passed"] is None),
        "confidence": confidence,
        "alpha": alpha,
        "n_boot": n_boot,
        "seed": seed,
        "conditions": out,
    }
