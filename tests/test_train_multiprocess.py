"""SFT under ``accelerate launch`` with two CPU processes (gloo) trains what one process trains.

The same 8 examples make each step in both runs (one process: batch 8; two: batch 4 each, gradients
all-reduced), all of one length (10 completion tokens: a per-process mean of means then equals the global
mean), so the adapter has the same tensors and shapes and the loss curve matches within a stated tolerance.
Opt-in (``SELFALIGN_MULTIPROCESS=1``; CI runs it): three training processes take about a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.skipif(
    os.environ.get("SELFALIGN_MULTIPROCESS") != "1", reason="opt-in: SELFALIGN_MULTIPROCESS=1"
)
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "mp_sft.py"
CONFIG = ROOT / "configs" / "accelerate" / "cpu-2proc.yaml"


def run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]


def losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text("utf-8").splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_two_gloo_processes_train_what_one_process_trains(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run([sys.executable, str(SCRIPT), str(one), "8"])
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIG)]
    run([*launch, str(SCRIPT), str(two), "4"])
    a, b = losses(one), losses(two)
    assert len(a) == len(b) == 6  # rank 0 alone logs (no duplicated lines)
    assert a[-1] < a[0] - 0.2  # it learned: the comparison is between two moving curves
    # Measured: at most 0.24 % apart (the curve falls 3.3 %). Not float error: step 1 (same weights) already
    # differs by 0.15 %, so the two-process batches are not exactly the one-process batch (docs/SCALING.md).
    assert max(abs(x - y) / x for x, y in zip(a, b, strict=True)) < 5e-3, (a, b)
    wa, wb = (load_file(d / "adapter" / "adapter_model.safetensors") for d in (one, two))
    assert {k: v.shape for k, v in wa.items()} == {k: v.shape for k, v in wb.items()}
    # Measured 0.11 of the adapter's norm apart: Adam's first steps move each weight by about ±lr whatever
    # its gradient's size, and the first batches differ (above). A wrong rank's or an untrained adapter is
    # far outside this.
    diff = sum(float((wa[k] - wb[k]).norm() ** 2) for k in wa) ** 0.5
    assert diff / sum(float(wa[k].norm() ** 2) for k in wa) ** 0.5 < 0.2
    cfg = [json.loads((d / "adapter" / "adapter_config.json").read_text("utf-8")) for d in (one, two)]
    assert cfg[0]["r"] == cfg[1]["r"] == 4
    assert (two / "adapter" / "README.md").is_file() and not list(two.glob(".adapter.partial*"))
