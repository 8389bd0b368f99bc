"""Generation throughput: one prompt at a time through plain HF generate (the first version's way), HF
generate on length-sorted batches (like for like with the engine's batching), and the engine's batched
generate — same model, same prompts, same greedy decoding, generated tokens counted up to EOS.

    python bench/generate.py [--model smollm2-135m] [--n 32] [--max-new-tokens 64] [--batch-size 16]
                              [--shots 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table, timed
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.batch import left_pad
from selfalign.prompts import pools
from selfalign.prompts.builders import response_prompt
from selfalign.prompts.format import get_format


def prompts(n: int, shots: int = 2) -> list[str]:
    """Response prompts for pool instructions: ``shots`` solved examples first (0: the bare format)."""
    rng = random.Random(0)
    items = pools.examples()
    if shots == 0:
        return [get_format().prompt(items[i % len(items)].instruction) for i in range(n)]
    return [response_prompt(items[i % len(items)].instruction, rng, k=shots)[0] for i in range(n)]


def sequential(engine: Engine, ps: list[str], max_new: int) -> int:
    """Plain HF generate, one prompt per call, greedy; returns generated tokens."""
    total = 0
    for p in ps:
        ids = torch.tensor([engine.guard.encode(p)])
        with torch.inference_mode():
            out = engine.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new,
                do_sample=False,
                pad_token_id=engine.pad_id,
                eos_token_id=sorted(engine.eos_ids),
            )
        total += out.shape[1] - ids.shape[1]
    return total


def hf_batched(engine: Engine, ps: list[str], max_new: int, batch: int) -> int:
    """Plain HF generate on length-sorted, left-padded batches, greedy; returns generated tokens (to EOS)."""
    encoded = sorted((engine.guard.encode(p) for p in ps), key=len)
    total = 0
    for start in range(0, len(encoded), batch):
        ids, mask = left_pad(encoded[start : start + batch], engine.pad_id)
        with torch.inference_mode():
            out = engine.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new,
                                        do_sample=False, pad_token_id=engine.pad_id,
                                        eos_token_id=sorted(engine.eos_ids))  # fmt: skip
        for row in out[:, ids.shape[1] :].tolist():
            total += next((i for i, t in enumerate(row) if t in engine.eos_ids), len(row))
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--seq-n", type=int, default=8, help="prompts for the (slow) sequential baseline")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--shots", type=int, default=2, help="solved examples per prompt (0: zero-shot prompts)")
    args = ap.parse_args()
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    ps = prompts(args.n, args.shots)
    engine.generate(ps[:2], GenParams(max_new_tokens=4))  # warm-up
    t_seq, n_seq = timed(lambda: sequential(engine, ps[: args.seq_n], args.max_new_tokens))
    t_hf, n_hf = timed(lambda: hf_batched(engine, ps, args.max_new_tokens, args.batch_size))
    params = GenParams(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    t_eng, gens = timed(lambda: engine.generate(ps, params))
    n_eng = sum(g.n_tokens for g in gens)
    seq_rate, hf_rate, eng_rate = n_seq / t_seq, n_hf / t_hf, n_eng / t_eng
    prompt_tokens = sum(g.n_prompt_tokens for g in gens) / len(gens)
    print(f"machine: {machine()}\nmodel: {args.model}, greedy, max_new_tokens={args.max_new_tokens}, "
          f"{prompt_tokens:.0f} prompt tokens per row on average\n")
    print(
        table(
            [
                {
                    "path": f"HF generate, one prompt at a time ({args.seq_n} prompts)",
                    "tokens": n_seq,
                    "seconds": f"{t_seq:.1f}",
                    "tok/s": f"{seq_rate:.1f}",
                    "ratio": "1.0×",
                },
                {
                    "path": f"HF generate, length-sorted batches of {args.batch_size} ({args.n} prompts)",
                    "tokens": n_hf,
                    "seconds": f"{t_hf:.1f}",
                    "tok/s": f"{hf_rate:.1f}",
                    "ratio": f"{hf_rate / seq_rate:.1f}×",
                },
                {
                    "path": f"engine.generate, batch {args.batch_size} ({args.n} prompts)",
                    "tokens": n_eng,
                    "seconds": f"{t_eng:.1f}",
                    "tok/s": f"{eng_rate:.1f}",
                    "ratio": f"{eng_rate / seq_rate:.1f}×",
                },
            ]
        )
    )
    print("BENCH_JSON " + json.dumps({
        "bench": "generate" if args.shots else "generate_zero_shot", "unit": "tok/s", "goal": ">= 25x",
        "baseline": {"label": "HF generate, one prompt at a time", "value": round(seq_rate, 2)},
        "optimized": {"label": f"engine.generate, batch {args.batch_size}, {args.shots}-shot prompts",
                      "value": round(eng_rate, 2)},
        "ratio": round(eng_rate / seq_rate, 2), "model": args.model, "max_new_tokens": args.max_new_tokens,
        "hf_batched": round(hf_rate, 2), "prompt_tokens_mean": round(prompt_tokens, 1), "shots": args.shots,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
