"""SFT step time with TRL's LM head on every position (its CPU default) vs on labelled positions only.

Usage: .venv/bin/python bench/headcut.py runs/proof-2026-12-06c/sft-s0/sft.jsonl [--steps 6]
Trains the same first steps twice from the same seed on a run's own SFT rows (train/headcut.py off, then on)
and prints seconds per step and each step's loss (the two must agree: the cut changes no value).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import trl.trainer.utils as tu
from trl.kernels.chunked_logprob import _use_triton as trl_choice

sys.path.insert(0, str(Path(__file__).parent))
from common import machine
from selfalign.engine import Engine, ModelSpec
from selfalign.train.config import SFTSettings
from selfalign.train.sft import build_trainer


def run_mode(model: str, rows: list[tuple[str, str]], steps: int, cut: bool) -> dict[str, object]:
    engine = Engine.load(ModelSpec(ref=model, sentinels=False))  # a fresh base: SFT adds LoRA layers in place
    settings = SFTSettings(max_steps=steps, batch_size=8, max_length=384, learning_rate=5e-4, seed=0,
                           tensorboard=False, save_steps=10_000)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(engine, rows, settings, Path(tmp))  # applies the cut
        if not cut:
            tu._use_triton = trl_choice
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        losses = [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h]
    per_step = round(seconds / steps, 2)
    return {"cut": cut, "seconds": round(seconds, 1), "s_per_step": per_step, "losses": losses}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sft_jsonl", type=Path)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--model", default="gemma3-270m")
    args = ap.parse_args()
    rows = [(r["prompt"], r["completion"]) for r in map(json.loads, args.sft_jsonl.read_text().splitlines())]
    out = [run_mode(args.model, rows, args.steps, cut) for cut in (False, True)]
    print(json.dumps({"machine": machine(), "rows": len(rows), "steps": args.steps, "modes": out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
