"""A dataset at a glance: counts, categories, lengths, duplicate clusters, QC rates, random samples."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from selfalign.data.dedup import clusters
from selfalign.data.jsonl import PathLike, read_jsonl
from selfalign.data.qc import qc_rates, word_count

# (upper bound inclusive, label); the last bucket is open-ended.
LENGTH_BUCKETS: tuple[tuple[int, str], ...] = (
    (0, "0"),
    (5, "1-5"),
    (10, "6-10"),
    (25, "11-25"),
    (50, "26-50"),
    (100, "51-100"),
    (200, "101-200"),
    (500, "201-500"),
)
OVER = "501+"

# Which field holds the text that matters, by the fields a record has (first match wins).
_KIND_BY_FIELDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("pair", ("chosen", "rejected"), "chosen"),
    ("judgment", ("p_good", "logp"), "prompts"),
    ("eval", ("condition", "output"), "output"),
    ("response", ("instruction_id", "text"), "text"),
    ("sft", ("prompt", "completion"), "completion"),
    ("instruction", ("text",), "text"),
)


def guess_kind(record: dict[str, Any]) -> tuple[str, str | None]:
    """``(kind, text field)`` from the fields a record has; ``("unknown", None)`` if nothing fits."""
    for kind, needs, text_field in _KIND_BY_FIELDS:
        if all(f in record for f in needs):
            return kind, text_field
    return "unknown", None


def _text_of(record: dict[str, Any], field: str | None) -> str:
    value = record.get(field) if field else None
    if isinstance(value, list):  # judgment prompts: the first order's prompt represents the item
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def length_bucket(n_words: int) -> str:
    for upper, label in LENGTH_BUCKETS:
        if n_words <= upper:
            return label
    return OVER


def summarize(
    path: PathLike, *, k: int = 3, seed: int = 0, text_key: str | None = None, top_clusters: int = 5
) -> dict[str, Any]:
    """Summary of a JSONL dataset (plain JSON-able dict; :func:`render` shows it).

    ``text_key`` picks the field whose length and duplicates are measured; by default it is guessed from the
    record kind (instruction/response: ``text``, sft: ``completion``, pair: ``chosen``, eval: ``output``).
    """
    records = read_jsonl(path)
    kind, guessed = guess_kind(records[0])
    field = text_key or guessed
    texts = [_text_of(r, field) for r in records]

    categories = Counter(str(r["category"]) for r in records if r.get("category") is not None)
    histogram = dict.fromkeys([label for _, label in LENGTH_BUCKETS] + [OVER], 0)
    for t in texts:
        histogram[length_bucket(word_count(t))] += 1
    dup_clusters = clusters(texts)
    has_qc = any(isinstance(r.get("qc"), dict) for r in records)
    rng = random.Random(seed)
    sample_idx = sorted(rng.sample(range(len(records)), min(k, len(records))))
    return {
        "path": str(path),
        "kind": kind,
        "text_field": field,
        "count": len(records),
        "categories": dict(categories.most_common()),
        "length_words": histogram,
        "duplicates": {
            "clusters": len(dup_clusters),
            "items_in_clusters": sum(len(c) for c in dup_clusters),
            "top": [
                {"size": len(c), "indices": c[:10], "example": texts[c[0]][:200]}
                for c in dup_clusters[:top_clusters]
            ],
        },
        "qc": qc_rates(r for r in records if isinstance(r.get("qc"), dict)) if has_qc else None,
        "samples": [{"index": i, "record": records[i]} for i in sample_idx],
    }


def _table(title: str, rows: list[tuple[str, str]], headers: tuple[str, str]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(headers[0])
    table.add_column(headers[1], justify="right")
    for a, b in rows:
        table.add_row(Text(a), Text(b))  # Text: data like "[name]" must not be read as rich markup
    return table


def render(summary: dict[str, Any], *, max_chars: int = 400) -> RenderableType:
    """A rich renderable of a :func:`summarize` result (print it with ``rich.console.Console``)."""
    n = summary["count"]
    parts: list[RenderableType] = [
        Text(f"{summary['path']}: {n} records, kind {summary['kind']}, text field {summary['text_field']}")
    ]
    if summary["categories"]:
        rows = [(c, f"{m} ({m / n:.0%})") for c, m in summary["categories"].items()]
        parts.append(_table("categories", rows, ("category", "records")))
    rows = [(b, str(m)) for b, m in summary["length_words"].items() if m]
    parts.append(_table("length (words)", rows, ("words", "records")))
    dups = summary["duplicates"]
    parts.append(Text(f"near-duplicate clusters: {dups['clusters']} ({dups['items_in_clusters']} records)"))
    if dups["top"]:
        rows = [(c["example"].replace("\n", " ")[:80], str(c["size"])) for c in dups["top"]]
        parts.append(_table("largest duplicate clusters", rows, ("example", "size")))
    if summary["qc"] is not None:
        rows = [(flag, f"{rate:.1%}") for flag, rate in summary["qc"].items()]
        parts.append(_table("QC flags", rows, ("flag", "rate")))
    for s in summary["samples"]:
        body = "\n".join(f"{key}: {_short(v, max_chars)}" for key, v in s["record"].items())
        parts.append(Text(f"--- sample #{s['index']}\n{body}"))
    return Group(*parts)


def _short(value: Any, max_chars: int) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= max_chars else text[:max_chars] + f"… (+{len(text) - max_chars} chars)"
