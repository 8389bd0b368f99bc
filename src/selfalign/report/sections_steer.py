"""Steered sampling in the report: yield steered vs unsteered, fluency, and samples side by side.

Read from the responses stage's manifest (``metrics.steer``, written by ``stages/steered.py``); a run without
steered samples gets a one-line note. The steer proposes, the check judges: the table counts samples that
pass every code check, and the fluency row says what the steer cost in the base model's own likelihood.
"""

from __future__ import annotations

from typing import Any

from selfalign.report.html import esc, mark, note, pct, section, table
from selfalign.report.load import Run, read_object

SIDES = ("unsteered", "steered")


def steer_metrics(run: Run) -> dict[str, Any] | None:
    """``metrics.steer`` of the first responses stage, or None where no steered samples were drawn."""
    st = run.first("responses")
    path = st.dir / "manifest.json" if st else None
    if path is None or not path.is_file():
        return None
    return (read_object(path).get("metrics") or {}).get("steer")


def _rate(cell: dict[str, Any] | None, what: str) -> str:
    if not cell or not cell.get("samples") or what not in cell:
        return "–"
    return f"{cell[what]}/{cell['samples']} ({pct(cell[what] / cell['samples'])})"


YIELD_HEADERS = ["training instructions", "unsteered: pass checks", "unsteered: pass + QC-clean",
                 "steered: pass checks", "steered: pass + QC-clean"]  # fmt: skip


def yield_rows(m: dict[str, Any]) -> list[list[str]]:
    """Rows ``[what, unsteered pass, unsteered usable, steered pass, steered usable]``: all, per number of
    constraints, per type (plain text cells). Usable = what critique can accept (no QC flag)."""
    y = m["yield"]

    def cells(get: Any) -> list[str]:
        return [_rate(get(y[s]), w) for s in SIDES for w in ("passed", "usable")]

    rows = [["all constrained samples", *cells(lambda side: side)]]
    for key in ("per_n_constraints", "per_type"):
        names = sorted(set(y["unsteered"][key]) | set(y["steered"][key]))
        label = "{} constraint(s)" if key == "per_n_constraints" else "{}"
        rows += [[label.format(n), *cells(lambda side, n=n, key=key: side[key].get(n))] for n in names]
    return rows


def fluency_rows(m: dict[str, Any]) -> list[list[str]]:
    f = m["fluency"]
    out = []
    for s in SIDES:
        v = f.get(s) or {}
        if not v.get("n"):
            out.append([s, "0", "–", "–", "–", "–"])
            continue
        qc = v["qc_rates"]
        out.append([s, str(v["n"]), f"{v['loglik_per_token']:.3f}", f"{v['repeated_trigrams']:.3f}",
                     str(v["mean_words"]), pct(max(qc.values()))])  # fmt: skip
    # The rows above pass on different instructions; these read both sides on the ones where both pass.
    matched = f.get("matched") or {}
    if matched.get("instructions"):
        k = matched["instructions"]
        out += [[f"{s}, on the {k} instructions both pass", str(k), f"{matched[s]:.3f}", "–", "–", "–"]
                for s in SIDES]  # fmt: skip
    return out


def not_steered_note(m: dict[str, Any]) -> str | None:
    """Which constrained instructions got no steered samples, and why (the yield table leaves them out)."""
    why = [(len(m.get("not_steered_over_budget") or []), "need more words than the token budget holds"),
           (len(m.get("not_steered_language") or []), "ask for a language other than English, which a "
            "steer can only fake (docs/CONSTRAINTS.md, Response language)")]  # fmt: skip
    said = [f"{n} instruction(s) {text}" for n, text in why if n]
    return "Not steered (unsteered samples only): " + "; ".join(said) + "." if said else None


FLUENCY_HEADERS = ["passing samples", "n", "base log-lik / token", "repeated trigrams", "mean words",
                   "worst QC flag rate"]  # fmt: skip


def steering(run: Run) -> str:
    m = steer_metrics(run)
    if not m:
        return section("steering", "Steered sampling", note("no steered samples (responses.steered: 0)"))
    dead = m["yield"]["steered"].get("dead_ends", 0)
    body = note(
        "Samples that pass every code check, drawn alone (unsteered) and with the instruction's constraints "
        "steering decoding; every steered sample is checked like any other, and only those that also have no "
        f"QC flag (loops, running to the token limit) can be trained on. Dead ends (dropped): {dead}."
    )
    body += table(YIELD_HEADERS, yield_rows(m), raw=False)
    if skipped := not_steered_note(m):
        body += note(skipped)
    body += note(f"Fluency of passing samples, scored by the {m['fluency']['scored_with']}:")
    body += table(FLUENCY_HEADERS, fluency_rows(m), raw=False)
    rows = [
        [esc(r["instruction"]), esc(", ".join(r["constraints"])),
         *(f"{mark(r[s + '_passes'])} {esc(r[s])}" for s in SIDES)]
        for r in m.get("side_by_side") or []
    ]  # fmt: skip
    if rows:
        body += table(["instruction", "constraints", "unsteered", "steered"], rows)
    return section("steering", "Steered sampling", body)
