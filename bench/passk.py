"""pass@k of a condition on a run's held-out items: how often *any* of k samples passes every check.

Rejection sampling can only distil what the sampler already produces, so the sampler's pass@k on held-out
items is a rough ceiling for a policy trained on its verified samples (a policy can exceed it only by
generalising past its data). A diagnostic, never training data: the samples are written to --out for
inspection and nothing reads them back.

    python bench/passk.py runs/proof6 --prompt few_shot --k 4 --out runs/passk_fewshot.jsonl
    python bench/passk.py runs/proof6 --prompt zero_shot --adapter runs/proof6/sft/adapter --k 4 --out ...

Sampling is the run's responses stage's (temperature, top-p, token limit from its manifest; the format's
stop strings; seed 0); the few-shot prompt is its evaluate stage's (shots and shot seed from that manifest).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.evaluate.checks import score_output
from selfalign.evaluate.conditions import PromptBuilder
from selfalign.evaluate.headline import SUBSETS, subset_of
from selfalign.evaluate.items import load_items
from selfalign.prompts.format import get_format


def stage_config(run: Path, stage: str) -> dict[str, Any]:
    path = run / stage / "manifest.json"
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (is {run} a finished run?)")
    return dict(json.loads(path.read_text("utf-8"))["config"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a finished run dir (its split/test.jsonl is used)")
    ap.add_argument("--prompt", choices=["few_shot", "zero_shot"], default="few_shot")
    ap.add_argument("--adapter", type=Path, default=None, help="PEFT adapter dir (a tuned policy)")
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--out", type=Path, required=True, help="JSONL of every sample and its checks")
    args = ap.parse_args()

    sampling, evaluate = stage_config(args.run, "responses"), stage_config(args.run, "evaluate")
    all_items = load_items(args.run / "split" / "test.jsonl")
    items = [it for it in all_items if it.verifiable]
    engine = Engine.load(ModelSpec(ref=args.model))
    engine.text_is_data = True  # the prompts embed model-written instructions
    if args.adapter is not None:
        engine.add_adapter("policy", args.adapter)
    builder = PromptBuilder(all_items, evaluate["shots"], evaluate["shots_seed"])
    prompts = [builder.build(args.prompt, it) for it in items for _ in range(args.k)]
    params = GenParams(max_new_tokens=sampling["max_new_tokens"], temperature=sampling["temperature"],
                       top_p=sampling["top_p"], seed=0, stop=get_format().stop, batch_size=32)  # fmt: skip
    started = time.perf_counter()
    gens = engine.generate(prompts, params, adapter="policy" if args.adapter else None)
    wall = time.perf_counter() - started

    rows = []
    for i, item in enumerate(items):
        outs = [g.text.strip() for g in gens[i * args.k : (i + 1) * args.k]]
        scored = [score_output(item, o) for o in outs]
        rows.append({"id": item.id, "checks": scored[0][0], "passes": [bool(p) for _, p in scored],
                     "outputs": outs})  # fmt: skip
    with args.out.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)

    table_rows = []
    for name in SUBSETS:
        sub = [r for r in rows if subset_of(name, r)]
        if not sub:
            continue
        p1 = sum(sum(r["passes"]) for r in sub) / (args.k * len(sub))
        pk = sum(any(r["passes"]) for r in sub) / len(sub)
        table_rows.append({"items": name, "n": len(sub), "pass@1 %": f"{100 * p1:.1f}",
                           f"pass@{args.k} %": f"{100 * pk:.1f}"})  # fmt: skip
    print(f"{machine()}; {len(prompts)} samples in {wall:.0f} s")
    print(table(table_rows))
    record = {"bench": "passk", "k": args.k, "prompt": args.prompt, "adapter": str(args.adapter),
              "wall_s": wall, "rows": table_rows}  # fmt: skip
    print("BENCH_JSON " + json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
