"""IFEval's four accuracies per condition, each with the paired statistics selfalign's own items get.

Per condition and metric: the rate with a Wilson interval and, against the baseline on the same prompts,
McNemar (exact below 25 discordant pairs), signed Cohen's h and a paired bootstrap interval of the lift.

- **Prompt level** (strict, loose): one pass/fail per prompt, exactly as ``evaluate.summary`` treats an
  item.
- **Instruction level** (strict, loose): one pass/fail per instruction. Instructions of one prompt share an
  answer, so they are not independent: the lift interval resamples whole prompts
  (``paired_cluster_bootstrap_lift``); McNemar still counts discordant *instructions* and so treats them as
  independent, which makes its p-value optimistic when prompts carry several instructions. Read the
  prompt-level test as the primary one.

Benjamini–Hochberg adjusts all compared (condition, metric) p-values together: one family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from selfalign.evaluate.stats import benjamini_hochberg, cohens_h, compare, paired_cluster_bootstrap_lift
from selfalign.evaluate.summary import pass_rate, same_items

METRICS = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")


def outcomes(records: Sequence[dict[str, Any]], metric: str) -> tuple[list[bool], list[int]]:
    """The pass/fail units of one metric and the prompt (cluster) index of each."""
    if metric.startswith("prompt_"):
        return [bool(r[metric]) for r in records], list(range(len(records)))
    side = metric.removeprefix("instruction_")
    flat = [(bool(v), i) for i, r in enumerate(records) for v in r[side]]
    return [v for v, _ in flat], [i for _, i in flat]


def versus(
    base: list[bool], mine: list[bool], clusters: list[int], names: tuple[str, str], opts: dict[str, Any]
) -> dict[str, Any]:
    """McNemar, Cohen's h and the bootstrap lift (clustered by prompt) of ``mine`` against ``base``."""
    c = compare(base, mine, *names, **opts)
    lift, low, high = paired_cluster_bootstrap_lift(base, mine, clusters, **opts)
    return {
        "p_value": c["mcnemar"]["p_value"],
        "mcnemar": c["mcnemar"],
        "cohens_h": cohens_h(c["a"]["rate"], c["b"]["rate"]),
        "lift": {"estimate": lift, "ci_low": low, "ci_high": high, "resampled": "prompts"},
    }


def by_instruction(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Strict and loose pass counts per IFEval instruction id (no test: often a handful of units)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        for iid, s, lo in zip(r["instruction_id_list"], r["strict"], r["loose"], strict=True):
            d = out.setdefault(iid, {"n": 0, "strict": 0, "loose": 0})
            d["n"], d["strict"], d["loose"] = d["n"] + 1, d["strict"] + bool(s), d["loose"] + bool(lo)
    return dict(sorted(out.items()))


def summarize_ifeval(
    records: dict[str, list[dict[str, Any]]],
    baseline: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Results per condition (in ``records`` order); every condition must answer the same prompts in order."""
    keys = same_items(records, baseline, "key")
    opts = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    out: dict[str, Any] = {}
    family: list[dict[str, Any]] = []
    for name, recs in records.items():
        metrics: dict[str, Any] = {}
        for m in METRICS:
            mine, clusters = outcomes(recs, m)
            metrics[m] = pass_rate(mine, confidence)
            vs = None
            if name != baseline:
                vs = versus(outcomes(records[baseline], m)[0], mine, clusters, (baseline, name), opts)
                family.append(vs)
            metrics[m]["vs_baseline"] = vs
        words = [len(r["output"].split()) for r in recs]
        out[name] = {
            "ifeval": metrics,
            "by_instruction": by_instruction(recs),
            "mean_words": sum(words) / len(words),
            "stop_reasons": {s: sum(r["stop_reason"] == s for r in recs) for s in ("stop", "eos", "length")},
        }
    if family:
        rejected, adjusted = benjamini_hochberg([v["p_value"] for v in family], alpha)
        for v, rej, q in zip(family, rejected, adjusted, strict=True):
            v["p_bh"], v["significant"] = q, rej
    return {
        "benchmark": "ifeval",
        "baseline": baseline,
        "n_prompts": len(keys),
        "n_instructions": sum(len(r["strict"]) for r in records[baseline]),
        "confidence": confidence,
        "alpha": alpha,
        "n_boot": n_boot,
        "seed": seed,
        "conditions": out,
    }
