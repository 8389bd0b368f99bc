"""SFT step time with TRL's LM head on every position (its CPU default) vs on labelled positions only.

Usage: .venv/bin/python bench/headcut.py runs/proof-2026-12-06c/sft-s0/sft.jsonl [--steps 6] [--rows N]
       [--linear exact|packed] [--only-cut]
Trains the same first steps twice from the same seed on a run's own SFT rows (train/headcut.py off, then on)
and prints seconds per step and each step's loss (the two must agree: the cut changes no value).
``--linear`` loads the engine with exact or oneDNN-packed projections (``engine.linear``); run it once with
each and ``--only-cut`` for the SFT A/B of docs/PERFORMANCE.md (training runs ``F.linear`` either way).
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
from selfalign.engine.backend import BackendSpec
from selfalign.train.config import SFTSettings
from selfalign.train.sft import build_trainer


def run_mode(
    model: str, rows: list[tuple[str, str]], steps: int, cut: bool, linear: str
) -> dict[str, object]:
    # A fresh base each time: SFT adds LoRA layers in place.
    engine = Engine.load(ModelSpec(ref=model, sentinels=False), backend=BackendSpec(linear=linear))
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
    return {"cut": cut, "linear": linear, "seconds": round(seconds, 1), "s_per_step": per_step,
            "losses": losses}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sft_jsonl", type=Path)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--rows", type=int, default=None, help="only the first N rows (the A/B used 64)")
    ap.add_argument("--linear", choices=("exact", "packed"), default="exact", help="engine.linear to load")
    ap.add_argument("--only-cut", action="store_true", help="skip the run without the cut")
    args = ap.parse_args()
    rows = [(r["prompt"], r["completion"]) for r in map(json.loads, args.sft_jsonl.read_text().splitlines())]
    rows = rows[: args.rows] if args.rows else rows
    modes = (True,) if args.only_cut else (False, True)
    out = [run_mode(args.model, rows, args.steps, cut, args.linear) for cut in modes]
    print(json.dumps({"machine": machine(), "rows": len(rows), "steps": args.steps, "modes": out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
