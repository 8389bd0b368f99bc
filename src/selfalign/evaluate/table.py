"""The console view of ``results.json``: one row per condition, one per condition and category."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def verdict(vs: dict[str, Any] | None) -> str:
    """better / worse / no difference, from the BH-adjusted decision and the sign of the lift."""
    if vs is None:
        return "baseline"
    if not vs.get("significant", False):
        return "no difference"
    return "better" if vs["lift"]["estimate"] > 0 else "worse"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def ci(lo: float, hi: float) -> str:
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def vs_cells(vs: dict[str, Any] | None) -> list[str]:
    """lift [CI], p (BH), Cohen's h, verdict of one comparison with the baseline (dashes for the baseline)."""
    if vs is None:
        return ["–", "–", "–", verdict(None)]
    lift = vs["lift"]
    return [
        f"{100 * lift['estimate']:+.1f} {ci(lift['ci_low'], lift['ci_high'])}",
        f"{vs['p_value']:.3g} ({vs.get('p_bh', vs['p_value']):.3g})",
        f"{vs['cohens_h']:+.2f}",
        verdict(vs),
    ]


def summary_table(results: dict[str, Any]) -> Table:
    base = results["baseline"]
    table = Table(title=f"evaluation vs {base} ({results['n_items']} items)")
    for col in ("condition", "verifiable pass", "95% CI", "lift [CI]", "p (BH)", "h", "verdict",
                "open-ended win", "mean words"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("condition", "verdict") else "right")
    for name, res in results["conditions"].items():
        ver, opn = res["verifiable"], res["open_ended"]
        row = [name]
        if ver is None:
            row += ["–"] * 6
        else:
            o = ver["overall"]
            vs = o["vs_baseline"]
            row += [f"{o['passed']}/{o['n']} {pct(o['rate'])}", ci(o["ci_low"], o["ci_high"])]
            row += vs_cells(vs)
        row.append("–" if opn is None else f"{pct(opn['win_rate'])} {ci(opn['ci_low'], opn['ci_high'])}")
        row.append(f"{res['mean_words']:.1f}")
        table.add_row(*row)
    return table


def category_table(results: dict[str, Any]) -> Table:
    table = Table(title="verifiable items by category (p: McNemar vs baseline, BH within condition)")
    for col in ("condition", "category", "pass", "95% CI", "lift", "p (BH)", "verdict"):
        table.add_column(col, justify="left" if col in ("condition", "category", "verdict") else "right")
    for name, res in results["conditions"].items():
        if res["verifiable"] is None:
            continue
        for cat, c in res["verifiable"]["categories"].items():
            vs = c["vs_baseline"]
            lift = "–" if vs is None else f"{100 * vs['lift']['estimate']:+.1f}"
            p = "–" if vs is None else f"{vs['p_value']:.3g} ({vs['p_bh']:.3g})"
            table.add_row(
                name, cat, f"{c['passed']}/{c['n']} {pct(c['rate'])}", ci(c["ci_low"], c["ci_high"]),
                lift, p, verdict(vs),
            )  # fmt: skip
    return table
