"""The one-command pipeline on a tiny random model: outputs, cache hits/misses, gates, kill -9 resume."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from selfalign.errors import GateError
from selfalign.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _config(tmp_path: Path, **overrides: dict) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    for section, values in overrides.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _statuses(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {s["name"]: s["status"] for s in manifest["stages"]}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    run_pipeline(TINY, run_dir, progress=False)
    return run_dir


def test_full_run_leaves_report_results_and_manifest(full_run):
    assert (full_run / "report.html").stat().st_size > 1000
    results = json.loads((full_run / "evaluate" / "results.json").read_text())
    assert {"base_zero_shot", "base_few_shot", "sft", "dpo"} <= set(results["conditions"])
    manifest = json.loads((full_run / "manifest.json").read_text())
    assert [s["name"] for s in manifest["stages"]] == [
        "instructions", "split", "responses", "critique", "sft", "pairs", "dpo", "evaluate",
    ]  # fmt: skip
    for stage in manifest["stages"]:
        assert {"wall_seconds", "tokens_generated", "cpu_hours", "cost", "key"} <= set(stage)
    assert manifest["provenance"]["model_ref"] == "tiny-random-llama"
    assert all(g["overridden"] for g in manifest["gates"] if not g["passed"])  # tiny.yaml overrides gates


def test_results_markdown_carries_the_headline_rounds_and_stage_times(full_run, tmp_path):
    from selfalign.report.markdown import results_markdown

    results = json.loads((full_run / "evaluate" / "results.json").read_text())
    head = results["headline"]
    assert head["stronger_base"] in ("base_zero_shot", "base_few_shot")
    md = results_markdown(full_run)
    for title in ("## Headline", "## Conditions", "## Per round", "## Pass rate per constraint type",
                  "## Rejection sampler yield", "## Wall time per stage"):  # fmt: skip
        assert title in md
    assert head["comparisons"]  # tiny.yaml constrains half the held-out items
    for c in head["comparisons"]:  # every comparison is a row with its exact p and BH q
        assert f"| {c['condition']} | {c['subset']} | {c['n']} |" in md
    manifest = json.loads((full_run / "manifest.json").read_text())
    total = sum(s["wall_seconds"] for s in manifest["stages"])
    assert f"**{total:.0f}**" in md
    assert "| dpo |" in md and "sft/adapter" in md  # DPO round 1's reference is the SFT adapter


def test_rerun_is_all_cache_hits(full_run):
    run_pipeline(TINY, full_run, progress=False)
    assert set(_statuses(full_run).values()) == {"cached"}


def test_damaged_cached_outputs_are_rerun_and_say_why(full_run, tmp_path, caplog):
    run = full_run  # in place (a copy's cards would name other paths); the rerun restores it
    saved = tmp_path / "adapter"
    shutil.copytree(run / "sft" / "adapter", saved)
    test_jsonl = run / "split" / "test.jsonl"
    original = test_jsonl.read_bytes()
    test_jsonl.write_text('{"id": "bogus"}\n')
    shutil.rmtree(run / "sft" / "adapter")
    with caplog.at_level(logging.WARNING, logger="selfalign"):
        run_pipeline(TINY, run, progress=False)
    manifest = json.loads((run / "manifest.json").read_text())
    entry = {s["name"]: s for s in manifest["stages"]}
    assert "split/test.jsonl) changed" in entry["split"]["rerun_reason"]
    assert "sft/adapter) is missing" in entry["sft"]["rerun_reason"]
    assert "rerunning from scratch" in caplog.text
    assert test_jsonl.read_bytes() == original  # the rerun made the same split again...
    assert entry["responses"]["status"] == entry["critique"]["status"] == "cached"  # ...so these stay cached
    assert entry["split"]["status"] == entry["sft"]["status"] == "done"
    for name in ("adapter_model.safetensors", "adapter_config.json", "README.md"):
        assert (run / "sft" / "adapter" / name).read_bytes() == (saved / name).read_bytes(), name  # the same
    assert {entry[s]["status"] for s in ("pairs", "dpo", "evaluate")} == {"cached"}  # same inputs, same keys
    assert "bogus" not in (run / "report.html").read_text()


def test_a_changed_input_changes_the_consumer_key_through_its_hash(tmp_path):
    from selfalign.pipeline import Run, _stage_key, plan

    run = Run(TINY, tmp_path / "r")
    step = next(s for s in plan(1) if s.name == "responses")
    keys = {"instructions": "k1", "split": "k2"}
    same = _stage_key(run, step, keys, {"split": {"train": "a", "test": "b"}})
    assert same == _stage_key(run, step, keys, {"split": {"train": "a", "test": "b"}})
    assert same != _stage_key(run, step, keys, {"split": {"train": "a", "test": "changed"}})


def test_a_run_on_another_device_does_not_reuse_cpu_outputs(tmp_path, monkeypatch):
    # device: auto is fp32 on CPU and bf16 on CUDA: the same config on a GPU must not reuse CPU stages.
    from selfalign.pipeline import Run, _stage_key, plan

    run = Run(TINY, tmp_path / "r")
    step = next(s for s in plan(1) if s.name == "instructions")
    on_cpu = _stage_key(run, step, {}, {})
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert _stage_key(run, step, {}, {}) != on_cpu


def test_changing_one_stage_reruns_it_and_later_stages_only(full_run, tmp_path):
    cfg = _config(tmp_path, evaluate={"n_boot": 150})
    run_pipeline(cfg, full_run, progress=False)
    status = _statuses(full_run)
    assert status["evaluate"] == "done"
    assert {status[s] for s in ("instructions", "split", "responses", "critique", "sft", "pairs", "dpo")} == {
        "cached"
    }


def test_until_stops_after_the_named_stage(tmp_path):
    run_pipeline(TINY, tmp_path / "r", progress=False, until="split")
    assert list(_statuses(tmp_path / "r")) == ["instructions", "split"]


def test_failing_gate_stops_the_run_and_is_recorded(tmp_path):
    cfg = _config(tmp_path, gates={"override": False})
    with pytest.raises(GateError, match="gate truncation failed after responses"):
        run_pipeline(cfg, tmp_path / "r", progress=False, until="responses")
    gates = json.loads((tmp_path / "r" / "manifest.json").read_text())["gates"]
    assert any(g["name"] == "truncation" and not g["passed"] and not g["overridden"] for g in gates)


def _run_cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "selfalign.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def test_kill_9_then_rerun_gives_the_same_data_as_an_uninterrupted_run(tmp_path):
    cfg = _config(tmp_path, responses={"batch_size": 2})
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    run_pipeline(cfg, clean, progress=False, until="responses")
    proc = _run_cli(["run", str(cfg), "--run-dir", str(killed), "--until", "responses", "--quiet"])
    shards = killed / "responses"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list(shards.glob("*.shards/shard-*.jsonl"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_pipeline(cfg, killed, progress=False, until="responses")
    for rel in ("instructions/instructions.jsonl", "split/train.jsonl", "split/test.jsonl",
                "responses/responses.jsonl"):  # fmt: skip
        assert (killed / rel).read_bytes() == (clean / rel).read_bytes(), rel


def test_repair_edits_failing_samples_until_every_check_passes_and_sft_trains_on_them(tmp_path):
    """``critique.repair``: a failing constrained sample is edited by code, re-checked, and trained on."""
    from selfalign.constraints import check_all
    from selfalign.constraints.registry import HELD_OUT_TYPES

    cfg = _config(tmp_path, run={"rounds": 0}, critique={"repair": True, "repair_draws": 2})
    run_dir = tmp_path / "run"
    run_pipeline(cfg, run_dir, progress=False, until="sft")
    accepted = [json.loads(x) for x in (run_dir / "critique" / "accepted.jsonl").read_text().splitlines()]
    redrawn = [r for r in accepted if "redrawn_from" in (r.get("gen") or {}).get("repaired", {})]
    assert redrawn and all("-aug" in r["id"] for r in redrawn)
    for r in redrawn:  # a fresh demand on the plain instruction, and the answer edited to meet it
        assert r["instruction"] != r["gen"]["repaired"]["redrawn_from"]
        assert all(c["type"] not in HELD_OUT_TYPES for c in r["constraints"])
    fixed = [r for r in accepted if "repaired" in (r.get("gen") or {}) and r not in redrawn]
    assert fixed and all(r["id"].endswith("-fix") for r in fixed)
    for r in fixed:
        assert r["gen"]["repaired"]["types"], r["id"]  # something was edited
        assert r["text"] != r["gen"]["repaired"]["sampled_text"]
        assert not all(c.passed for c in check_all(r["gen"]["repaired"]["sampled_text"], r["constraints"]))
        assert all(c.passed for c in check_all(r["text"], r["constraints"]))
    counts = json.loads((run_dir / "critique" / "manifest.json").read_text())["counts"]
    assert counts["repaired"] == len(fixed) and counts["redrawn"] == len(redrawn)
    assert sum(counts["repaired_edits"].values()) >= len(fixed)
    assert sum(counts["redrawn_edits"].values()) >= len(redrawn)
    sft_rows = (run_dir / "sft" / "sft.jsonl").read_text()
    assert json.dumps(fixed[0]["text"])[1:-1][:40] in sft_rows


def test_sft_only_run_trains_on_back_translated_answers_and_evaluates_sft(tmp_path):
    """``rounds: 0`` stops after SFT; ``critique.back_translate`` adds answers under constraints they pass."""
    from selfalign.constraints import check_all

    cfg = _config(tmp_path, run={"rounds": 0}, critique={"back_translate": 3})
    run_dir = tmp_path / "run"
    run_pipeline(cfg, run_dir, progress=False)
    assert list(_statuses(run_dir)) == ["instructions", "split", "responses", "critique", "sft", "evaluate"]
    accepted = [json.loads(x) for x in (run_dir / "critique" / "accepted.jsonl").read_text().splitlines()]
    translated = [r for r in accepted if "back_translated" in (r.get("gen") or {})]
    assert translated and all(r["id"].endswith("-bt") for r in translated)
    for r in translated:
        assert r["constraints"] and all(c.passed for c in check_all(r["text"], r["constraints"]))
        assert r["instruction"] != r["gen"]["back_translated"]["from"]
    counts = json.loads((run_dir / "critique" / "manifest.json").read_text())["counts"]
    assert counts["back_translated"] == len(translated)
    sft_rows = (run_dir / "sft" / "sft.jsonl").read_text()
    assert translated[0]["instruction"] in sft_rows
    results = json.loads((run_dir / "evaluate" / "results.json").read_text())
    assert set(results["conditions"]) == {"base_zero_shot", "base_few_shot", "sft"}
    assert (run_dir / "report.html").stat().st_size > 1000


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_an_sft_round_samples_the_policy_on_fresh_instructions_and_retrains_on_both_rounds(tmp_path):
    """``run.sft_rounds: 2``: round 2 is the SFT policy answering zero-shot, with its own seed, instructions
    round 1 never saw; its verified answers join round 1's in a fresh adapter that evaluate scores too."""
    from selfalign.prompts.format import get_format
    from selfalign.report.markdown import results_markdown

    cfg = _config(tmp_path, run={"rounds": 0, "sft_rounds": 2}, responses={"limit": 5, "samples": 2})
    run_dir = tmp_path / "run"
    run_pipeline(cfg, run_dir, progress=False)
    assert list(_statuses(run_dir)) == [
        "instructions", "split", "responses", "critique", "sft", "responses-r2", "critique-r2", "sft-r2",
        "evaluate",
    ]  # fmt: skip
    one = _rows(run_dir / "responses" / "responses.jsonl")
    two = _rows(run_dir / "responses-r2" / "responses.jsonl")
    first = {r["instruction_id"] for r in one}
    second = {r["instruction_id"] for r in two}
    assert len(first) == len(second) == 5 and not first & second  # fresh instructions
    train = [r["id"] for r in _rows(run_dir / "split" / "train.jsonl")]
    assert sorted(second, key=train.index) == train[5:10]
    fmt = get_format()
    for r in two:
        assert r["gen"]["policy"] == "sft" and r["gen"]["round"] == 2 and r["gen"]["shots"] == []
        assert r["gen"]["seed"] == 1000 + r["gen"]["sample"] and "-round2-" in r["id"]  # its own seeds
        assert r["prompt"].endswith(fmt.prompt(r["instruction"]))  # zero-shot, the format SFT trained on
    assert all(r["gen"]["seed"] == r["gen"]["sample"] and r["gen"]["shots"] for r in one)
    sft1, sft2 = _rows(run_dir / "sft" / "sft.jsonl"), _rows(run_dir / "sft-r2" / "sft.jsonl")
    accepted2 = {r["id"] for r in _rows(run_dir / "critique-r2" / "accepted.jsonl")}
    assert accepted2 and sft2[: len(sft1)] == sft1  # round 1's examples first, then round 2's
    assert {e["id"] for e in sft2[len(sft1) :]} <= accepted2 and len(sft2) > len(sft1)
    manifest = json.loads((run_dir / "sft-r2" / "manifest.json").read_text())
    assert manifest["inputs"]["previous"].endswith("sft/sft.jsonl")
    results = json.loads((run_dir / "evaluate" / "results.json").read_text())
    assert {"sft", "sft-r2"} <= set(results["conditions"])
    md = results_markdown(run_dir)
    assert "| sft-r2 |" in md


def test_a_held_out_item_no_answer_can_pass_stops_the_run_after_split(tmp_path, full_run):
    # The run's own items, budget cut below the words the wordiest one needs: refused before responses.
    from selfalign.constraints import words_needed

    items = [json.loads(x) for x in (full_run / "split" / "test.jsonl").read_text().splitlines()]
    need = max(words_needed(r.get("constraints") or [])[0] for r in items)
    assert need > 1, "tiny.yaml's held-out items should include one that needs words"
    cfg = _config(tmp_path, evaluate={"max_new_tokens": need - 1})
    run_dir = tmp_path / "run"
    with pytest.raises(Exception, match=r"test\.jsonl:\d+: constraints\[\d\]: .*evaluate\.max_new_tokens"):
        run_pipeline(cfg, run_dir, progress=False)
    assert set(_statuses(run_dir)) == {"instructions", "split"}  # nothing was sampled or trained
