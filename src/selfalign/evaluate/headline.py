"""The headline: the tuned conditions against the *stronger* base condition, pooled over training seeds, on
every verifiable item and on the subsets that matter — items whose constraint types were never trained
(generalisation), items of trained types, items with two or three constraints, and (when the items say so,
``wording: "unseen"``) items whose constraints are phrased in words training never used.

The lead is ``pooled``: the seeds of one policy (``sft-s0, sft-s1, ...``, ``stages.seeds``) pooled by
``evaluate.across.pool`` — the per-item mean pass over seeds minus the base, an interval over items and
seeds, the across-seed t test, and each seed's exact McNemar with BH over the seeds. A single seed's number
is never the headline: a policy trained once is a group of one, reported as such.

Few-shot prompting is not always the stronger base (short solved examples can make answers shorter and fail
length demands), so the base condition with the higher verifiable pass rate is named, and every tuned
condition is compared with it -- *per subset*: the stronger base on all items can be the weaker one on a
subset (proof run 6: the bases tied on all items, few-shot named, yet zero-shot passed 13 unseen-type items to
few-shot's 8), and a lift over the weaker base is not a lift over the base. ``subset_bases`` names each.
Exact McNemar (binomial on the discordant items, whatever their number) per comparison; Benjamini–Hochberg
across the whole family (conditions × subsets).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from selfalign.constraints import HELD_OUT_TYPES
from selfalign.evaluate.across import pool
from selfalign.evaluate.conditions import BASE_FEW_SHOT, BASE_ZERO_SHOT
from selfalign.evaluate.stats import benjamini_hochberg, compare
from selfalign.stages.seeds import seed_groups

SUBSETS = ("all", "unseen_types", "seen_types", "multi_constraint")
UNSEEN_WORDING = "unseen_wording"  # a subset only where the held-out items carry ``wording``
LENGTH_BINS = (0, 10, 20, 40, 60, 80, 100, 150)  # words; the last bin is open-ended


def _types(rec: dict[str, Any]) -> set[str]:
    return {c["type"] for c in rec["checks"]}


def subset_of(name: str, rec: dict[str, Any], unseen_wording: frozenset[str] = frozenset()) -> bool:
    """Whether a verifiable record belongs to a headline subset (``unseen_wording``: the ids so marked)."""
    types = _types(rec)
    if name == UNSEEN_WORDING:
        return rec["id"] in unseen_wording
    if name == "all":
        return True
    if name == "unseen_types":
        return bool(types) and types <= HELD_OUT_TYPES
    if name == "seen_types":
        return bool(types) and not types & HELD_OUT_TYPES
    if name == "multi_constraint":
        return len(rec["checks"]) >= 2
    raise ValueError(f"unknown subset {name!r}; known: {', '.join((*SUBSETS, UNSEEN_WORDING))}")


def stronger_base(records: dict[str, list[dict[str, Any]]], idx: Sequence[int] | None = None) -> str | None:
    """The base condition that passes more verifiable items (of the records at ``idx``, all by default;
    few-shot on a tie); None if neither ran."""
    rates = {}
    for name in (BASE_FEW_SHOT, BASE_ZERO_SHOT):
        got = records.get(name) or []
        if idx is not None and got:
            got = [got[i] for i in idx]
        recs = [r for r in got if r["passed"] is not None]
        if recs:
            rates[name] = sum(bool(r["passed"]) for r in recs) / len(recs)
    return max(rates, key=lambda n: (rates[n], n == BASE_FEW_SHOT)) if rates else None


def length_histogram(outputs: Sequence[str]) -> dict[str, int]:
    """Answer lengths in words, binned: shown next to any lift so length cannot explain it unseen."""
    words = [len(o.split()) for o in outputs]
    hist = {}
    for lo, hi in itertools.pairwise([*LENGTH_BINS, None]):
        label = f"{lo}-{hi - 1}" if hi is not None else f"{lo}+"
        hist[label] = sum(1 for w in words if lo <= w and (hi is None or w < hi))
    return hist


def _tuned(records: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [n for n in records if n not in (BASE_FEW_SHOT, BASE_ZERO_SHOT)]


def _training_order(policy: str) -> tuple[int, int, str]:
    """SFT before its rounds before DPO before its rounds, then anything else: the order training ran."""
    m = re.fullmatch(r"(sft|dpo)(?:-r(\d+))?", policy)
    if m is None:
        return (2, 0, policy)
    return (0 if m[1] == "sft" else 1, int(m[2] or 1), policy)


def _in_subset(ref: list[dict[str, Any]], sub: str, unseen: frozenset[str]) -> list[int]:
    """Indices of the verifiable records of ``sub``."""
    return [i for i, r in enumerate(ref) if r["passed"] is not None and subset_of(sub, r, unseen)]


def subset_bases(
    records: dict[str, list[dict[str, Any]]], base: str, subsets: Sequence[str], unseen: frozenset[str]
) -> dict[str, tuple[str, list[int]]]:
    """Each non-empty subset's stronger base and its verifiable record indices."""
    out = {}
    for sub in subsets:
        idx = _in_subset(records[base], sub, unseen)
        if idx:
            out[sub] = (stronger_base(records, idx) or base, idx)
    return out


def pooled(
    records: dict[str, list[dict[str, Any]]], bases: dict[str, tuple[str, list[int]]], opts: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each policy's seeds pooled against each subset's stronger base (``evaluate.across.pool``)."""
    out = []
    groups = seed_groups(_tuned(records))
    for group in sorted(groups, key=_training_order):
        members = groups[group]
        for sub, (base, idx) in bases.items():
            ref = records[base]
            seeds = {m: [bool(records[m][i]["passed"]) for i in idx] for m in members}
            res = pool([bool(ref[i]["passed"]) for i in idx], seeds, base, **opts)
            out.append({"group": group, "subset": sub, "seeds": members, **res})
    return out


def headline(
    records: dict[str, list[dict[str, Any]]],
    stop_reasons: dict[str, Sequence[str]],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
    unseen_wording: Sequence[str] = (),
) -> dict[str, Any]:
    """Stronger base (on all items and per subset), per-condition stop rate and lengths, the seeds of each
    policy pooled against each subset's stronger base (the lead), and every tuned condition against it."""
    base = stronger_base(records)
    unseen = frozenset(unseen_wording)
    subsets = (*SUBSETS, UNSEEN_WORDING) if unseen else SUBSETS
    conditions: dict[str, Any] = {}
    for name, recs in records.items():
        reasons = list(stop_reasons.get(name, []))
        outputs = [r["output"] for r in recs]
        conditions[name] = {
            "stop_rate": sum(r in ("stop", "eos") for r in reasons) / len(reasons) if reasons else None,
            "mean_words": sum(len(o.split()) for o in outputs) / len(outputs) if outputs else 0.0,
            "length_histogram": length_histogram(outputs),
        }
    comparisons: list[dict[str, Any]] = []
    bases = subset_bases(records, base, subsets, unseen) if base is not None else {}
    for name in _tuned(records):
        recs = records[name]
        for sub, (sub_base, idx) in bases.items():
            a = [bool(records[sub_base][i]["passed"]) for i in idx]
            b = [bool(recs[i]["passed"]) for i in idx]
            c = compare(a, b, sub_base, name, confidence=confidence, n_boot=n_boot, seed=seed, exact=True)
            comparisons.append({"condition": name, "subset": sub, "baseline": sub_base, **c,
                                "p_value": c["mcnemar"]["p_value"]})  # fmt: skip
    if comparisons:
        rejected, adjusted = benjamini_hochberg([c["p_value"] for c in comparisons], alpha)
        for c, rej, q in zip(comparisons, rejected, adjusted, strict=True):
            c["p_bh"], c["significant"] = q, rej
    verifiable = [r for r in records[base] if r["passed"] is not None] if base else []
    opts = {"n_boot": n_boot, "seed": seed, "confidence": confidence, "alpha": alpha}
    return {
        "stronger_base": base,
        "subset_bases": {sub: b for sub, (b, _) in bases.items()},
        "subsets": {s: sum(subset_of(s, r, unseen) for r in verifiable) for s in subsets},
        "conditions": conditions,
        "pooled": pooled(records, bases, opts),
        "pooled_test": "per-item mean pass over seeds - stronger base; interval over items and seeds; "
        "one-sample t across the seeds' lifts; exact McNemar per seed, Benjamini-Hochberg over the seeds",
        "comparisons": comparisons,
        "test": "exact McNemar, Benjamini-Hochberg over every condition x subset",
    }
