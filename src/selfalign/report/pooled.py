"""The pooled headline's tables as plain-text cells, shared by the HTML report and the Markdown one.

Read from ``results.json`` → ``headline.pooled`` (``evaluate.headline``): one entry per policy × subset with
the seeds pooled (``evaluate.across.pool``). The first table is the lead (pooled lift, interval over items and
seeds, across-seed t test); the second gives each seed's own row (exact McNemar, BH over the seeds).
"""

from __future__ import annotations

from typing import Any

POOLED_HEAD = ["policy", "seeds", "items", "n", "stronger base on the items %", "mean pass over seeds %",
               "pooled lift pts [CI]", "items-only CI", "across seeds", "sign-flip p"]  # fmt: skip
SEED_HEAD = ["policy", "items", "seed", "pass %", "lift pts [CI]", "wins/losses", "exact p", "BH q (seeds)"]


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _ci(lo: float, hi: float) -> str:
    return f"[{_pts(lo)}, {_pts(hi)}]"


def short_base(name: str) -> str:
    """``base_zero_shot`` -> ``zero-shot``: which base a subset was compared with, in a table cell."""
    return name.removeprefix("base_").replace("_", "-")


def _p(x: float | None) -> str:
    return "–" if x is None else f"{x:.2g}"


def entries(headline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The pooled entries of a results.json headline; empty for a run evaluated before seeds were pooled."""
    if not isinstance(headline, dict):
        return []
    found = headline.get("pooled")
    return found if isinstance(found, list) else []


def across(entry: dict[str, Any]) -> str:
    """The across-seed one-sample t test, or why there is none."""
    s = entry["across_policies"]
    k = entry["pooled"]["policies"]
    if k < 2:
        return "– (1 seed: one training draw)"
    if "p_value" not in s:
        return f"– (every seed's lift {_pts(s['mean'])})"
    return f"t({s['df']}) = {s['t']:.2f}, p = {_p(s['p_value'])}"


def pooled_rows(headline: dict[str, Any] | None) -> list[list[str]]:
    rows = []
    for e in entries(headline):
        p, n = e["pooled"], e["n"]
        rows.append([e["group"], str(p["policies"]), e["subset"], str(n),
                     f"{100 * e['baseline_passed'] / n:.1f} ({short_base(e['baseline'])})",
                     f"{100 * p['mean_passed'] / n:.1f}",
                     f"{_pts(p['lift'])} {_ci(p['ci_low'], p['ci_high'])}",
                     _ci(p["items_ci_low"], p["items_ci_high"]), across(e),
                     _p(p["sign_flip_p"])])  # fmt: skip
    return rows


def seed_rows(headline: dict[str, Any] | None) -> list[list[str]]:
    rows = []
    for e in entries(headline):
        for c in e["comparisons"]:
            lift, m = c["lift"], c["mcnemar"]
            rows.append([e["group"], e["subset"], c["policy"], f"{100 * c['b']['rate']:.1f}",
                         f"{_pts(lift['estimate'])} {_ci(lift['ci_low'], lift['ci_high'])}",
                         f"{m['b10']}/{m['b01']}", _p(c["p_value"]), _p(c["p_bh"])])  # fmt: skip
    return rows


def lead_sentence(headline: dict[str, Any] | None) -> str | None:
    """The top of a report: each policy's pooled lift on all verifiable items (in training order), or None."""
    lead = [e for e in entries(headline) if e["subset"] == "all"]
    if not lead:
        return None
    parts = []
    for e in lead:
        p, k = e["pooled"], e["pooled"]["policies"]
        seeds = f"{k} seeds pooled" if k > 1 else "one seed only: a single training draw, not seed-robust"
        parts.append(f"{e['group']} ({seeds}): {_pts(p['lift'])} pts {_ci(p['ci_low'], p['ci_high'])} over "
                     f"items and seeds, across seeds {across(e)}")  # fmt: skip
    e = lead[0]
    return f"Against {e['baseline']} on {e['n']} verifiable held-out items: " + "; ".join(parts) + "."


NOTE = ("Pooled lift = per-item mean pass over a policy's seeds minus the stronger base on those items "
        "(chosen per subset: the stronger base on all items can be the weaker one on a subset), with a "
        "percentile interval that resamples items and seeds (pigeonhole bootstrap) and the items-only one "
        "given these seeds; across seeds = one-sample t test of the seeds' lifts (the seeds as the sample); "
        "sign-flip p = permutation test over items. Each seed: exact McNemar against the same base, "
        "Benjamini-Hochberg over the policy's seeds within the subset. unseen_types: every constraint of a "
        "type never trained; multi_constraint: two or three constraints; unseen_wording: constraints "
        "phrased in words training never used.")  # fmt: skip


LOST_HEAD = ["condition", "strict passes", "clean passes", "lost: repetitive", "lost: echo", "lost: runaway",
             "lost: empty"]  # fmt: skip
CLEAN_NOTE = ("Clean pass = the strict pass, and QC finds no loop (repetitive), no echo of the instruction, "
              "no runaway into a new turn and no empty answer (evaluate.clean; QC's rules, written for "
              "training samples, unchanged). The code checks count what an answer contains; a base that "
              "loops its instruction forty times passes 'use the word X three times'. The strict pass stays "
              "the IFEval-compatible number; the clean one says how many passes were answers. A lost pass "
              "can carry several flags.")  # fmt: skip


def lost_rows(clean: dict[str, Any] | None) -> list[list[str]]:
    """Per condition: strict and clean passes, and the strict passes each loop flag took away."""
    lost = (clean or {}).get("lost") or {}
    return [[name, str(v["strict"]), str(v["clean"]), *(str(v.get(f, 0)) for f in
             ("repetitive", "echo", "runaway", "empty"))] for name, v in lost.items()]  # fmt: skip
