"""Contrast DPO pairs from a finished run's base samples (the SFT + contrast-pairs ablation of issue 26).

For each constrained training instruction of ``RUN/responses/responses.jsonl``: chosen = the first steered
sample that passes every check and is QC-clean, rejected = the first unsteered sample of the same base
model on the same instruction that fails a check (``stages.steered.contrast_pair``) -- what the model writes
when held to the rule vs what it writes alone. The prompt is the policy's zero-shot format, as SFT trains it;
margin = the share of checks the rejected answer fails. No model call: the samples already exist.

    python bench/contrast_pairs.py runs/proof-2026-12-06b /tmp/contrast.jsonl
    selfalign dpo --data /tmp/contrast.jsonl --sft-adapter runs/proof-2026-12-06b/sft-s0/adapter ...
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from selfalign.constraints import check_all
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.prompts.format import get_format
from selfalign.stages.steered import contrast_pair, is_steered


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    by_ins: dict[str, list[dict]] = defaultdict(list)
    for line in (args.run / "responses" / "responses.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("constraints"):
                by_ins[rec["instruction_id"]].append(rec)
    fmt = get_format()
    pairs = []
    for iid, recs in by_ins.items():
        clean = [r["text"] for r in recs if is_steered(r) and not any((r.get("qc") or {}).values())]
        alone = [r["text"] for r in recs if not is_steered(r)]
        cons = recs[0]["constraints"]
        pair = contrast_pair(cons, alone, clean)
        if pair is None:
            continue
        chosen, rejected = pair
        failed = sum(not c.passed for c in check_all(rejected, cons)) / len(cons)
        prompt = fmt.prompt(recs[0]["instruction"])
        pairs.append({"id": f"contrast:{iid}", "instruction_id": iid, "prompt": prompt, "chosen": chosen,
                      "rejected": rejected, "margin": failed, "source": "contrast",
                      "scorer": "verifiable"})  # fmt: skip
    write_jsonl_atomic(args.out, pairs)
    print(f"{len(pairs)} contrast pairs from {len(by_ins)} constrained instructions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
