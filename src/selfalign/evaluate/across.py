"""Several draws of one method on the same held-out items: each against a baseline, and all of them pooled.

A single training draw can carry or erase a lift (docs/results/history.md, runs 6, 9, 10: one recipe, 3 SFT
seeds, +4.5 / +0.9 / +2.4 points). :func:`pool` is the one implementation of the pooled statistics: (a) every
policy against the baseline, exact McNemar with Benjamini-Hochberg over the policies, and (b) the policies
pooled as draws of one method: the per-item mean pass over the policies minus the baseline's, with an
interval over items and draws (``stats.two_way_bootstrap_lift``) beside the items-only one (given these
draws), a sign-flip permutation test over items, and the spread of the per-policy lifts with a one-sample t
test across them (the draws as the sample: what another seed would give). The evaluate stage pools the
seeds of one run with it (``evaluate.headline``); ``selfalign compare`` pools policies of several runs,
reading ``evaluate/items.jsonl`` of each (:func:`compare_runs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from selfalign.data.jsonl import iter_jsonl
from selfalign.errors import ConfigError, DataError
from selfalign.evaluate.stats import (
    benjamini_hochberg,
    compare,
    paired_bootstrap_lift,
    two_way_bootstrap_lift,
)
from selfalign.report.markdown import md_table

ITEMS = Path("evaluate") / "items.jsonl"


@dataclass(frozen=True)
class Outcomes:
    """One condition of one run: pass/fail per verifiable held-out item, each item's constraints (type and
    parameters), and the answer budget the run evaluated with (None where the run does not record it)."""

    label: str  # "RUN_DIR:CONDITION" as given
    passed: dict[str, bool]
    types: dict[str, tuple[str, ...]]
    max_new_tokens: int | None = None


def parse_spec(spec: str) -> tuple[Path, str]:
    run, sep, condition = spec.rpartition(":")
    if not sep or not run or not condition:
        raise ConfigError(f"compare: {spec!r}: expected RUN_DIR:CONDITION, e.g. runs/proof6:sft")
    return Path(run), condition


def load_outcomes(spec: str) -> Outcomes:
    """The verifiable items (``passed`` not null) of one condition; one-line errors name file/line/field."""
    run, condition = parse_spec(spec)
    path = run / ITEMS
    if not path.is_file():
        raise ConfigError(f"compare: {path}: no such file (was {run} evaluated?)")
    passed: dict[str, bool] = {}
    types: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for line, rec in iter_jsonl(path):
        for key in ("id", "condition", "passed"):
            if key not in rec:
                raise DataError(path, line, key, "missing (an evaluate items record is needed)")
        seen.add(str(rec["condition"]))
        if rec["condition"] != condition or rec["passed"] is None:
            continue
        if not isinstance(rec["passed"], bool):
            raise DataError(path, line, "passed", f"expected true, false or null, got {rec['passed']!r}")
        passed[str(rec["id"])] = rec["passed"]
        types[str(rec["id"])] = tuple(_check_key(c) for c in rec.get("checks") or [])
    if condition not in seen:
        raise ConfigError(f"compare: {path}: no condition {condition!r} (has: {', '.join(sorted(seen))})")
    if not passed:
        raise ConfigError(f"compare: {path}: condition {condition!r} has no verifiable items")
    return Outcomes(spec, passed, types, _budget(run))


def _check_key(check: dict[str, Any]) -> str:
    """A check as compared across runs: its type, and its parameters where the record has them."""
    params = check.get("params")
    return str(check.get("type")) + ("" if params is None else json.dumps(params, sort_keys=True))


def _budget(run: Path) -> int | None:
    """``max_new_tokens`` of the run's evaluation: the pipeline keeps it in ``evaluate/.key``, ``selfalign
    evaluate --out`` in ``manifest.json``; None when neither records it (older runs)."""
    for name, path in ((".key", ("parts", "config")), ("manifest.json", ("config",))):
        try:
            rec: Any = json.loads((run / "evaluate" / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in path:
            rec = rec.get(key) if isinstance(rec, dict) else None
        if isinstance(rec, dict) and isinstance(rec.get("max_new_tokens"), int):
            return int(rec["max_new_tokens"])
    return None


def _same_items(base: Outcomes, other: Outcomes) -> None:
    if set(other.passed) != set(base.passed):
        odd = sorted(set(other.passed) ^ set(base.passed))[0]
        raise ConfigError(
            f"compare: {other.label} and {base.label} were not evaluated on the same held-out items "
            f"(item {odd} is in one only)"
        )
    for iid, ts in base.types.items():
        if other.types[iid] != ts:
            raise ConfigError(
                f"compare: {other.label} and {base.label}: item {iid} has other constraints "
                f"({', '.join(other.types[iid])} vs {', '.join(ts)})"
            )
    # A policy given fewer tokens per answer fails length rules it would pass: the lift would be the budget's.
    budgets = (base.max_new_tokens, other.max_new_tokens)
    if None not in budgets and budgets[0] != budgets[1]:
        raise ConfigError(
            f"compare: {other.label} was evaluated with max_new_tokens {other.max_new_tokens}, {base.label} "
            f"with {base.max_new_tokens}: answers of different lengths are not compared"
        )


def sign_flip_p(diff: np.ndarray, n_perm: int = 20000, seed: int = 0) -> float:
    """Two-sided Monte Carlo sign-flip permutation p of ``mean(diff) != 0`` (items exchangeable under H0:
    each item's difference is as likely negated); ``(1 + hits) / (1 + n_perm)``, never 0."""
    observed = abs(float(diff.mean()))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, 1000):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(1000, n_perm - start), diff.size))
        hits += int((np.abs((signs * diff).mean(axis=1)) >= observed - 1e-12).sum())
    return (1 + hits) / (1 + n_perm)


def pool(
    base: list[bool], policies: dict[str, list[bool]], baseline: str, *, n_boot: int = 2000, seed: int = 0,
    confidence: float = 0.95, alpha: float = 0.05, n_perm: int = 20000,
) -> dict[str, Any]:  # fmt: skip
    """Every policy (label -> outcomes on the same items as ``base``) against the baseline, then all pooled
    (see the module doc). Pure: no I/O."""
    if not policies:
        raise ValueError("pool: at least one policy")
    rows = []
    for label, passed in policies.items():
        c = compare(base, passed, baseline, label, confidence=confidence, n_boot=n_boot, seed=seed,
                    exact=True)  # fmt: skip
        rows.append({**c, "policy": label, "p_value": c["mcnemar"]["p_value"]})
    _, adjusted = benjamini_hochberg([r["p_value"] for r in rows], alpha)
    for r, q in zip(rows, adjusted, strict=True):
        r["p_bh"] = q
    outcomes = list(policies.values())
    mean_pass = np.array(outcomes, dtype=np.float64).mean(axis=0)
    _, items_low, items_high = paired_bootstrap_lift(
        base, list(mean_pass), n_boot=n_boot, confidence=confidence, seed=seed
    )
    lift, low, high = two_way_bootstrap_lift(base, outcomes, n_boot=n_boot, confidence=confidence, seed=seed)
    lifts = np.array([r["lift"]["estimate"] for r in rows])
    spread: dict[str, Any] = {"lifts": lifts.tolist(), "mean": float(lifts.mean())}
    if len(lifts) >= 2:
        sd = float(lifts.std(ddof=1))
        spread["sd"] = sd
        if sd > 0:
            from scipy import stats as sps  # here: scipy.stats takes a second to import (`config show`)

            t = float(lifts.mean() / (sd / np.sqrt(len(lifts))))
            spread.update(t=t, df=len(lifts) - 1, p_value=float(2 * sps.t.sf(abs(t), len(lifts) - 1)))
    diff = mean_pass - np.asarray(base, dtype=np.float64)
    pooled = {
        "policies": len(rows), "mean_passed": float(mean_pass.sum()), "lift": lift, "ci_low": low,
        "ci_high": high, "items_ci_low": items_low, "items_ci_high": items_high,
        "sign_flip_p": sign_flip_p(diff, n_perm, seed), "n_perm": n_perm,
    }  # fmt: skip
    return {"n": len(base), "baseline": baseline, "baseline_passed": int(sum(base)), "comparisons": rows,
            "pooled": pooled, "across_policies": spread, "confidence": confidence,
            "test": "exact McNemar per policy, Benjamini-Hochberg over the policies"}  # fmt: skip


def compare_runs(
    baseline: str, policies: list[str], *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
    alpha: float = 0.05, n_perm: int = 20000,
) -> dict[str, Any]:  # fmt: skip
    """Every policy (``RUN_DIR:CONDITION``) against the baseline on the same items, then pooled (``pool``)."""
    if not policies:
        raise ConfigError("compare: name at least one policy as RUN_DIR:CONDITION")
    base = load_outcomes(baseline)
    loaded = [load_outcomes(p) for p in policies]
    for o in loaded:
        _same_items(base, o)
    ids = sorted(base.passed)
    labels = [o.label for o in loaded]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"compare: {sorted({x for x in labels if labels.count(x) > 1})[0]} named twice")
    outcomes = {o.label: [o.passed[i] for i in ids] for o in loaded}
    return pool([base.passed[i] for i in ids], outcomes, baseline, n_boot=n_boot, seed=seed,
                confidence=confidence, alpha=alpha, n_perm=n_perm)  # fmt: skip


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def markdown(res: dict[str, Any]) -> str:
    """The comparison as Markdown tables (for docs/RESULTS.md)."""
    n = res["n"]
    rows = []
    for r in res["comparisons"]:
        b, m, lift = r["b"], r["mcnemar"], r["lift"]
        rows.append([
            r["policy"], f"{b['passed']}/{n}",
            f"{100 * b['rate']:.1f} [{100 * b['ci_low']:.1f}, {100 * b['ci_high']:.1f}]",
            f"{_pts(lift['estimate'])} [{_pts(lift['ci_low'])}, {_pts(lift['ci_high'])}]",
            f"{m['b10']}/{m['b01']}", f"{r['p_value']:.2g}", f"{r['p_bh']:.2g}",
        ])  # fmt: skip
    headers = ["policy", "passed", "pass % [CI]", "lift pts [CI]", "wins/losses", "exact p", "BH q"]
    lines = [
        f"Baseline **{res['baseline']}**: {res['baseline_passed']}/{n} verifiable held-out items pass. "
        f"{res['test']}; intervals {100 * res['confidence']:.0f}%.",
        "",
        md_table(headers, rows),
    ]
    p, s = res["pooled"], res["across_policies"]
    lines += [
        "",
        f"Pooled over the {p['policies']} policies (per-item mean pass − baseline): "
        f"**{_pts(p['lift'])} pts [{_pts(p['ci_low'])}, {_pts(p['ci_high'])}]** (items and policies "
        f"resampled; items only, given these policies: [{_pts(p['items_ci_low'])}, "
        f"{_pts(p['items_ci_high'])}]), "
        f"sign-flip permutation p = {p['sign_flip_p']:.2g} over items ({p['n_perm']} draws; given these "
        "policies).",
    ]
    if "p_value" in s:
        lines.append(
            f"Across policies: lifts {', '.join(_pts(x) for x in s['lifts'])} pts, mean {_pts(s['mean'])}, "
            f"sd {100 * s['sd']:.1f}; one-sample t({s['df']}) = {s['t']:.2f}, p = {s['p_value']:.2g} "
            "(the policies as a sample of training draws)."
        )
    return "\n".join(lines) + "\n"
