"""The clean pass: a pass whose answer QC would not reject as a loop, an echo, a runaway or nothing.

The code checks score what an answer contains, not whether it is an answer. A base model that loops
("1. What is the meaning of the word "people"?" forty times) passes "use the word people at least 3 times";
one that echoes the instruction passes "wrap a title in <<...>>" with the instruction's own example. In the
fifth proof run 62 of the zero-shot base's 71 passes carried such a flag (60 a loop; docs/RESULTS.md), so
the strict pass alone let length and repetition decide which base was "stronger". The clean pass is
reported beside it, on the same items, with the same statistics; the strict pass stays the IFEval-compatible
number.

The flags are QC's own rules (``data.qc``), written for training samples and unchanged here:
``repetitive``, ``echo``, ``runaway`` and ``empty``. Not ``truncated`` (a long answer cut by the budget
may still follow the instruction), not ``too_short`` (soft), and not ``degenerate``, whose thresholds were
set on training samples but later also looked at beside held-out outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selfalign.data.qc import qc_flags
from selfalign.evaluate.headline import headline

LOOP_FLAGS: tuple[str, ...] = ("repetitive", "echo", "runaway", "empty")


def loop_flags(output: str, instruction: str | None) -> list[str]:
    """The :data:`LOOP_FLAGS` QC raises on an answer (empty list: a clean answer)."""
    flags = qc_flags(output, instruction=instruction)
    return [f for f in LOOP_FLAGS if flags[f]]


def clean_records(
    records: Mapping[str, Sequence[dict[str, Any]]], instructions: Mapping[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """Copies of the records with ``passed`` true only where the answer also has no loop flag (unverifiable
    records keep ``passed: None``). ``instructions`` maps item id to its instruction (for ``echo``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, recs in records.items():
        rows = []
        for r in recs:
            if r["passed"] is None:
                rows.append(dict(r))
                continue
            if r["id"] not in instructions:
                raise KeyError(f"item {r['id']!r} of {name!r} has no instruction to check an echo against")
            flags = loop_flags(str(r["output"]), instructions[r["id"]])
            rows.append({**r, "passed": bool(r["passed"]) and not flags, "loop_flags": flags})
        out[name] = rows
    return out


def passes_lost(
    records: Mapping[str, Sequence[dict[str, Any]]], clean: Mapping[str, Sequence[dict[str, Any]]]
) -> dict[str, dict[str, int]]:
    """Per condition: strict passes, clean passes, and the strict passes each loop flag takes away."""
    out = {}
    for name, recs in records.items():
        lost = [c for r, c in zip(recs, clean[name], strict=True) if r["passed"] and not c["passed"]]
        row = {"strict": sum(bool(r["passed"]) for r in recs),
               "clean": sum(bool(c["passed"]) for c in clean[name])}  # fmt: skip
        row |= {f: sum(f in c["loop_flags"] for c in lost) for f in LOOP_FLAGS}
        out[name] = row
    return out


def loop_warnings(lost: Mapping[str, Mapping[str, int]]) -> list[str]:
    """A line for each condition most of whose strict passes the loop flags take away."""
    out = []
    for name, v in lost.items():
        gone = v["strict"] - v["clean"]
        if 2 * gone > v["strict"]:
            out.append(f"{name} passes {v['strict']} items, but {gone} of those answers are loops, echoes or "
                       f"runaways (QC); its clean pass is {v['clean']}")  # fmt: skip
    return out


def clean_headline(
    records: Mapping[str, Sequence[dict[str, Any]]],
    instructions: Mapping[str, str],
    *,
    unseen_wording: Sequence[str] = (),
    **opts: Any,
) -> dict[str, Any]:
    """The headline (``evaluate.headline``) over clean passes, plus what the loop flags took from each
    condition's strict passes (``lost``)."""
    clean = clean_records(records, instructions)
    out = headline(clean, {}, unseen_wording=unseen_wording, **opts)
    out["lost"] = passes_lost(records, clean)
    out["flags"] = list(LOOP_FLAGS)
    return out


__all__ = ["LOOP_FLAGS", "clean_headline", "clean_records", "loop_flags", "loop_warnings", "passes_lost"]
