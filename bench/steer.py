"""Steered vs unsteered sampling on a real model: per-type pass rate, steer cost per token, build times.

Each constraint type gets ``--per-type`` rows (params from its ``sample_params``, bound to a stand-in
instruction, the description attached as the pipeline does); ``--multi`` rows hold 2-3 compatible
constraints (``augment``). Every row is sampled unsteered and steered (same prompt, same seed) and
checked. Prints one JSON object (docs/CONSTRAINTS.md quotes it).

    python bench/steer.py --model gemma3-270m --per-type 2 --multi 10 --max-new 96
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict

from selfalign.constraints.augment import attach, augment
from selfalign.constraints.check import check_all
from selfalign.constraints.registry import REGISTRY, all_types
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.types import GenParams
from selfalign.prompts.format import get_format
from selfalign.steer import row as steer_row

INSTRUCTIONS = (
    "Describe a quiet street at night",
    "Explain why leaves change colour in autumn",
    "Give advice to someone starting to run",
    "Write a short note to a neighbour about a lost cat",
)


def rows(per_type: int, multi: int, seed: int, types: list[str]) -> list[tuple[str, list[dict]]]:
    rng = random.Random(seed)
    out = []
    for name in types or all_types():
        for i in range(per_type):
            instruction = INSTRUCTIONS[i % len(INSTRUCTIONS)]
            params = REGISTRY[name].bind(REGISTRY[name].sample_params(rng), instruction)
            if params is None:
                continue
            cs = [{"type": name, "params": params}]
            out.append((attach(instruction, cs, rng), cs))
    for i in range(multi):
        out.append(augment(INSTRUCTIONS[i % len(INSTRUCTIONS)], rng, rng.choice([2, 3]), all_types()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--per-type", type=int, default=2)
    ap.add_argument("--multi", type=int, default=10)
    ap.add_argument("--max-new", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--types", nargs="*", default=[], help="only these types (default: all)")
    args = ap.parse_args()
    engine = Engine.load(ModelSpec(ref=args.model, sentinels=False))
    engine.progress = False
    fmt = get_format()
    todo = rows(args.per_type, args.multi, args.seed, args.types)
    prompts = [fmt.prompt(text) for text, _ in todo]
    params = GenParams(max_new_tokens=args.max_new, temperature=0.8, top_p=0.95, seed=args.seed,
                       stop=fmt.stop, batch_size=32)  # fmt: skip
    t = time.perf_counter()
    width = int(engine.model.get_input_embeddings().num_embeddings)
    from selfalign.steer import table_for

    table = table_for(engine.tokenizer, set(engine.guard.control), width)
    table_s = time.perf_counter() - t

    import llguidance

    from selfalign.steer.grammar import json_grammar

    t = time.perf_counter()
    llguidance.LLMatcher(table.ll_tokenizer, json_grammar(("answer", "reason", "steps")))
    json_compile_ms = 1000 * (time.perf_counter() - t)
    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    constrain = steer_row.Steer.constrain

    def timed(self, generated, scores):  # the steer's own cost per token, per row
        t0 = time.perf_counter()
        try:
            return constrain(self, generated, scores)
        finally:
            key = "+".join(sorted(type(p).__name__ for p in self.parts))
            spent[key] += time.perf_counter() - t0
            calls[key] += 1

    steer_row.Steer.constrain = timed  # type: ignore[method-assign]
    t = time.perf_counter()
    plain = engine.generate(prompts, params)
    plain_s = time.perf_counter() - t
    t = time.perf_counter()
    steered = engine.generate(prompts, params, constraints=[cs for _, cs in todo])
    steered_s = time.perf_counter() - t

    per_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    samples = []
    for (_text, cs), p, s in zip(todo, plain, steered, strict=True):
        key = cs[0]["type"] if len(cs) == 1 else f"multi-{len(cs)}"
        ok_p = all(r.passed for r in check_all(p.text, cs))
        ok_s = s.stop_reason != "dead_end" and all(r.passed for r in check_all(s.text, cs))
        per_type[key]["n"] += 1
        per_type[key]["plain_pass"] += ok_p
        per_type[key]["steered_pass"] += ok_s
        per_type[key]["dead_end"] += s.stop_reason == "dead_end"
        per_type[key]["length"] += s.stop_reason == "length"
        samples.append({"constraints": cs, "plain": p.text[:300], "steered": s.text[:300], "ok": ok_s,
                        "stop": s.stop_reason})  # fmt: skip
    ms = {k: round(1000 * spent[k] / calls[k], 2) for k in sorted(spent)}
    print(json.dumps({
        "model": args.model, "rows": len(todo), "max_new_tokens": args.max_new,
        "table_build_s": round(table_s, 1), "plain_generate_s": round(plain_s, 1),
        "steered_generate_s": round(steered_s, 1),
        "json_grammar_compile_ms": round(json_compile_ms, 1),
        "steer_ms_per_token": {"all": round(1000 * sum(spent.values()) / sum(calls.values()), 2), **ms},
        "per_type": per_type, "samples": samples,
    }, indent=1, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
