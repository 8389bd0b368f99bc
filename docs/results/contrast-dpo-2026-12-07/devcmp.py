"""Dev comparison of two evaluate dirs' conditions: strict, clean, token-limit answers, mean words, wins/losses.
usage: devcmp.py DIR_A:COND_A DIR_B:COND_B ITEMS"""
import json, sys
from pathlib import Path
from scipy.stats import binomtest
from selfalign.evaluate.clean import loop_flags
from selfalign.evaluate.items import load_items

def load(spec):
    d, c = spec.rsplit(":", 1)
    recs = {r["id"]: r for r in map(json.loads, open(Path(d) / "items.jsonl")) if r["condition"] == c}
    res = json.loads((Path(d) / "results.json").read_text())
    return recs, res["stop_reasons"][c]
ins = {it.id: it.instruction for it in load_items(Path(sys.argv[3]))}
(a, sa), (b, sb) = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys()
for name, recs, stops in ((sys.argv[1], a, sa), (sys.argv[2], b, sb)):
    strict = sum(r["passed"] for r in recs.values())
    clean = sum(r["passed"] and not loop_flags(r["output"], ins[i]) for i, r in recs.items())
    words = sum(len(r["output"].split()) for r in recs.values()) / len(recs)
    print(f"{name:50s} strict {strict:3d}  clean {clean:3d}  at limit {stops['length']:3d}  mean words {words:5.1f}")
w = sum(b[i]["passed"] and not a[i]["passed"] for i in a); l = sum(a[i]["passed"] and not b[i]["passed"] for i in a)
print(f"strict wins/losses of B vs A: {w}/{l}, exact p = {binomtest(w, w + l).pvalue if w + l else 1:.2f}")
