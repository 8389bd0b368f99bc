"""Which steer each constraint type gets, and the RowSteer of one row built from its constraint dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from selfalign.constraints.registry import REGISTRY, validate_constraints
from selfalign.steer import chars, counts, grammar, layout, phrases
from selfalign.steer.base import Part
from selfalign.steer.row import Steer
from selfalign.steer.vocab import VocabTable

# Order matters where parts insert: openings first (starts_with before a list's first marker), closings
# last (``Part.final``).
STEERS: dict[str, type[Part]] = {
    "starts_with": phrases.StartsWith,
    "repeat_request": phrases.RepeatRequest,
    "fixed_choice": phrases.FixedChoice,
    "json_keys": grammar.JsonKeys,
    "quoted": layout.Quoted,
    "title": layout.Title,
    "numbered_sections": layout.NumberedSections,
    "bullet_count": layout.ListLines,
    "numbered_list": layout.NumberedList,
    "nth_paragraph_first_word": counts.NthParagraphFirstWord,
    "paragraph_count": counts.ParagraphCount,
    "sentence_count": counts.SentenceCount,
    "lowercase": chars.Lowercase,
    "uppercase": chars.Uppercase,
    "no_commas": chars.NoCommas,
    "no_digits": chars.NoDigits,
    "one_line": chars.OneLine,
    "response_language": chars.ResponseLanguage,
    "max_words": counts.MaxWords,
    "min_words": counts.MinWords,
    "capital_word_frequency": counts.CapitalWordFrequency,
    "letter_frequency": counts.LetterFrequency,
    "include_words": phrases.IncludeWords,
    "word_frequency": phrases.WordFrequency,
    "exclude_words": phrases.ExcludeWords,
    "placeholders": layout.Placeholders,
    "highlighted_sections": layout.HighlightedSections,
    "two_responses": layout.TwoResponses,
    "postscript": phrases.Postscript,
    "ends_with": phrases.EndsWith,
}
_ORDER = {name: i for i, name in enumerate(STEERS)}
assert set(STEERS) == set(REGISTRY), sorted(set(REGISTRY) ^ set(STEERS))


def unsteerable(constraints: Sequence[dict[str, Any]]) -> str | None:
    """Why these constraints are not steered, or None. A response language other than English: the script
    mask says nothing for a shared script and the function-word push makes the *check* pass, not the text
    the language — 4 of the sixth proof run's 6 usable German, French and Spanish steered samples were
    code-switched salad ("Electric cars are more expensive than hay hay. The El conductor ..."), and QC
    rejected 14 of its 21 (docs/CONSTRAINTS.md, "Response language")."""
    for c in constraints:
        if c["type"] == "response_language" and c["params"]["language"] != "English":
            return "response_language"
    return None


def build_steer(
    constraints: Sequence[dict[str, Any]],
    table: VocabTable,
    eos_ids: set[int],
    stops: Sequence[str],
    max_new_tokens: int,
) -> Steer:
    """The steer of one row. The constraints are validated as a set (``DataError`` on a bad or
    conflicting one: a steer cannot obey two rules no answer can)."""
    cs = validate_constraints(list(constraints), where="<constraints>")
    cs.sort(key=lambda c: _ORDER[c["type"]])
    parts = [STEERS[c["type"]](c["params"]) for c in cs]
    return Steer(parts, table, eos_ids, stops, max_new_tokens)


def with_length_floor(constraints: Sequence[dict[str, Any]], n: int | None) -> list[dict[str, Any]]:
    """The constraints a steered row is held to when its answer should run at least ``n`` words: a
    ``min_words`` steer is added (or an asked one raised to ``n``) where every constraint's steer leaves
    the length open (``Part.open_length``); elsewhere the constraints as they are. The floor only steers:
    the sample is still checked against the instruction's own constraints."""
    cs = [dict(c) for c in constraints]
    if not n or not all(STEERS[c["type"]].open_length for c in cs):
        return cs
    if not any(c["type"] == "min_words" for c in cs):
        return [*cs, {"type": "min_words", "params": {"n": n}}]
    return [{**c, "params": {"n": max(n, c["params"]["n"])}} if c["type"] == "min_words" else c for c in cs]
