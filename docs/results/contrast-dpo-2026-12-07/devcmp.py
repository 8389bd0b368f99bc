"""Dev comparison of two evaluate dirs' conditions: strict, clean, token-limit answers, mean words,
wins/losses.
usage: devcmp.py DIR_A:COND_A DIR_B:COND_B ITEMS"""

import json
import sys
from pathlib import Path

from scipy.stats import binomtest

from selfalign.evaluate.clean import loop_flags
from selfalign.evaluate.items import load_items


def load(spec):
    d, c = spec.rsplit(":", 1)
    rows = map(json.loads, (Path(d) / "items.jsonl").read_text().splitlines())
    recs = {r["id"]: r for r in rows if r["condition"] == c}
    res = json.loads((Path(d) / "results.json").read_text())
    return recs, res["stop_reasons"][c]


ins = {it.id: it.instruction for it in load_items(Path(sys.argv[3]))}
(a, sa), (b, sb) = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys()
for name, recs, stops in ((sys.argv[1], a, sa), (sys.argv[2], b, sb)):
    strict = sum(r["passed"] for r in recs.values())
    clean = sum(r["passed"] and not loop_flags(r["output"], ins[i]) for i, r in recs.items())
    words = sum(len(r["output"].split()) for r in recs.values()) / len(recs)
    print(
        f"{name:50s} strict {strict:3d}  clean {clean:3d}  at limit {stops['length']:3d}  "
        f"mean words {words:5.1f}"
    )
won = sum(b[i]["passed"] and not a[i]["passed"] for i in a)
lost = sum(a[i]["passed"] and not b[i]["passed"] for i in a)
p = binomtest(won, won + lost).pvalue if won + lost else 1
print(f"strict wins/losses of B vs A: {won}/{lost}, exact p = {p:.2f}")
