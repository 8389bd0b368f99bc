"""lm-evaluation-harness on a real export: does it give the answers ``selfalign evaluate`` recorded?

    python bench/interop_lm_eval.py RUN_DIR [--merged DIR] [--base BASE_DIR --adapter DIR] [--condition dpo]
                                    [--limit N] [--batch-size B]

Takes the held-out items and greedy answers the run's ``evaluate`` stage recorded for ``--condition`` (the
exported policy), scores the merged export (and, with ``--base``/``--adapter``, base + ``peft=``) with
lm-eval's ``hf`` backend through a local task file (``generate_until``, the format's stop strings, the
run's ``max_new_tokens``, ``apply_chat_template``), and prints, per model, how many contexts equal
selfalign's prompt and how many answers are identical, listing the ones that differ. A measurement, not a
test: the figures go in docs/INTEROP.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from selfalign.export.lm_eval_task import task_yaml


def recorded(run: Path, condition: str) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The evaluate stage's items for ``condition``, its max_new_tokens and the stop strings."""
    rows = [json.loads(x) for x in (run / "evaluate" / "items.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r["condition"] == condition]
    if not rows:
        raise SystemExit(f"error: {run}/evaluate/items.jsonl has no condition {condition!r}")
    manifest = json.loads((run / "evaluate" / "manifest.json").read_text())
    cfg = manifest.get("config", {})
    from selfalign.prompts.format import get_format

    return rows, int(cfg.get("max_new_tokens", 128)), list(get_format().stop)


def lm_eval_answers(task_dir: Path, model_args: str, batch_size: int) -> dict[str, tuple[str, str]]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    res: dict[str, Any] = lm_eval.simple_evaluate(
        model="hf", model_args=f"{model_args},dtype=float32", tasks=["selfalign_interop"],
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        apply_chat_template=True, batch_size=batch_size, device="cpu", predict_only=True, log_samples=True,
    )  # fmt: skip
    samples = res["samples"]["selfalign_interop"]
    return {s["doc"]["id"]: (s["arguments"][0][0], s["resps"][0][0]) for s in samples}


def instruction(prompt: str) -> str:
    """The instruction (constraints included) back out of the prompt ``Instruction: X\nResponse:``."""
    return prompt.split("Instruction: ", 1)[1].rsplit("\nResponse:", 1)[0]


def compare(rows: list[dict[str, Any]], theirs: dict[str, tuple[str, str]], bos_text: str) -> dict[str, Any]:
    differ = []
    same_context = 0
    for r in rows:
        context, answer = theirs[r["id"]]
        same_context += context in (r["prompt"], bos_text + r["prompt"])
        if answer.strip() != r["output"]:
            differ.append({"id": r["id"], "selfalign": r["output"], "lm_eval": answer.strip()})
    return {"items": len(rows), "same_context": same_context, "same_answer": len(rows) - len(differ),
            "differ": differ}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--merged", type=Path, help="a merged export (selfalign export --merge)")
    p.add_argument("--condition", default="dpo")
    p.add_argument("--base", type=Path, help="the base as a plain HF dir, for peft=")
    p.add_argument("--adapter", type=Path, help="an adapter export (selfalign export, no --merge)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    rows, max_new, stops = recorded(a.run, a.condition)
    rows = rows[: a.limit] if a.limit else rows
    bos = json.loads((a.run / "manifest.json").read_text())["provenance"]["guards"]["bos"]
    bos_text = bos.get("bos_token") or "" if bos.get("adds_bos") else ""
    out: dict[str, Any] = {"run": str(a.run), "condition": a.condition, "max_new_tokens": max_new,
                           "batch_size": a.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        items = d / "items.jsonl"
        items.write_text("".join(json.dumps({"id": r["id"], "instruction": instruction(r["prompt"])}) + "\n"
                                 for r in rows))  # fmt: skip
        (d / "selfalign_interop.yaml").write_text(task_yaml(items, stops, max_new))
        models = {"merged": f"pretrained={a.merged}"} if a.merged else {}
        if a.base and a.adapter:
            models["peft"] = f"pretrained={a.base},peft={a.adapter},tokenizer={a.adapter}"
        for name, args in models.items():
            t = time.perf_counter()
            got = compare(rows, lm_eval_answers(d, args, a.batch_size), bos_text)
            got["wall_s"] = round(time.perf_counter() - t, 1)
            out[name] = got
            print(f"{name}: {got['same_context']}/{got['items']} contexts equal selfalign's prompt, "
                  f"{got['same_answer']}/{got['items']} answers identical ({got['wall_s']} s)")  # fmt: skip
            for x in got["differ"]:
                print(f"  differs {x['id']}: selfalign {x['selfalign']!r} | lm-eval {x['lm_eval']!r}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
