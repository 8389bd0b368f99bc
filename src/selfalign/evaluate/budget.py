"""Held-out items that no answer can pass within the evaluation's token budget.

A constraint that needs ``n`` words (``ConstraintType.min_words``: min_words 100, five paragraphs of ...)
cannot be met by an answer of fewer than ``n`` tokens, since every word is at least one token. Scoring such
an item is not a measurement: every condition fails it whatever it writes, and the pass rates and the lift
shrink toward zero with no sign of why (issue 26: proof.yaml drew min_words 100 for answers of at most 96
tokens). So the evaluation refuses the file before generating anything, naming the first such item.
"""

from __future__ import annotations

from pathlib import Path

from selfalign.constraints import validate_constraints
from selfalign.constraints.check import words_needed
from selfalign.data.jsonl import iter_jsonl
from selfalign.errors import DataError


def check_budget(path: str | Path, max_new_tokens: int, setting: str = "evaluate.max_new_tokens") -> None:
    """Raise ``DataError`` (file, line, field) for the first item whose constraints need more words than
    ``max_new_tokens`` tokens can hold; return quietly when every item can be passed."""
    for line, rec in iter_jsonl(path):
        raw = rec.get("constraints")
        cons = (
            [] if raw is None else validate_constraints(raw, str(path), line, "constraints")
        )  # params filled
        need, i = words_needed(cons)
        if need > max_new_tokens:
            c = cons[i]
            raise DataError(
                path, line, f"constraints[{i}]",
                f"{c['type']} {c['params']} needs at least {need} words, but {setting} is {max_new_tokens} "
                "(every word is at least one token): no answer can pass it; raise it or drop the item",
            )  # fmt: skip
