"""The console view of an IFEval ``results.json``: IFEval's four numbers per condition, with paired tests."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from selfalign.benchmarks.ifeval_summary import METRICS
from selfalign.evaluate.table import ci, pct, vs_cells

LABELS = {
    "prompt_strict": "prompt strict",
    "prompt_loose": "prompt loose",
    "instruction_strict": "instr. strict",
    "instruction_loose": "instr. loose",
}


def ifeval_table(results: dict[str, Any]) -> Table:
    """One row per condition and metric: rate, Wilson CI, lift [CI], McNemar p (BH), Cohen's h, verdict;
    mean words per condition in the caption."""
    base = results["baseline"]
    words = ", ".join(f"{n} {r['mean_words']:.1f}" for n, r in results["conditions"].items())
    table = Table(
        title=f"IFEval vs {base}: {results['n_prompts']} prompts, {results['n_instructions']} instructions",
        caption=f"p: McNemar (instruction level counts instructions as independent). Mean words: {words}",
    )
    for col in ("condition", "metric", "pass", "95% CI", "lift [CI]", "p (BH)", "h", "verdict"):
        left = col in ("condition", "metric", "verdict")
        table.add_column(col, justify="left" if left else "right", no_wrap=col in ("condition", "metric"))
    for name, res in results["conditions"].items():
        for m in METRICS:
            r = res["ifeval"][m]
            rate = [f"{r['passed']}/{r['n']} {pct(r['rate'])}", ci(r["ci_low"], r["ci_high"])]
            table.add_row(name, LABELS[m], *rate, *vs_cells(r["vs_baseline"]))
    return table
