"""bench/compare_pooled.py: two runs' seed-pooled policies on the same items, also where run B names them
otherwise (an ablation evaluated beside a finished run: dpo-s0.. against its sft-s0..)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench_module import bench_module


def _run(root: Path, passed: dict[str, list[bool]]) -> Path:
    (root / "evaluate").mkdir(parents=True)
    rows = [{"id": f"i{k}", "condition": c, "passed": p}
            for c, ps in passed.items() for k, p in enumerate(ps)]  # fmt: skip
    (root / "evaluate" / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_run_b_policies_under_other_names_are_paired_by_order(tmp_path, monkeypatch, capsys):
    t, f = True, False
    base = {"base_zero_shot": [f, f, f, f], "base_few_shot": [t, f, f, f]}
    a = _run(tmp_path / "a", {**base, "dpo-s0": [t, t, f, f], "dpo-s1": [t, t, t, f]})
    b = _run(tmp_path / "b", {**base, "sft-s0": [t, f, f, f], "sft-s1": [t, f, f, f]})
    argv = ["compare_pooled.py", str(a), str(b), "--seeds", "dpo-s0,dpo-s1", "--n-boot", "200"]
    monkeypatch.setattr(sys, "argv", [*argv, "--seeds-b", "sft-s0,sft-s1"])
    bench_module("compare_pooled").main()
    out = capsys.readouterr().out
    assert "62.5% vs" in out and "25.0%" in out  # (2 + 3) / 8 against (1 + 1) / 8
    assert "difference +37.5 pts" in out and "items better / worse: 2 / 0" in out
    monkeypatch.setattr(sys, "argv", [*argv, "--seeds-b", "sft-s0"])
    with pytest.raises(SystemExit, match="--seeds names 2 conditions, --seeds-b 1"):
        bench_module("compare_pooled").main()
