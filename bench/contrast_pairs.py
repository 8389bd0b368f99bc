"""Contrast DPO pairs from a finished run's base samples (the SFT + contrast-pairs ablation of issue 26).

For each constrained training instruction of ``RUN/responses/responses.jsonl``: chosen = the first steered
sample that passes every check and is QC-clean, rejected = the first unsteered sample of the same base
model on the same instruction that fails a check (``stages.steered.contrast_pair``) -- what the model writes
when held to the rule vs what it writes alone. The prompt is the policy's zero-shot format, as SFT trains it;
margin = the share of checks the rejected answer fails. No model call: the samples already exist.

With ``--flagged``, each instruction also gives a pair whose rejected answer is a *steered* sample QC flagged
(truncated at the token limit, a loop, word salad) — the same length as the chosen on average, where the
first kind's rejected answers are a third as long (54 vs 35 words in the seventh run), so DPO on those alone
learns "longer" (margin 1: the checks may pass; QC is what failed).

A rejected answer that ran to the token limit is marked ``rejected_ended: false`` and DPO trains it open (no
end delimiter, no EOS): closed, pushing it down also pushes down ending after the loop. ``--all-ended`` writes
every pair closed, as the ablation of 2026-12-07 (docs/results/contrast-dpo-2026-12-07.md) trained them.

    python bench/contrast_pairs.py runs/proof-2026-12-06b /tmp/contrast.jsonl
    selfalign dpo --data /tmp/contrast.jsonl --sft-adapter runs/proof-2026-12-06b/sft-s0/adapter ...
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from selfalign.constraints import check_all
from selfalign.constraints.check import passes_all
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.prompts.format import get_format
from selfalign.stages.steered import contrast_pair, is_steered, unended


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--flagged", action="store_true", help="also pairs against QC-flagged steered samples")
    ap.add_argument("--all-ended", action="store_true", help="train every rejected answer closed (as before)")
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
        flagged = [r for r in recs if is_steered(r) and any((r.get("qc") or {}).values())]
        cut = unended((r["text"], r["stop_reason"]) for r in recs)  # ran to the limit
        alone = [r["text"] for r in recs if not is_steered(r)]
        cons = recs[0]["constraints"]
        prompt = fmt.prompt(recs[0]["instruction"])
        pair = contrast_pair(cons, alone, clean)
        if pair is not None:
            chosen, rejected = pair
            failed = sum(not c.passed for c in check_all(rejected, cons)) / len(cons)
            pairs.append({"id": f"contrast:{iid}", "instruction_id": iid, "prompt": prompt, "chosen": chosen,
                          "rejected": rejected, "margin": failed, "source": "contrast",
                          "scorer": "verifiable",
                          "rejected_ended": args.all_ended or rejected not in cut})  # fmt: skip
        chosen_qc = next((t for t in clean if t.strip() and passes_all(t, cons)), None)
        if args.flagged and flagged and chosen_qc is not None and chosen_qc != flagged[0]["text"]:
            pairs.append({"id": f"flagged:{iid}", "instruction_id": iid, "prompt": prompt,
                          "chosen": chosen_qc, "rejected": flagged[0]["text"], "margin": 1.0,
                          "source": "contrast-qc", "scorer": "qc",
                          "rejected_ended": args.all_ended or flagged[0]["text"] not in cut})  # fmt: skip
    write_jsonl_atomic(args.out, pairs)
    print(f"{len(pairs)} contrast pairs from {len(by_ins)} constrained instructions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
