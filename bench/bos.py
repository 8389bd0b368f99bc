"""Why the BOS rule matters: mean NLL per token of ordinary English text with and without the model's BOS.

The same tokens are scored both ways (the first text token has no context without BOS, so it is left out of
both means).

    .venv/bin/python bench/bos.py [--model gemma3-270m]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine
from selfalign.engine import Engine, ModelSpec

TEXT = (
    "The river runs through the middle of the town, and on summer evenings people walk along its banks. "
    "In the old days the mill used its water to grind grain for the farms around, but the mill has been a "
    "museum for many years now. Children feed the ducks near the bridge while their parents sit in the cafes "
    "that line the square. When it rains hard in spring, the river rises and the lower streets can flood."
)


def nll(engine: Engine, ids: list[int], n_scored: int) -> float:
    with torch.inference_mode():
        logits = engine.model(input_ids=torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits[:-1], dim=-1).gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
    return float(-logp[-n_scored:].mean())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    args = ap.parse_args()
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    text = engine.guard.encode(TEXT, bos=False)
    bos = engine.guard.bos.bos_id
    with_bos = nll(engine, [bos, *text], len(text) - 1) if bos is not None else None
    without = nll(engine, text, len(text) - 1)
    print(f"# {args.model}; {machine()}; rule: {engine.guard.bos.source}")
    print(f"tokens scored: {len(text) - 1}; NLL/token with BOS: {with_bos}; without: {without:.3f}")
    print("BENCH_JSON " + json.dumps({
        "bench": "bos", "unit": "NLL/token", "goal": "info", "model": args.model,
        "baseline": {"label": "without BOS", "value": round(without, 3)},
        "optimized": {"label": "with the model's BOS",
                      "value": None if with_bos is None else round(with_bos, 3)},
        "ratio": None if with_bos is None else round(with_bos / without, 3)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
