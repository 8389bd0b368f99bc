"""Critic section: calibration table from the critique manifest, margin distributions, preference pairs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from selfalign.report import plots
from selfalign.report.html import esc, fmt, img, kv, not_run, note, section, table
from selfalign.report.load import Run


def calibration_table(calib: Any) -> str:
    """Render whatever shape the critique stage chose: rows (list of objects), keyed rows, or flat values."""
    if isinstance(calib, list) and calib and all(isinstance(r, dict) for r in calib):
        keys = list(dict.fromkeys(k for r in calib for k in r))
        return table(keys, [[fmt(r.get(k)) for k in keys] for r in calib])
    if isinstance(calib, dict) and calib and all(isinstance(v, dict) for v in calib.values()):
        keys = list(dict.fromkeys(k for v in calib.values() for k in v))
        return table(["", *keys], [[esc(name), *(fmt(v.get(k)) for k in keys)] for name, v in calib.items()])
    if isinstance(calib, dict):
        # e.g. selfalign.judge's CalibrationTable: scalars, a ``rows`` list, scorer -> kind maps
        flat = [(str(k), fmt(v)) for k, v in calib.items() if not isinstance(v, dict | list) or not v]
        nested = [(k, v) for k, v in calib.items() if isinstance(v, dict | list) and v]
        return kv(flat) + "".join(f"<h4>{esc(k)}</h4>" + calibration_table(v) for k, v in nested)
    return f"<p>{fmt(calib)}</p>"


def _calibration(metrics: dict[str, Any]) -> str:
    found = [(k, v) for k, v in metrics.items() if "calib" in k.lower() and v is not None]
    if not found:
        return note("the critique stage recorded no calibration table (critic not calibrated in this run)")
    return "".join(f"<h3>{esc(k)}</h3>" + calibration_table(v) for k, v in found)


def critic(run: Run) -> str:
    stages = run.find("critique")
    if not stages:
        return section("critic", "Critic", not_run("critique") + _pairs(run))
    parts = []
    for s in stages:
        parts.append(f"<h3>{esc(s.label)}</h3>")
        metrics = s.entry.get("metrics") or {}
        if isinstance(metrics, dict) and metrics.get("scorer"):
            parts.append(f"<p>critic used: <b>{esc(metrics['scorer'])}</b></p>")
        parts.append(_calibration(metrics if isinstance(metrics, dict) else {}))
        path = s.file("judgments", suffix=".jsonl", fallback="judgments.jsonl")
        if path is None:
            parts.append(note(f"{s.label}: no judgments file"))
            continue
        recs = [r for r in run.jsonl(path) if r.get("scorer") != "verifiable"]  # code checks: no critic
        by_scorer: dict[str, list[float]] = {}
        for r in recs:
            if isinstance(r.get("margin"), int | float):
                by_scorer.setdefault(str(r.get("scorer", "critic")), []).append(float(r["margin"]))
        confident = sum(1 for r in recs if r.get("confident") is True)
        agree = sum(1 for r in recs if r.get("orders_agree") is True)
        n = len(recs)
        parts.append(kv([
            ("critic judgments (open-ended)", fmt(n)),
            ("both orders agree", f"{agree} ({100 * agree / n:.1f}%)" if n else "–"),
            ("confident", f"{confident} ({100 * confident / n:.1f}%)" if n else "–"),
        ]))  # fmt: skip
        if by_scorer:
            parts.append(img(plots.histogram(by_scorer, "critic margin distribution", "margin"), "margins"))
    parts.append(
        '<p class="muted">Margin: signed log-prob margin of the judged item being the good one, averaged '
        "over both option orders. Mass near 0 = the critic cannot tell; a calibrated critic agrees with "
        "known answers more often as |margin| grows.</p>"
    )
    return section("critic", "Critic", "".join(parts) + _pairs(run))


def _pairs(run: Run) -> str:
    parts = []
    for s in run.find("pairs"):
        path = s.file("pairs", suffix=".jsonl", fallback="pairs.jsonl")
        if path is None:
            parts.append(not_run(s.label))
            continue
        recs = run.jsonl(path)
        sources = Counter(str(r.get("source")) for r in recs)
        margins = [float(r["margin"]) for r in recs if isinstance(r.get("margin"), int | float)]
        parts.append(f"<h3>Preference pairs: {esc(s.label)} ({len(recs)} pairs)</h3>")
        parts.append(table(["source", "pairs"], [[esc(k), fmt(v)] for k, v in sorted(sources.items())]))
        if margins:
            parts.append(img(plots.histogram({s.label: margins}, "pair margins (chosen over rejected)",
                                             "margin"), "pair margins"))  # fmt: skip
    return "".join(parts)
