"""Steered samples in the data stages: the steer proposes, the check judges (issue 26, docs/CONSTRAINTS.md).

A steered sample is drawn with the instruction's constraints steering decoding (``Engine.generate(...,
constraints=...)``): token masks, forced text and end gating make the text satisfy the rules while the model
picks every other token. Nothing here trusts the steer: every steered sample is a response record like any
other, and the critique stage accepts it only when every code check passes and QC finds nothing. What a
steer can still do wrong — glue a forced ending to half a sentence, push the model off its distribution,
loop — is measured here: the *unsteered* base model's log-likelihood per token of each passing answer
(steered vs unsteered), repeated word trigrams, QC flag rates, and side-by-side samples for the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from statistics import mean
from typing import TYPE_CHECKING, Any

from selfalign.constraints import passes_all
from selfalign.data.qc import QC_FLAGS
from selfalign.prompts.format import get_format

if TYPE_CHECKING:
    from selfalign.engine import Engine

# Added to a stage's seed for its steered calls, so a steered row never shares a seed with an unsteered one.
STEER_SEED_OFFSET = 104_729
# Passing samples scored for fluency, per side (steered / unsteered): enough for a mean, bounded in cost.
FLUENCY_LIMIT = 200


def steered_id(instruction_id: str, k: int, round_: int = 1) -> str:
    """Steered sample ``k``'s record id (unsteered ones are ``-r<k>``, so the two never collide)."""
    return f"{instruction_id}-s{k}" if round_ < 2 else f"{instruction_id}-round{round_}-s{k}"


def is_steered(record: dict[str, Any]) -> bool:
    return bool((record.get("gen") or {}).get("steered"))


def _side(record: dict[str, Any]) -> str:
    return "steered" if is_steered(record) else "unsteered"


def yield_table(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Samples passing every check, steered vs unsteered: overall, per type, per number of constraints.

    An item with two types counts for both types. ``usable``: passes every check *and* has no QC flag — what
    the critique stage can accept for SFT (a steer can satisfy a rule and still loop or run to the token
    limit). ``dead_ends`` are steered rows whose steers left no token to pick (QC-truncated, never accepted).
    """
    out: dict[str, Any] = {
        side: {"samples": 0, "passed": 0, "usable": 0, "dead_ends": 0, "per_type": {},
               "per_n_constraints": {}}
        for side in ("steered", "unsteered")
    }
    for r in records:
        cons = r.get("constraints") or []
        if not cons:
            continue
        row = out[_side(r)]
        ok = passes_all(r["text"], cons)
        usable = ok and not any((r.get("qc") or {}).values())
        row["samples"] += 1
        row["passed"] += ok
        row["usable"] += usable
        row["dead_ends"] += r.get("stop_reason") == "dead_end"
        for key, bucket in (*((c["type"], "per_type") for c in cons), (str(len(cons)), "per_n_constraints")):
            cell = row[bucket].setdefault(key, {"samples": 0, "passed": 0, "usable": 0})
            cell["samples"] += 1
            cell["passed"] += ok
            cell["usable"] += usable
    for row in out.values():
        row["pass_rate"] = round(row["passed"] / row["samples"], 4) if row["samples"] else None
        row["usable_rate"] = round(row["usable"] / row["samples"], 4) if row["samples"] else None
        row["per_type"] = dict(sorted(row["per_type"].items()))
        row["per_n_constraints"] = dict(sorted(row["per_n_constraints"].items()))
    return out


def repeated_trigrams(text: str) -> float:
    """Share of word trigrams that occur more than once (0 = no repetition; loops push it toward 1)."""
    words = text.lower().split()
    grams = list(zip(words, words[1:], words[2:], strict=False))
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(n for n in counts.values() if n > 1) / len(grams)


def fluency(engine: Engine, records: Sequence[dict[str, Any]], batch_size: int = 16) -> dict[str, Any]:
    """Fluency of *passing* constrained samples, steered vs unsteered.

    ``loglik_per_token``: mean log-prob per answer token under the unsteered base model (no adapter), given
    the zero-shot format prompt of the instruction — the same yardstick for both sides and for every sampler
    (few-shot or a policy's zero-shot), and cheap (no few-shot prefix to re-read). A steer that forces text
    the model would not write shows up as a lower value. Also: repeated word trigrams and QC flag rates.
    The first :data:`FLUENCY_LIMIT` passing samples of each side (in record order) are scored. ``matched``:
    the mean log-likelihood per token of each side over the instructions where both have a scored passing
    sample (an instruction's samples averaged first), since the two sides pass on different instructions.
    """
    fmt = get_format()
    sides: dict[str, list[dict[str, Any]]] = {"steered": [], "unsteered": []}
    for r in records:
        passing = r.get("constraints") and r["text"].strip() and passes_all(r["text"], r["constraints"])
        if passing and len(sides[_side(r)]) < FLUENCY_LIMIT:
            sides[_side(r)].append(r)
    out: dict[str, Any] = {"scored_with": "base model, zero-shot format prompt", "limit": FLUENCY_LIMIT}
    per_ins: dict[str, dict[str, list[float]]] = {"steered": {}, "unsteered": {}}
    for side, recs in sides.items():
        if not recs:
            out[side] = {"n": 0}
            continue
        scores = engine.logprobs(
            [(fmt.prompt(r["instruction"]), [fmt.completion(r["text"])]) for r in recs],
            adapter=None, batch_size=batch_size,
        )  # fmt: skip
        ll = [s[0].mean for s in scores]
        for r, x in zip(recs, ll, strict=True):
            per_ins[side].setdefault(str(r["instruction_id"]), []).append(x)
        out[side] = {
            "n": len(recs),
            "loglik_per_token": round(mean(ll), 4),
            "repeated_trigrams": round(mean(repeated_trigrams(r["text"]) for r in recs), 4),
            "mean_words": round(mean(len(r["text"].split()) for r in recs), 1),
            "qc_rates": {f: round(mean(bool(r["qc"].get(f)) for r in recs), 4) for f in QC_FLAGS},
        }
    # The sides above pass on different instructions (the unsteered model passes the easy ones), so the same
    # yardstick is also read on the instructions where both sides have a passing sample.
    both = sorted(set(per_ins["steered"]) & set(per_ins["unsteered"]))
    out["matched"] = {"instructions": len(both)} | {
        side: round(mean(mean(per_ins[side][i]) for i in both), 4) for side in per_ins if both
    }
    return out


def side_by_side(records: Sequence[dict[str, Any]], k: int = 6) -> list[dict[str, Any]]:
    """Up to ``k`` constrained instructions with both an unsteered and a steered sample: the first of each,
    with their verdicts — what the model writes alone next to what it writes when held to the rule.
    Instructions where the steered sample passes and the unsteered one fails come first."""
    by_ins: dict[str, dict[str, dict[str, Any]]] = {}
    for r in records:
        if r.get("constraints"):
            by_ins.setdefault(str(r["instruction_id"]), {}).setdefault(_side(r), r)
    rows = []
    for iid, both in by_ins.items():
        if len(both) < 2:
            continue
        s, u = both["steered"], both["unsteered"]
        rows.append({
            "instruction_id": iid, "instruction": s["instruction"],
            "constraints": [c["type"] for c in s["constraints"]],
            "unsteered": u["text"], "unsteered_passes": passes_all(u["text"], u["constraints"]),
            "steered": s["text"], "steered_passes": passes_all(s["text"], s["constraints"]),
        })  # fmt: skip
    rows.sort(key=lambda x: (not (x["steered_passes"] and not x["unsteered_passes"]), x["instruction_id"]))
    return rows[:k]


def contrast_pair(
    constraints: Sequence[dict[str, Any]], unsteered: Sequence[str], steered: Sequence[str]
) -> tuple[str, str] | None:
    """``(chosen, rejected)``: the first steered text that passes every check and the first unsteered text of
    the same policy on the same instruction that fails one — what the model does when held to the rule vs
    what it does alone. None when either side has no such text."""
    chosen = next((t for t in steered if t.strip() and passes_all(t, constraints)), None)
    rejected = next((t for t in unsteered if t.strip() and not passes_all(t, constraints)), None)
    return (chosen, rejected) if chosen is not None and rejected is not None else None


def unended(samples: Iterable[tuple[str, str]]) -> set[str]:
    """Of ``(text, stop_reason)`` samples, the texts that ran to the token limit and that no sample with the
    same text ended: as a rejected DPO answer such a text is trained open (``PreferencePair.rejected_ended``).
    """
    rows = list(samples)
    return {t for t, why in rows if why == "length"} - {t for t, why in rows if why != "length"}
