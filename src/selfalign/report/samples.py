"""Side-by-side samples: the same held-out item answered under every condition, with its check marks.

About eight items, chosen deterministically and stratified by category: categories in sorted order take
turns, each giving its next item in order of ``sha256(id)`` (stable across runs, not the file's order).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from selfalign.prompts.format import get_format
from selfalign.report.html import esc, fmt, mark, note
from selfalign.report.load import Run

N_SAMPLES = 8
_MAX_CHARS = 1500  # a runaway answer would otherwise fill the page


def pick(records: list[dict[str, Any]], n: int = N_SAMPLES) -> list[str]:
    """Item ids to show: round-robin over sorted categories, each category ordered by sha256(id)."""
    by_cat: dict[str, list[str]] = {}
    for r in records:
        ids = by_cat.setdefault(str(r.get("category")), [])
        if r["id"] not in ids:
            ids.append(r["id"])
    queues = [sorted(ids, key=lambda i: hashlib.sha256(str(i).encode()).hexdigest())
              for _, ids in sorted(by_cat.items())]  # fmt: skip
    chosen: list[str] = []
    while len(chosen) < n and any(queues):
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop(0))
    return chosen


def _instructions(run: Run) -> dict[str, str]:
    """Held-out instructions by id, from the split stage's test set when it is there."""
    out: dict[str, str] = {}
    for s in run.find("split"):
        path = s.file("test", suffix="test.jsonl", fallback="test.jsonl")
        if path is not None:
            for r in run.jsonl(path):
                text = r.get("instruction", r.get("text"))
                if "id" in r and isinstance(text, str):
                    out[str(r["id"])] = text
    return out


def _from_prompt(prompt: str) -> str:
    """Recover the instruction from a zero-shot prompt (the format wraps it in a fixed prefix/suffix)."""
    marker = "\x00"
    pre, _, post = get_format().prompt(marker).partition(marker)
    if prompt.startswith(pre) and prompt.endswith(post) and pre.strip():
        return prompt[len(pre) : len(prompt) - len(post)]
    return prompt


def _cell(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return '<span class="muted">no answer</span>'
    head = [mark(rec.get("passed"))]
    for c in rec.get("checks") or []:
        head.append(
            f'<span title="{esc(c.get("detail"))}">{esc(c.get("type"))} {mark(c.get("passed"))}</span>'
        )
    judge = rec.get("judge")
    if isinstance(judge, dict) and "p_better" in judge:
        head.append(
            f'<span class="muted">P(better than {esc(judge.get("vs"))}) = {fmt(judge["p_better"])}</span>'
        )
    text = str(rec.get("output", ""))
    cut = len(text) > _MAX_CHARS
    body = esc(text[:_MAX_CHARS]) + (' <span class="muted">[… cut]</span>' if cut else "")
    return " ".join(head) + f"<pre>{body}</pre>"


def samples(run: Run, items: list[dict[str, Any]], order: list[str]) -> str:
    if not items:
        return note("no evaluation items to sample")
    by_key = {(r.get("id"), r.get("condition")): r for r in items}
    conds = [c for c in order if any(k[1] == c for k in by_key)]
    conds += sorted({str(k[1]) for k in by_key} - set(conds))
    known = _instructions(run)
    parts = [
        f"<h3>Side-by-side samples ({min(N_SAMPLES, len({r['id'] for r in items}))} items, stratified by "
        "category)</h3>"
        '<p class="muted">Same item under every condition. ✓/✗ after the column head: overall verdict; then '
        "each verifiable check. Open-ended items show the critic's P(better than the baseline).</p>"
    ]
    for item_id in pick(items):
        recs = [by_key.get((item_id, c)) for c in conds]
        first = next(r for r in recs if r is not None)
        instruction = known.get(str(item_id)) or _from_prompt(str(first.get("prompt", "")))
        checks = first.get("checks") or []
        constraints = "; ".join(f"{c.get('type')} {json.dumps(c.get('params') or {})}" for c in checks)
        head = "".join(f"<th>{esc(c)}</th>" for c in ["instruction", *conds])
        row = f"<td><pre>{esc(instruction)}</pre></td>" + "".join(f"<td>{_cell(r)}</td>" for r in recs)
        parts.append(
            f'<div class="sample"><b>{esc(item_id)}</b> '
            f'<span class="muted">category {esc(first.get("category"))}'
            + (f" · constraints: {esc(constraints)}" if constraints else " · open-ended")
            + f"</span><table><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table></div>"
        )
    return "".join(parts)
