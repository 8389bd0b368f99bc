"""How long the CLI's quick answers take (issue 28 item 6): ``--help``, ``--version``, a usage error,
``config show`` and ``data validate``, each in a fresh interpreter, as a user waits for them.

    python bench/cli_latency.py [--repeat 5] [--before-src DIR]

Each command runs ``--repeat`` times, interleaved with its baseline (A, B, A, B: shared-machine noise hits
both alike); the median wall time is reported. The baseline is the same command with torch, transformers and
TRL imported first — what ``selfalign.cli`` did before issue 28 — or, with ``--before-src``, an older
checkout's ``src/`` (that code as it was). The row's value is the slowest command's median; the goal is
under one second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = "import sys; sys.argv[0] = 'selfalign'; from selfalign.cli import main; main()"
EAGER = "import torch, transformers, trl; " + CLI  # the heavy stack first, as before issue 28


def commands(data: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "--version": ["--version"],
        "usage error": ["run", "--bogus"],
        "config show": ["config", "show", str(ROOT / "configs" / "tiny.yaml")],
        "data validate": ["data", "validate", str(data), "--kind", "sft"],
    }


def wall(code: str, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before-src", type=Path, help="an older checkout's src/ to time as the baseline")
    a = ap.parse_args()
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    before_env = {**env, "PYTHONPATH": str(a.before_src)} if a.before_src else env
    before_code = CLI if a.before_src else EAGER
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sft.jsonl"
        data.write_text("".join(json.dumps({"prompt": f"Q{i}", "completion": " A"}) + "\n" for i in range(3)))
        after: dict[str, list[float]] = {}
        before: dict[str, list[float]] = {}
        for name, args in commands(data).items():
            for _ in range(a.repeat):
                before.setdefault(name, []).append(wall(before_code, args, before_env))
                after.setdefault(name, []).append(wall(CLI, args, env))
    med_after = {k: round(statistics.median(v), 3) for k, v in after.items()}
    med_before = {k: round(statistics.median(v), 3) for k, v in before.items()}
    for name in med_after:
        print(f"{name:14s} before {med_before[name]:6.2f} s   now {med_after[name]:6.2f} s")
    slow_after, slow_before = max(med_after.values()), max(med_before.values())
    label = f"src at {a.before_src}" if a.before_src else "torch+transformers+trl imported first (pre-#28)"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    row = {
        "bench": "cli_latency", "unit": "s", "goal": "<= 1 s",
        "baseline": {"label": f"slowest quick command, {label}", "value": slow_before},
        "optimized": {"label": "slowest of --help/--version/usage error/config show/data validate",
                      "value": slow_after},
        "ratio": round(slow_after / slow_before, 3), "median_of": a.repeat,
        "before": med_before, "after": med_after, "load_1min": round(load, 2),
    }  # fmt: skip
    print("BENCH_JSON " + json.dumps(row))


if __name__ == "__main__":
    main()
