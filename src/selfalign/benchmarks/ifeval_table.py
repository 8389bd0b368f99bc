"""The console view of an IFEval ``results.json``: IFEval's four numbers per condition, with paired tests."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from selfalign.benchmarks.ifeval_summary import METRICS
from selfalign.evaluate.table import ci, pct, verdict

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
            vs = r["vs_baseline"]
            row = [name, LABELS[m], f"{r['passed']}/{r['n']} {pct(r['rate'])}", ci(r["ci_low"], r["ci_high"])]
            if vs is None:
                row += ["–", "–", "–", verdict(None)]
            else:
                lift = vs["lift"]
                row += [
                    f"{100 * lift['estimate']:+.1f} {ci(lift['ci_low'], lift['ci_high'])}",
                    f"{vs['p_value']:.3g} ({vs['p_bh']:.3g})",
                    f"{vs['cohens_h']:+.2f}",
                    verdict(vs),
                ]
            table.add_row(*row)
    return table
