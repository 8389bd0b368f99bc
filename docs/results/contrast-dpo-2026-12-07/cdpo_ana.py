"""Held-out, per seed, SFT (p8) vs SFT + contrast DPO: strict, clean, at the token limit, mean words,
wins/losses, and per type for the types the pairs touch.  usage: cdpo_ana.py P8_EVAL CDPO_EVAL ITEMS"""

import collections
import json
import sys
from pathlib import Path

from scipy.stats import binomtest

from selfalign.evaluate.clean import loop_flags
from selfalign.evaluate.items import load_items

p8, cd, items = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
ins = {it.id: it.instruction for it in load_items(items)}


def load(d):
    recs = collections.defaultdict(dict)
    for line in (d / "items.jsonl").read_text().splitlines():
        r = json.loads(line)
        recs[r["condition"]][r["id"]] = r
    return recs, json.loads((d / "results.json").read_text())["stop_reasons"]


(a, sa), (b, sb) = load(p8), load(cd)
for s in range(3):
    A, B = a[f"sft-s{s}"], b[f"dpo-s{s}"]
    for name, R, st in ((f"sft-s{s}", A, sa[f"sft-s{s}"]), (f"dpo-s{s}", B, sb[f"dpo-s{s}"])):
        strict = sum(r["passed"] for r in R.values())
        clean = sum(r["passed"] and not loop_flags(r["output"], ins[i]) for i, r in R.items())
        words = sum(len(r["output"].split()) for r in R.values()) / len(R)
        print(f"{name}: strict {strict} clean {clean} at limit {st['length']} mean words {words:.1f}")
    won = sum(B[i]["passed"] and not A[i]["passed"] for i in A)
    lost = sum(A[i]["passed"] and not B[i]["passed"] for i in A)
    cw = sum(
        (B[i]["passed"] and not loop_flags(B[i]["output"], ins[i]))
        and not (A[i]["passed"] and not loop_flags(A[i]["output"], ins[i]))
        for i in A
    )
    cl = sum(
        (A[i]["passed"] and not loop_flags(A[i]["output"], ins[i]))
        and not (B[i]["passed"] and not loop_flags(B[i]["output"], ins[i]))
        for i in A
    )
    print(
        f"  strict wins/losses {won}/{lost} p={binomtest(won, won + lost).pvalue:.3f}; "
        f"clean wins/losses {cw}/{cl} p={binomtest(cw, cw + cl).pvalue:.3f}"
    )
# per type (instruction level), summed over seeds
pt = collections.defaultdict(collections.Counter)
for s in range(3):
    for cond, R in (("sft", a[f"sft-s{s}"]), ("dpo", b[f"dpo-s{s}"])):
        for r in R.values():
            for c in r["checks"]:
                pt[c["type"]][cond] += c["passed"]
                pt[c["type"]][cond + "_n"] += 1
print("type: sft -> dpo (instruction-level passes summed over 3 seeds)")
for t in sorted(pt, key=lambda t: pt[t]["dpo"] - pt[t]["sft"]):
    print(f"  {t:26s} {pt[t]['sft']:4d} -> {pt[t]['dpo']:4d} of {pt[t]['sft_n']}")
