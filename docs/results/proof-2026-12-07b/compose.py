"""Evaluation results of adapters evaluated alone, with the base conditions of another evaluation of the same
items (same code and engine), composed as the evaluate stage composes them; prints the pooled table.
usage: compose.py ITEMS BASE_EVAL_DIR ADAPTER_EVAL_DIR OUT_DIR [POLICY_PREFIX, default sft]"""

import json
import sys
from pathlib import Path

from selfalign.evaluate.clean import clean_headline
from selfalign.evaluate.headline import headline
from selfalign.evaluate.items import load_items
from selfalign.evaluate.summary import summarize

items_p, base_d, ad_d, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
PREFIX = sys.argv[5] if len(sys.argv) > 5 else "sft"
items = load_items(items_p)
ids = [it.id for it in items]


def load(d):
    recs = {}
    for line in (d / "items.jsonl").read_text().splitlines():
        r = json.loads(line)
        recs.setdefault(r["condition"], []).append(r)
    return recs, json.loads((d / "results.json").read_text())


base, base_res = load(base_d)
ads, ad_res = load(ad_d)
records = {k: base[k] for k in ("base_zero_shot", "base_few_shot")} | {
    k: v for k, v in ads.items() if k.startswith(PREFIX)
}
for k, v in records.items():
    assert [r["id"] for r in v] == ids, k
stops = {}
for res in (base_res, ad_res):
    for name, counts in res["stop_reasons"].items():
        if name in records:
            stops[name] = [r for r, n in counts.items() for _ in range(n)]
opts = dict(n_boot=2000, seed=0, confidence=0.95, alpha=0.05)
unseen = [it.id for it in items if it.wording == "unseen"]
results = summarize(records, "base_few_shot", **opts)
results["stop_reasons"] = {k: {r: v.count(r) for r in ("stop", "eos", "length")} for k, v in stops.items()}
results["headline"] = headline(records, stops, unseen_wording=unseen, **opts)
results["headline_clean"] = clean_headline(
    records, {it.id: it.instruction for it in items}, unseen_wording=unseen, **opts
)
results["composed_from"] = {"base": str(base_d), "adapters": str(ad_d)}
out.mkdir(parents=True, exist_ok=True)
(out / "results.json").write_text(json.dumps(results, indent=2, default=str))
(out / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for v in records.values() for r in v))
for tag in ("headline", "headline_clean"):
    h = results[tag]
    print(f"## {tag}")
    for p in h["pooled"]:
        q = p["pooled"]
        a = p["across_policies"]
        per = ", ".join(f"{c['lift']['estimate'] * 100:+.1f} (q {c['p_bh']:.2g})" for c in p["comparisons"])
        n, lift = p["n"], f"{q['lift'] * 100:+.1f} [{q['ci_low'] * 100:+.1f}, {q['ci_high'] * 100:+.1f}]"
        print(
            f"{p['subset']:18} n={n:3} base {p['baseline']:15} {p['baseline_passed'] / n * 100:5.1f}% -> "
            f"{q['mean_passed'] / n * 100:5.1f}%  lift {lift} "
            f"p={a.get('p_value', float('nan')):.2g} {a if 'p_value' not in a else ''}  seeds {per}"
        )
print({k: round(v["mean_words"], 1) for k, v in results["headline"]["conditions"].items()})
