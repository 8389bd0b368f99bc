"""All constraint types by name, the held-out split, and validation of constraint dicts."""

from __future__ import annotations

from typing import Any

from selfalign.constraints.base import DEFAULT_WHERE, ConstraintType
from selfalign.constraints.counting import CapitalWordFrequency, LetterFrequency, NthParagraphFirstWord
from selfalign.constraints.framing import FixedChoice, RepeatRequest
from selfalign.constraints.language import ResponseLanguage
from selfalign.constraints.layout import BulletCount, NumberedList, OneLine, ParagraphCount, SentenceCount
from selfalign.constraints.lexical import Lowercase, MaxWords, MinWords, NoCommas, NoDigits, Uppercase
from selfalign.constraints.markup import JsonKeys, Placeholders, Quoted, Title
from selfalign.constraints.sections import HighlightedSections, NumberedSections, Postscript, TwoResponses
from selfalign.constraints.wording import EndsWith, ExcludeWords, IncludeWords, StartsWith, WordFrequency
from selfalign.errors import DataError

REGISTRY: dict[str, ConstraintType] = {
    t.name: t
    for t in (
        BulletCount(), NumberedList(), Lowercase(), Uppercase(), MaxWords(), MinWords(), NoCommas(),
        JsonKeys(), IncludeWords(), ExcludeWords(), StartsWith(), EndsWith(), SentenceCount(),
        ParagraphCount(), WordFrequency(), Quoted(), Title(), Placeholders(), NoDigits(), OneLine(),
        # Added to cover every IFEval instruction family (see ifeval.py for the mapping):
        LetterFrequency(), CapitalWordFrequency(), NthParagraphFirstWord(), Postscript(),
        HighlightedSections(), NumberedSections(), TwoResponses(), FixedChoice(), RepeatRequest(),
        ResponseLanguage(),
    )
}  # fmt: skip

# Never used to build training data; evaluation uses them to measure generalisation to unseen
# constraints. Chosen so they pair freely with each other and most train types (see compat.py).
HELD_OUT_TYPES: frozenset[str] = frozenset(
    {"quoted", "title", "word_frequency", "letter_frequency", "highlighted_sections"}
)


def all_types() -> list[str]:
    """Every type name, sorted."""
    return sorted(REGISTRY)


def train_types() -> list[str]:
    """Type names training-data augmentation may use (all but :data:`HELD_OUT_TYPES`), sorted."""
    return sorted(set(REGISTRY) - HELD_OUT_TYPES)


def _join(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def get_type(
    name: object, where: str = DEFAULT_WHERE, line: int | None = None, field: str = ""
) -> ConstraintType:
    """The registered type called ``name``; ``DataError`` on ``<field>.type`` if there is none."""
    if not isinstance(name, str) or name not in REGISTRY:
        known = ", ".join(all_types())
        message = f"unknown constraint type {name!r} (known: {known})"
        raise DataError(where, line, _join(field, "type"), message)
    return REGISTRY[name]


def validate_constraint(
    obj: object, where: str = DEFAULT_WHERE, line: int | None = None, field: str = ""
) -> dict[str, Any]:
    """Check one ``{"type": ..., "params": {...}}`` dict; return a normalized copy.

    ``where``/``line`` locate the record (a file path and line), ``field`` the constraint inside it (e.g.
    ``constraints[1]``), so an error reads ``data.jsonl:7: constraints[1].params.n: must be ...``.
    ``params`` may be omitted for types that take none.
    """
    if not isinstance(obj, dict):
        raise DataError(where, line, field or "constraint", f"must be an object, got {type(obj).__name__}")
    extra = sorted(set(obj) - {"type", "params"})
    if extra:
        raise DataError(where, line, _join(field, extra[0]), "unknown key (a constraint has type and params)")
    if "type" not in obj:
        raise DataError(where, line, _join(field, "type"), "missing")
    ctype = get_type(obj["type"], where, line, field)
    params = ctype.validate(obj.get("params", {}), where, _join(field, "params"), line)
    return {"type": ctype.name, "params": params}


def validate_constraints(
    obj: object, where: str = DEFAULT_WHERE, line: int | None = None, field: str = "constraints"
) -> list[dict[str, Any]]:
    """Check a list of constraints, including that no two conflict (see ``consistency.conflicts``)."""
    from selfalign.constraints.consistency import conflicts  # consistency imports this module

    if not isinstance(obj, list):
        raise DataError(where, line, field, f"must be a list, got {type(obj).__name__}")
    out = [validate_constraint(c, where, line, f"{field}[{i}]") for i, c in enumerate(obj)]
    problems = conflicts(out)
    if problems:
        raise DataError(where, line, field, f"conflicting constraints: {problems[0]}")
    return out
