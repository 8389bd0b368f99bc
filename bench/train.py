"""SFT throughput: TRL's padded default vs packing (BFD) vs padding-free, on the default model.

Usage: .venv/bin/python bench/train.py [--model smollm2-135m] [--steps 6] [--batch 8]
Trains a few optimizer steps per mode on the few-shot example pool (real instruction/response pairs) and
reports trained tokens per second (non-pad tokens in the batches the model saw / wall time of train()).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from selfalign.engine import Engine, ModelSpec
from selfalign.prompts.format import get_format
from selfalign.prompts.pools import pools
from selfalign.train.config import SFTSettings
from selfalign.train.sft import build_trainer


def examples() -> list[tuple[str, str]]:
    f = get_format()
    return [(f.prompt(e.instruction), f.completion(e.response)) for e in pools().examples]


def run_mode(model: str, name: str, steps: int, batch: int, **mode: bool) -> dict[str, object]:
    engine = Engine.load(ModelSpec(ref=model, sentinels=False))
    settings = SFTSettings(max_steps=steps, batch_size=batch, tensorboard=False, save_steps=10_000, **mode)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            trainer = build_trainer(engine, examples(), settings, Path(tmp))
            started = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - started
        except Exception as e:  # a mode this machine cannot run is a result, reported as such
            return {"mode": name, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"}
        tokens = int(trainer.state.num_input_tokens_seen or 0)
        logged = [h for h in trainer.state.log_history if "num_tokens" in h]
        trained = int(logged[-1]["num_tokens"]) if logged else tokens
    return {"mode": name, "steps": steps, "seconds": round(seconds, 2), "tokens": trained,
            "tokens_per_s": round(trained / seconds, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    modes = [
        ("padded (TRL default)", {"padding_free": False}),
        ("packing bfd", {"packing": True, "padding_free": False}),
        ("padding-free", {"padding_free": True}),
    ]
    for name, mode in modes:
        print(
            json.dumps(
                {"model": a.model, "batch": a.batch, **run_mode(a.model, name, a.steps, a.batch, **mode)}
            )
        )


if __name__ == "__main__":
    main()
