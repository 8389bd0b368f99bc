"""Kill -9 anywhere, resume, and end with the same files as an uninterrupted run with the same seed.

One run dir is killed again and again: process i SIGKILLs itself at its (3 + i)th write (an ``os.replace``
committing a file, or a ``torch.save`` of a checkpoint part), alternately just before and just after it,
then the next process resumes. Growing the budget guarantees progress (a stage whose re-entry needs k writes
finishes once 3 + i > k); the kill points land in every stage, training checkpoints included.

Minutes, not seconds (every process pays the imports), so opt in: ``SELFALIGN_KILL_ANYWHERE=1 pytest
tests/test_kill_anywhere.py``. docs/RELIABILITY.md records the last result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
MAX_PROCESSES = 60

pytestmark = pytest.mark.skipif(
    os.environ.get("SELFALIGN_KILL_ANYWHERE") != "1", reason="minutes long: set SELFALIGN_KILL_ANYWHERE=1"
)

# Files allowed to differ, each for a reason that is not lost work: they record time or the process.
# run.log: each process appends its own (timestamped) lines, so a killed-and-resumed run has more of them.
EXCEPTED_NAMES = ("manifest.json", ".lock", "report.html", "metrics.jsonl", ".key", "run.log")  # .key: below
EXCEPTED_PREFIXES = ("calibration-", "events.out.tfevents")  # scorer seconds; TensorBoard wall times
EXCEPTED_PARTS = ("checkpoints",)  # Trainer internals (trainer_state.json holds timings); not outputs
# train_loss averages only the steps run since the last resume, and the card names absolute paths; the keys
# of the stages after a training stage hash its adapter dir, card included.
EXCEPTED_CARDS = ("adapter/README.md",)

KILLER = """
import os, signal, sys
budget, when = int(sys.argv[1]), sys.argv[2]
writes = 0

def counted(real):
    def wrapper(*args, **kwargs):
        global writes
        writes += 1
        if writes == budget and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = real(*args, **kwargs)
        if writes == budget and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    return wrapper

import torch
os.replace = counted(os.replace)
torch.save = counted(torch.save)
from selfalign.cli import run
sys.exit(run(sys.argv[3:]))
"""


def _run(run_dir: Path, budget: int, when: str) -> int:
    args = [str(budget), when, "run", str(TINY), "--run-dir", str(run_dir), "--quiet"]
    done = subprocess.run([sys.executable, "-c", KILLER, *args], env=ENV, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-2000:]
    return done.returncode


def _compared(run_dir: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir)
        if not p.is_file() or p.name in EXCEPTED_NAMES or p.name.startswith(EXCEPTED_PREFIXES):
            continue
        if any(part in EXCEPTED_PARTS for part in rel.parts) or rel.as_posix().endswith(EXCEPTED_CARDS):
            continue
        out[rel.as_posix()] = _measured_less(p) if p.name == "results.json" else p.read_bytes()
    return out


def _in_progress(run_dir: Path) -> str:
    """The first stage without a complete manifest ("preflight" before any; "report" after all)."""
    stages = ("instructions", "split", "responses", "critique", "sft", "pairs", "dpo", "evaluate")
    for stage in stages:
        try:
            if json.loads((run_dir / stage / "manifest.json").read_text()).get("complete"):
                continue
        except (OSError, ValueError):
            pass
        return stage if (run_dir / stage).exists() else ("preflight" if stage == "instructions" else stage)
    return "report"


def _measured_less(results: Path) -> bytes:
    """evaluate/results.json without what is measured, not computed: memory (RSS) and the adapters' paths."""
    data = json.loads(results.read_text("utf-8"))
    return json.dumps({k: v for k, v in data.items() if k not in ("memory", "adapters")}).encode()


def test_kill_9_anywhere_then_resume_gives_the_clean_run_files(tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert _run(clean, 0, "never") == 0
    killed_in: list[str] = []  # the stage each kill interrupted
    for i in range(MAX_PROCESSES):
        if _run(killed, 3 + i, ("before", "after")[i % 2]) == 0:
            break
        killed_in.append(_in_progress(killed))
    else:
        pytest.fail(f"no finished run after {MAX_PROCESSES} processes")
    print(f"kill points: {len(killed_in)}: {', '.join(killed_in)}")
    assert not [p for p in killed.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    expected, got = _compared(clean), _compared(killed)
    assert sorted(got) == sorted(expected)
    assert [k for k in expected if got[k] != expected[k]] == []
    assert len(killed_in) >= 10 and {"responses", "sft", "dpo", "evaluate"} <= set(killed_in)
