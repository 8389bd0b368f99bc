"""Output head only where read, before/after on one model: generation (prompt pass + decode) and option
scoring, with the head computed at every position (``full_head``, the before) and only where its logits are
read (the engine's default). Then the shortlist head at decode (``engine/head_shortlist.py``) off and on,
greedy and sampled, at batch 1, 8 and 32, interleaved (off, on, off, on) in one process because the machine
is shared; with the proof's fallback rate. Outputs must be equal; the script exits 1 if they are not.

    .venv/bin/python bench/head.py [--model gemma3-270m] [--n 16] [--max-new-tokens 16]
    .venv/bin/python bench/head.py --only-shortlist [--batches 1 8 32] [--decode-tokens 32]
    .venv/bin/python bench/head.py --kernels [--batches 1 8 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table, timed
from generate import prompts
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine import head_shortlist as hs
from selfalign.engine.head import full_head
from selfalign.prompts.format import get_format


def score_requests(n: int) -> list[tuple[str, list[str]]]:
    """Critic-shaped requests: a few-shot prompt, then short answer options (the critic's labels)."""
    f = get_format()
    return [(p + f.completion("Apples are red.") + "\nQuestion: Is the response good?\nAnswer:",
             [" Yes", " No", " Partly"]) for p in prompts(n, shots=2)]  # fmt: skip


def shortlist_rows(
    engine: Engine, batches: list[int], tokens: int, rounds: int, modes: list[str]
) -> tuple[list[dict], bool]:
    """Decode time per step with the shortlist head off and on: short zero-shot prompts (so the prompt pass
    is a small share), ``tokens`` new tokens, no stop string; medians over ``rounds`` interleaved (off, on)
    pairs, and the median of the pairs' ratios (robust to load that changes between pairs)."""
    rows, same = [], True
    for mode, params in (("greedy", GenParams(max_new_tokens=tokens)),
                         ("sampled T=0.8 top-p 0.95", GenParams(max_new_tokens=tokens, temperature=0.8,
                                                                 top_p=0.95, seed=0))):  # fmt: skip
        if mode.split()[0] not in modes:
            continue
        for n in batches:
            ps, p = prompts(n, shots=0), GenParams(**{**params.__dict__, "batch_size": n})
            took: dict[bool, list[float]] = {False: [], True: []}
            outs: dict[bool, list] = {}
            steps, stats = 0, hs.Stats()
            for _ in range(rounds):
                for on in (False, True):
                    hs.reset_stats()
                    with hs.shortlist(on):
                        t = time.perf_counter()
                        gens = engine.generate(ps, p)
                        took[on].append(time.perf_counter() - t)
                    outs[on] = [g.raw for g in gens]
                    steps = max(steps, max(g.n_tokens for g in gens))
                    if on:
                        stats = hs.STATS
            med = statistics.median
            ratio = med(off / on for off, on in zip(took[False], took[True], strict=True))
            equal = outs[False] == outs[True]
            same &= equal
            rows.append({"decode": mode, "batch": n, "steps": steps,
                         "full head ms/step": f"{1e3 * med(took[False]) / steps:.1f}",
                         "shortlist ms/step": f"{1e3 * med(took[True]) / steps:.1f}",
                         "median pair speed-up": f"{ratio:.2f}x",
                         "fallback steps": f"{stats.fallback_steps}/{stats.steps}",
                         "unproven rows": f"{stats.unproven_rows}/{stats.rows}",
                         "candidates/row": f"{stats.candidates / max(1, stats.rows):.1f}",
                         "outputs equal": equal})  # fmt: skip
            print(rows[-1], flush=True)
    return rows, same


def head_alone(engine: Engine, batches: list[int], pairs: int) -> list[dict]:
    """The head step alone on real decode hidden states (the last prompt position of zero-shot prompts):
    full fp32 head + argmax vs the shortlist's greedy proof (+ the full head when it falls back), ``pairs``
    interleaved (full, shortlist) pairs; median times and the median of per-pair ratios."""
    model, rows = engine.model, []
    lm = model.get_output_embeddings()
    copy = hs.applicable(model, GenParams())
    assert copy is not None, "the shortlist head does not apply to this model"
    for n in batches:
        enc = [engine.guard.encode(p) for p in prompts(n, shots=0)]
        width = min(len(e) for e in enc)
        ids = torch.tensor([e[:width] for e in enc])
        with torch.inference_mode():
            h = model.get_decoder()(input_ids=ids).last_hidden_state[:, -1:, :]
            full_t, short_t, ratios, same = [], [], [], True
            for _ in range(pairs):
                t0 = time.perf_counter()
                want = lm(h)[:, -1, :].argmax(dim=-1)
                t1 = time.perf_counter()
                got = hs.greedy(copy, h[:, -1, :], copy.approx(h[:, -1, :]))
                if got is None:
                    got = lm(h)[:, -1, :].argmax(dim=-1)
                t2 = time.perf_counter()
                same &= torch.equal(want, got)
                full_t.append(t1 - t0)
                short_t.append(t2 - t1)
                ratios.append((t1 - t0) / (t2 - t1))
        med = statistics.median
        rows.append({"head alone (greedy)": f"batch {n}", "full fp32 ms": f"{1e3 * med(full_t):.1f}",
                     "bf16 + proof ms": f"{1e3 * med(short_t):.1f}", "median ratio": f"{med(ratios):.2f}x",
                     "picks equal": same})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def kernels(batches: list[int], repeat: int = 5) -> list[dict]:
    """Gemma 3 270M's head shape (262,144 x 640) through each low-precision matmul torch has on this CPU,
    random weights, best of ``repeat``: which copy is actually cheaper to read here."""
    w = torch.randn(262144, 640) * 0.03
    wb, wh = w.bfloat16(), w.half()
    scale = w.abs().amax(1) / 127
    q = torch.round(w / scale[:, None]).to(torch.int8)
    rows = []
    for n in batches:
        h = torch.randn(n, 640)
        hb, q_h = h.bfloat16(), torch.round(h / (h.abs().amax(1, keepdim=True) / 127)).to(torch.int8)
        wide = q_h.repeat(17 // n + 1, 1)[: max(n, 17)]  # torch._int_mm wants more than 16 rows
        work = {"fp32": lambda h=h: F.linear(h, w),
                "bf16": lambda hb=hb: F.linear(hb, wb),
                "fp16": lambda h=h: F.linear(h.half(), wh),
                "int8 weights, bf16 act. (_weight_int8pack_mm)":
                    lambda hb=hb: torch.ops.aten._weight_int8pack_mm(hb, q, scale.bfloat16()),
                "int8 x int8 (_int_mm)": lambda wide=wide: torch._int_mm(wide, q.t())}  # fmt: skip
        row: dict = {"batch": n}
        for name, fn in work.items():
            fn()
            row[f"{name} ms"] = f"{1e3 * timed(fn, repeat)[0]:.1f}"
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--decode-tokens", type=int, default=32)
    ap.add_argument("--only-shortlist", action="store_true", help="only the shortlist head's rows")
    ap.add_argument("--pairs", type=int, default=15, help="interleaved pairs for the head-alone rows")
    ap.add_argument("--modes", nargs="+", default=["greedy", "sampled"])
    ap.add_argument("--kernels", action="store_true", help="only the head-shaped matmul per precision")
    args = ap.parse_args()
    if args.kernels:
        print(f"# {machine()}; load {os.getloadavg()}")
        print(table(kernels(args.batches)))
        return 0
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    engine.progress = False
    if args.only_shortlist:
        load = os.getloadavg()
        alone = head_alone(engine, args.batches, args.pairs) if args.pairs else []
        rows, same = shortlist_rows(engine, args.batches, args.decode_tokens, args.repeat, args.modes)
        print(f"# {args.model}; {machine()}; load before {load}, after {os.getloadavg()}")
        if alone:
            print(table(alone))
        print(table(rows))
        same &= all(r["picks equal"] for r in alone)
        out = {"bench": "head_shortlist", "unit": "ms/step", "goal": "info", "model": args.model,
               "outputs_equal": same, "head_alone": alone, "rows": rows}  # fmt: skip
        print("BENCH_JSON " + json.dumps(out))
        return 0 if same else 1
    params = GenParams(max_new_tokens=args.max_new_tokens, batch_size=args.n)
    gen_prompts, requests = prompts(args.n, shots=2), score_requests(args.n)

    def generate() -> list:
        with hs.shortlist(False):  # logits-where-read alone (the shortlist head: --only-shortlist)
            return [g.raw for g in engine.generate(gen_prompts, params)]

    def score() -> list:
        return [[s.token_logprobs for s in opts] for opts in engine.logprobs(requests)]

    work = {"generate (2-shot prompts, greedy)": generate, "score 3 options (critic shape)": score}
    rows, same = [], True
    for name, fn in work.items():
        fn()  # warm-up
        after, out_after = timed(fn, args.repeat)
        with full_head():
            before, out_before = timed(fn, args.repeat)
        equal = out_after == out_before if name.startswith("generate") else all(
            abs(a - b) < 1e-4 for x, y in zip(out_after, out_before, strict=True)
            for s, t in zip(x, y, strict=True) for a, b in zip(s, t, strict=True))  # fmt: skip
        same &= equal
        rows.append({"work": name, "full head s": f"{before:.2f}", "head where read s": f"{after:.2f}",
                     "speed-up": f"{before / after:.2f}x", "outputs equal": equal})  # fmt: skip
    print(f"# {args.model}, n={args.n}; {machine()}")
    print(table(rows))
    total_before = sum(float(r["full head s"]) for r in rows)
    total_after = sum(float(r["head where read s"]) for r in rows)
    print("BENCH_JSON " + json.dumps({
        "bench": "head", "unit": "s", "goal": "info", "model": args.model, "outputs_equal": same,
        "baseline": {"label": "output head at every position", "value": round(total_before, 2)},
        "optimized": {"label": "output head only where read", "value": round(total_after, 2)},
        "ratio": round(total_after / total_before, 3), "rows": rows}))  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
