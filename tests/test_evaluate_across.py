"""``selfalign compare``: policies of several runs against one baseline on the same items, and pooled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from selfalign.cli import run as cli
from selfalign.errors import ConfigError, DataError
from selfalign.evaluate.across import compare_runs, markdown, sign_flip_p

N = 40


def _run(
    root: Path, conditions: dict[str, list[bool | None]], types: str = "max_words", n: int = 50,
    max_new_tokens: int | None = None,
) -> Path:  # fmt: skip
    (root / "evaluate").mkdir(parents=True)
    check = {"type": types, "params": {"n": n}}
    rows = [{"id": f"i{k}", "condition": name, "passed": p, "checks": [{**check, "passed": p}]}
            for name, passed in conditions.items() for k, p in enumerate(passed)]  # fmt: skip
    (root / "evaluate" / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if max_new_tokens is not None:  # as the pipeline records it
        key = {"key": "k", "parts": {"config": {"max_new_tokens": max_new_tokens}}}
        (root / "evaluate" / ".key").write_text(json.dumps(key))
    return root


def _passing(*ranges: range) -> list[bool]:
    """Outcomes over N items: the items in ``ranges`` pass."""
    hit = {k for r in ranges for k in r}
    return [k in hit for k in range(N)]


BASE = _passing(range(6))  # items 0-5 pass


def _pattern(wins: int, losses: int) -> tuple[list[bool], list[bool]]:
    """(BASE, a policy) with ``losses`` of the base's passes lost and ``wins`` items from 6 on won."""
    assert losses <= 6
    return BASE, _passing(range(6 - losses), range(6, 6 + wins))


def test_each_policy_against_the_baseline_and_the_pool(tmp_path):
    base, a = _pattern(8, 0)
    _, b = _pattern(3, 1)
    _, c = _pattern(6, 0)
    one = _run(tmp_path / "one", {"base_few_shot": base, "sft": a})
    two = _run(tmp_path / "two", {"base_few_shot": base, "sft": b})
    three = _run(tmp_path / "three", {"base_few_shot": base, "sft": c})
    res = compare_runs(f"{one}:base_few_shot", [f"{one}:sft", f"{two}:sft", f"{three}:sft"], n_perm=4000)
    assert res["n"] == N and res["baseline_passed"] == 6
    rows = res["comparisons"]
    assert [(r["mcnemar"]["b10"], r["mcnemar"]["b01"]) for r in rows] == [(8, 0), (3, 1), (6, 0)]
    assert [round(r["lift"]["estimate"] * N) for r in rows] == [8, 2, 6]
    assert rows[1]["p_value"] == pytest.approx(0.625) and rows[0]["p_bh"] >= rows[0]["p_value"]
    pooled = res["pooled"]
    assert pooled["lift"] == pytest.approx(16 / 3 / N) and pooled["mean_passed"] == pytest.approx(34 / 3)
    assert [r["b"]["passed"] for r in rows] == [14, 8, 12]
    assert pooled["ci_low"] < pooled["lift"] < pooled["ci_high"] and pooled["sign_flip_p"] < 0.05
    spread = res["across_policies"]
    lifts = np.array([8, 2, 6]) / N
    t = lifts.mean() / (lifts.std(ddof=1) / np.sqrt(3))
    assert spread["t"] == pytest.approx(t) and spread["df"] == 2 and 0.05 < spread["p_value"] < 1
    md = markdown(res)
    assert f"| {two}:sft | 8/{N} |" in md and "t(2) =" in md and "sign-flip" in md


def test_sign_flip_p_is_one_for_no_difference_and_small_for_a_clear_one():
    assert sign_flip_p(np.zeros(30), n_perm=500) == 1.0
    assert sign_flip_p(np.ones(30), n_perm=500) == pytest.approx(1 / 501)
    mixed = np.array([1.0, -1.0] * 15)
    assert sign_flip_p(mixed, n_perm=2000) > 0.5


def test_runs_on_other_items_or_other_constraints_are_refused(tmp_path):
    base, pol = _pattern(3, 1)
    ok = _run(tmp_path / "ok", {"base_few_shot": base, "sft": pol})
    fewer = _run(tmp_path / "fewer", {"sft": pol[:-1]})
    other = _run(tmp_path / "other", {"sft": pol}, types="min_words")
    with pytest.raises(ConfigError, match=r"not evaluated on the same held-out items \(item i39"):
        compare_runs(f"{ok}:base_few_shot", [f"{fewer}:sft"])
    with pytest.raises(ConfigError, match="item i0 has other constraints"):
        compare_runs(f"{ok}:base_few_shot", [f"{other}:sft"])
    # The same type with other parameters is another item; another answer budget another comparison.
    other_n = _run(tmp_path / "other_n", {"sft": pol}, n=60)
    with pytest.raises(ConfigError, match="item i0 has other constraints"):
        compare_runs(f"{ok}:base_few_shot", [f"{other_n}:sft"])
    short = _run(tmp_path / "short", {"base_few_shot": base, "sft": pol}, max_new_tokens=128)
    shorter = _run(tmp_path / "shorter", {"sft": pol}, max_new_tokens=96)
    with pytest.raises(ConfigError, match=r"max_new_tokens 96.*with 128"):
        compare_runs(f"{short}:base_few_shot", [f"{shorter}:sft"])
    assert compare_runs(f"{short}:base_few_shot", [f"{short}:sft"], n_perm=100)["n"] == N
    with pytest.raises(ConfigError, match=r"no condition 'dpo' \(has: base_few_shot, sft\)"):
        compare_runs(f"{ok}:base_few_shot", [f"{ok}:dpo"])
    with pytest.raises(ConfigError, match="expected RUN_DIR:CONDITION"):
        compare_runs(f"{ok}:base_few_shot", [str(ok)])
    with pytest.raises(ConfigError, match="no such file"):
        compare_runs(f"{ok}:base_few_shot", [f"{tmp_path / 'missing'}:sft"])


def test_a_bad_record_names_file_line_and_field(tmp_path):
    base, pol = _pattern(3, 1)
    run = _run(tmp_path / "r", {"base_few_shot": base, "sft": pol})
    path = run / "evaluate" / "items.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = json.dumps({"id": "i4", "condition": "base_few_shot", "passed": "yes"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        compare_runs(f"{run}:base_few_shot", [f"{run}:sft"])
    assert "items.jsonl" in str(e.value) and ":5" in str(e.value) and "passed" in str(e.value)


def test_cli_prints_and_writes_the_tables_or_fails_in_one_line(tmp_path, capsys):
    base, pol = _pattern(6, 0)
    run = _run(tmp_path / "r", {"base_few_shot": base, "sft": pol})
    md, js = tmp_path / "cmp.md", tmp_path / "cmp.json"
    assert cli(["compare", f"{run}:sft", "--baseline", f"{run}:base_few_shot", "--markdown", str(md),
                "--json", str(js)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| 6/0 |" in out and md.read_text() == out
    assert json.loads(js.read_text())["comparisons"][0]["mcnemar"]["b10"] == 6
    assert cli(["compare", f"{run}:sft", "--baseline", f"{run}:nope"]) == 1
    err = capsys.readouterr().err
    assert "no condition 'nope'" in err and err.count("\n") == 1
