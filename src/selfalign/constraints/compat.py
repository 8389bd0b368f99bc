"""Which constraint types can never share an instruction (type-level conflicts).

A pair is listed when no answer can satisfy both, or when combining them makes the instruction
self-contradictory or its checks ambiguous (e.g. counting "sentences" inside a JSON object). Conflicts
that depend on parameter values (max_words 30 with min_words 50) live in ``consistency.py``.
"""

from __future__ import annotations

from selfalign.constraints.registry import get_type

_LIST_TYPES = ("bullet_count", "numbered_list")

_TABLE: dict[frozenset[str], str] = {}


def _add(a: str, others: tuple[str, ...], reason: str) -> None:
    for b in others:
        _TABLE[frozenset((a, b))] = reason


_add("lowercase", ("uppercase",), "an answer cannot be all lowercase and all uppercase")
_add("json_keys", ("uppercase",), "JSON keys and true/false/null are lowercase")
_add(
    "json_keys",
    ("bullet_count", "numbered_list", "paragraph_count", "sentence_count", "one_line"),
    "a JSON object has no list lines, paragraphs, sentences or line layout to count",
)
_add(
    "json_keys",
    ("quoted", "title", "starts_with", "ends_with"),
    "a JSON answer has no text around the object",
)
_add("one_line", ("paragraph_count", *_LIST_TYPES), "lists and paragraphs need several lines")
_add("quoted", ("starts_with", "ends_with"), "the quote mark would come before/after the phrase")
_add("quoted", _LIST_TYPES, "the quote marks would garble the first or last list item")
_add("bullet_count", ("numbered_list",), "asking for two different lists at once is contradictory")
_add("sentence_count", _LIST_TYPES, "list items are not sentences, so the sentence count is ambiguous")
_add("no_digits", ("numbered_list",), "numbered items start with digits")

CONFLICTS: dict[frozenset[str], str] = dict(_TABLE)


def conflict_reason(a_type: str, b_type: str) -> str | None:
    """Why the two types cannot be combined, or None if they can. A type conflicts with itself."""
    get_type(a_type)
    get_type(b_type)
    if a_type == b_type:
        return f"{a_type} appears twice"
    return CONFLICTS.get(frozenset((a_type, b_type)))


def compatible(a_type: str, b_type: str) -> bool:
    """True when the two types may share an instruction (params may still clash: see ``conflicts``)."""
    return conflict_reason(a_type, b_type) is None
