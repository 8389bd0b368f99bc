"""Parameter schemas of constraint types, and their validation.

Every bad value raises :class:`selfalign.errors.DataError` whose field is ``<prefix>.<name>`` (by default
``params.n``), so a message read from a data file points at the exact key to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from selfalign.constraints.text import folded_words, words
from selfalign.errors import DataError

# int: a whole number in [lo, hi]. phrase: one line of text, no surrounding whitespace.
# word: exactly one word (see text.WORD_RE). words: list of words/short phrases (lo..MAX_ITEMS of them).
# keys: list of JSON keys. choice: one of ``choices`` exactly (a fixed vocabulary: languages, markers).
Kind = Literal["int", "phrase", "word", "words", "keys", "choice"]

MAX_TEXT = 200  # characters per phrase/word/key: longer is a data bug, not an instruction
MAX_ITEMS = 10  # items per list parameter


@dataclass(frozen=True)
class ParamSpec:
    kind: Kind
    lo: int = 1
    hi: int = 10_000
    doc: str = ""
    choices: tuple[str, ...] = ()


def validate_params(
    params: object, specs: dict[str, ParamSpec], where: str, prefix: str, line: int | None = None
) -> dict[str, Any]:
    """Check ``params`` against ``specs``; return a normalized copy (lists copied, nothing else changed)."""
    if not isinstance(params, dict):
        raise DataError(where, line, prefix, f"must be an object, got {type(params).__name__}")
    for name in params:
        if name not in specs:
            allowed = ", ".join(sorted(specs)) or "none"
            raise DataError(where, line, f"{prefix}.{name}", f"unknown parameter (allowed: {allowed})")
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        field = f"{prefix}.{name}"
        if name not in params:
            raise DataError(where, line, field, f"missing ({spec.doc or spec.kind})")
        out[name] = _validate_value(params[name], spec, where, line, field)
    return out


def _validate_value(value: object, spec: ParamSpec, where: str, line: int | None, field: str) -> Any:
    def bad(message: str) -> DataError:
        return DataError(where, line, field, message)

    if spec.kind == "int":
        # bool is an int subclass in Python; true/false in a data file is a mistake, not 1/0.
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad(f"must be an integer, got {value!r}")
        if not spec.lo <= value <= spec.hi:
            raise bad(f"must be between {spec.lo} and {spec.hi}, got {value}")
        return value
    if spec.kind in ("phrase", "word"):
        return _validate_text(value, spec.kind, bad)
    if spec.kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise bad(f"must be one of {', '.join(spec.choices)}, got {value!r}")
        return value
    if not isinstance(value, list):
        raise bad(f"must be a list of strings, got {type(value).__name__}")
    # For lists ``lo`` is the fewest items (1 unless a type needs more, e.g. two options to choose from).
    if not spec.lo <= len(value) <= MAX_ITEMS:
        raise bad(f"must hold {spec.lo} to {MAX_ITEMS} items, got {len(value)}")
    items = [_validate_text(v, "key" if spec.kind == "keys" else "phrase", bad) for v in value]
    # Duplicates would make the description read oddly ("the words x and x"); JSON keys are case-sensitive.
    seen = items if spec.kind == "keys" else [" ".join(folded_words(v)) for v in items]
    if len(set(seen)) != len(seen):
        raise bad(f"has duplicate items: {items!r}")
    return items


def _validate_text(value: object, kind: str, bad: Any) -> str:
    if not isinstance(value, str):
        raise bad(f"must be a string, got {value!r}")
    if not value.strip():
        raise bad("must not be empty")
    if len(value) > MAX_TEXT:
        raise bad(f"must be at most {MAX_TEXT} characters, got {len(value)}")
    if kind == "key":
        return value
    if value != value.strip() or "\n" in value or "\r" in value:
        raise bad(f"must be one line without leading/trailing whitespace, got {value!r}")
    tokens = words(value)
    if not tokens:
        raise bad(f"must contain at least one word, got {value!r}")
    if kind == "word" and tokens != [value]:
        raise bad(f"must be a single word (letters/digits, inner apostrophe allowed), got {value!r}")
    return value
