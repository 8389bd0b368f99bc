"""A realistic synthetic run directory for the report tests (no model: every artifact is written here).

results.json comes from the real ``selfalign.evaluate.summary.summarize`` over synthetic eval records, so
the report reads exactly the shape the evaluate stage writes. ``make_run(..., payload=...)`` plants a
string in every place data text reaches the page (instruction, outputs, category, names, sentinels).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from selfalign.data.schemas import validate_record
from selfalign.evaluate.summary import summarize
from selfalign.judge.calibration import CalibrationTable, Row
from selfalign.prompts.format import get_format

XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
CATEGORIES = ["brainstorm", "qa", "rewrite", "summarize"]
CONDITIONS = ["base_zero_shot", "base_few_shot", "sft", "dpo"]
PASS_P = {"base_zero_shot": 0.2, "base_few_shot": 0.4, "sft": 0.6, "dpo": 0.7}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return str(path.relative_to(path.parents[1]))


def _write_json(path: Path, obj: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2), "utf-8")
    return str(path.relative_to(path.parents[1]))


def eval_records(n_items: int, payload: str, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    fmt = get_format()
    records: dict[str, list[dict[str, Any]]] = {c: [] for c in CONDITIONS}
    for i in range(n_items):
        cat = CATEGORIES[i % len(CATEGORIES)]
        instruction = f"Item {i}: list ideas {payload}"
        verifiable = i % 5 != 4
        for cond in CONDITIONS:
            ok = rng.random() < PASS_P[cond]
            output = f"{cond} answer {i} {payload}" + " word" * rng.randrange(3, 40 if cond != "dpo" else 80)
            checks = (
                [{"type": "bullet_count", "passed": ok, "detail": f"found {payload}", "params": {"n": 3}}]
                if verifiable
                else []
            )
            judge = None
            if not verifiable and cond != "base_few_shot":
                judge = {"scorer": "ab-critic", "vs": "base_few_shot", "p_better": round(rng.random(), 3)}
            rec = {
                "id": f"heldout-{i:03d}",
                "condition": cond,
                "category": cat,
                "prompt": fmt.prompt(instruction),
                "output": output,
                "checks": checks,
                "passed": ok if verifiable else None,
                "judge": judge,
            }
            validate_record(rec, "eval")
            records[cond].append(rec)
    return records


def make_run(root: Path, *, full: bool = True, payload: str = "", n_items: int = 40) -> Path:
    """Write a run dir; ``full=False`` stops after the responses stage (a partial run)."""
    rng = random.Random(7)
    run = root / "run"
    run.mkdir(parents=True)
    fmt = get_format()
    stages: list[dict[str, Any]] = []

    def stage(name: str, outputs: dict[str, str], counts: dict[str, int], **extra: Any) -> None:
        stages.append({
            "name": name, "key": f"{name}-abc123", "status": "cached" if name == "instructions" else "done",
            "dir": name, "outputs": outputs, "counts": counts, "metrics": extra.pop("metrics", {}),
            "wall_seconds": 12.5, "tokens_generated": 1000, "cpu_hours": 0.01, "gpu_hours": 0.0, "cost": 0.02,
        })  # fmt: skip

    instr = [{"id": f"ins-{i}", "text": f"Write about {payload} topic {i}", "category": CATEGORIES[i % 4],
              "source": "self", "prompt": "…", "gen": None} for i in range(30)]  # fmt: skip
    stage("instructions", {"data": _write_jsonl(run / "instructions" / "data.jsonl", instr)}, {"kept": 30})
    responses = []
    for i, ins in enumerate(instr):
        text = f"Answer {i} {payload}"
        responses.append({
            "id": f"resp-{i}", "instruction_id": ins["id"], "instruction": ins["text"],
            "prompt": fmt.prompt(ins["text"]), "raw": text + "\nEND", "text": text,
            "stop_reason": "stop" if i % 6 else "length", "n_tokens": 20 + i, "category": ins["category"],
            "qc": {"runaway": i % 10 == 0, "truncated": i % 6 == 0, "too_short": False, "echo": i == 3,
                   "empty": False},
        })  # fmt: skip
        validate_record(responses[-1], "response")
    stage("responses", {"data": _write_jsonl(run / "responses" / "data.jsonl", responses)}, {"responses": 30})

    if full:
        heldout = [{"id": f"heldout-{i:03d}", "instruction": f"Item {i}: list ideas {payload}",
                    "category": CATEGORIES[i % 4]} for i in range(n_items)]  # fmt: skip
        split = {"train": _write_jsonl(run / "split" / "train.jsonl", instr[:20]),
                 "test": _write_jsonl(run / "split" / "test.jsonl", heldout)}  # fmt: skip
        stage("split", split, {"test": n_items})
        judgments = [{"id": f"j{i}", "item_ids": [f"resp-{i}"], "scorer": "ab-critic", "prompts": ["p", "q"],
                      "logp": [{"A": -0.5, "B": -1.0}, {"A": -0.9, "B": -0.6}], "p_good": rng.random(),
                      "margin": rng.gauss(0.3, 1.0), "orders_agree": i % 3 != 0, "confident": i % 4 == 0}
                     for i in range(30)]  # fmt: skip
        rows = [Row(f"ab-critic {payload}", "debiased", kind, 8, 5 + k, (5 + k) / 8, 0.3, 0.9)
                for k, kind in enumerate(("format", "relevance", "truncation"))]  # fmt: skip
        calib = CalibrationTable(n_per_kind=8, seed=0, rows=rows, agreement={"ab-critic": {"format": 0.75}},
                                 priors={"ab-critic": {"A": 0.55, "B": 0.45}})  # fmt: skip
        metrics = {"scorer": "ab-critic", "calibration": calib.to_dict(), "accept_threshold": 0.6}
        stage("critique", {"judgments": _write_jsonl(run / "critique" / "judgments.jsonl", judgments)},
              {"judged": 30}, metrics=metrics)  # fmt: skip
        sft_rows = [{"step": s, "epoch": s / 10, "loss": 3.0 / (1 + s), "learning_rate": 1e-4,
                     "grad_norm": 1.0} for s in range(1, 21)]  # fmt: skip
        (run / "sft" / "adapter").mkdir(parents=True)
        (run / "sft" / "adapter" / "adapter_config.json").write_text("{}", "utf-8")
        sft_metrics = _write_jsonl(run / "sft" / "metrics.jsonl", sft_rows)
        stage(
            "sft", {"adapter": "sft/adapter", "metrics": sft_metrics}, {"examples": 20}, metrics={"loss": 0.5}
        )
        pairs = [{"prompt": fmt.prompt(f"q{i}"), "chosen": f"good {payload}", "rejected": f"bad {i}",
                  "margin": 0.5 + rng.random(), "source": "best-of-4",
                  "scorer": "verifiable" if i % 2 else "likelihood-contrast"} for i in range(12)]  # fmt: skip
        stage("pairs", {"pairs": _write_jsonl(run / "pairs" / "pairs.jsonl", pairs)}, {"pairs": 12})
        for name in ("dpo", "dpo-r2"):
            rows = [{"step": s, "loss": 0.69 - 0.02 * s, "learning_rate": 5e-6, "grad_norm": 2.0,
                     "rewards/margins": 0.05 * s, "rewards/accuracies": min(1.0, 0.5 + 0.03 * s)}
                    for s in range(1, 16)]  # fmt: skip
            stage(name, {"metrics": _write_jsonl(run / name / "metrics.jsonl", rows)}, {"pairs": 12})
        records = eval_records(n_items, payload, rng)
        results = summarize(records, "base_few_shot", n_boot=200, seed=0)
        results["stop_reasons"] = {c: {"stop": n_items - 2, "eos": 1, "length": 1} for c in CONDITIONS}
        items = [r for c in CONDITIONS for r in records[c]]
        stage("evaluate", {"results": _write_json(run / "evaluate" / "results.json", results),
                           "items": _write_jsonl(run / "evaluate" / "items.jsonl", items)},
              {"items": n_items, "conditions": 4})  # fmt: skip

    manifest = {
        "run": {"config_path": f"configs/{payload}default.yaml", "config_hash": "cafe1234",
                "started": 1_700_000_000.0, "finished": 1_700_000_900.0, "wall_seconds": 900.0,
                "selfalign_version": "0.1.0", "git": {"commit": "b4764ff", "dirty": True}},
        "provenance": {"model_ref": "smollm2-135m", "dtype": "float32", "quantization": "none",
                       "device": "cpu",
                       "versions": {"torch": "2.13", "transformers": "5.23"},
                       "guards": {"chat_templates_removed": ["tokenizer_config.json"], "audit": "ok"},
                       "sentinels": [{"input": "Instruction: 2+2?\nResponse:", "output": f"4 {payload}",
                                      "stop_reason": "stop", "n_tokens": 2}],
                       "weights_sha256": {"model.safetensors": "ab" * 32}},
        "stages": stages,
        "gates": [{"name": f"qc_flag_rate {payload}", "value": 0.2, "threshold": 0.5, "passed": True,
                   "overridden": False},
                  {"name": "critic_agreement", "value": 0.55, "threshold": 0.6, "passed": False,
                   "overridden": True}],
    }  # fmt: skip
    _write_json(run / "manifest.json", manifest)
    return run


def test_fixture_results_have_the_evaluate_shape(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    res = json.loads((run / "evaluate" / "results.json").read_text("utf-8"))
    assert list(res["conditions"]) == CONDITIONS
    assert res["conditions"]["dpo"]["verifiable"]["overall"]["vs_baseline"]["p_bh"] is not None
    assert res["conditions"]["sft"]["open_ended"]["n"] == 8
