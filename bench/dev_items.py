"""Dev items from a finished run: its training-side constrained instructions that no stage sampled.

``responses.limit`` answers only the first N training instructions, so the rest of ``split/train.jsonl`` was
never seen by any model call of the run: training types and training wordings, but not a held-out item.
Hyper-parameters are chosen on these (``selfalign evaluate --items OUT --adapter ...``), never on test:

    python bench/dev_items.py runs/pilot /tmp/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run dir with split/train.jsonl and responses/responses.jsonl")
    ap.add_argument("out", type=Path, help="JSONL to write (held-out item format)")
    args = ap.parse_args()
    sampled = set()
    for name in sorted(args.run.glob("responses*/responses.jsonl")):
        lines = name.read_text("utf-8").splitlines()
        sampled |= {json.loads(x)["instruction_id"] for x in lines if x.strip()}
    train = [json.loads(x) for x in (args.run / "split/train.jsonl").read_text("utf-8").splitlines() if x]
    dev = [r for r in train if r["id"] not in sampled and r.get("constraints")]
    if not dev:
        raise SystemExit(f"{args.run}: every constrained training instruction was sampled; no dev items")
    args.out.write_text("".join(json.dumps(r) + "\n" for r in dev), "utf-8")
    n = Counter(len(r["constraints"]) for r in dev)
    print(f"{len(dev)} dev items ({', '.join(f'{k} constraint(s): {v}' for k, v in sorted(n.items()))}) "
          f"of {len(train)} training instructions, {len(sampled)} sampled -> {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
