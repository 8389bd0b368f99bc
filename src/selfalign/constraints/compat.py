"""Which constraint types can never share an instruction (type-level conflicts).

A pair is listed when no answer can satisfy both, or when combining them makes the instruction
self-contradictory or its checks ambiguous (e.g. counting "sentences" inside a JSON object). Conflicts
that depend on parameter values (max_words 30 with min_words 50) live in ``consistency.py``.
"""

from __future__ import annotations

from selfalign.constraints.registry import REGISTRY, get_type

_LIST_TYPES = ("bullet_count", "numbered_list")
# Types that count the answer's sentences or paragraphs: extra parts (a postscript, section headers, a
# repeated request, a second response) would make the count ambiguous.
_COUNTED_SHAPE = ("sentence_count", "paragraph_count", "nth_paragraph_first_word")
# What fixed_choice may share an instruction with: the answer is one given option, so only rules an
# option can satisfy as written are left (consistency.py checks that some option does).
_FIXED_CHOICE_OK = ("one_line", "no_commas", "no_digits", "max_words", "exclude_words")

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

# The types added for IFEval's remaining families.
_add(
    "fixed_choice",
    tuple(sorted(set(REGISTRY) - {"fixed_choice", *_FIXED_CHOICE_OK})),
    "the answer must be exactly one of the given options, which leaves no room for this rule",
)
_add("repeat_request", ("starts_with",), "the answer must start with the repeated request")
_add("repeat_request", ("quoted",), "the quote mark would come before the repeated request")
_add("repeat_request", _COUNTED_SHAPE, "the repeated request would blur the sentence/paragraph count")
_add("repeat_request", ("two_responses",), "unclear whether each response repeats the request")
_add(
    "json_keys",
    ("repeat_request", "two_responses", "numbered_sections", "postscript", "highlighted_sections"),
    "a JSON answer has no text, lines or Markdown around the object",
)
_add("json_keys", ("nth_paragraph_first_word",), "a JSON object has no paragraphs")
_add("two_responses", ("one_line", "numbered_sections"), "the separator needs its own line")
_add("two_responses", ("quoted",), "unclear whether one pair of quotes or one per response")
_add(
    "two_responses",
    (*_COUNTED_SHAPE, *_LIST_TYPES),
    "unclear whether the count applies to each response or to both together",
)
_add("numbered_sections", ("one_line",), "section headers need their own lines")
_add("numbered_sections", ("quoted",), "the quote mark would come before the first header")
_add("numbered_sections", _COUNTED_SHAPE, "header lines would blur the sentence/paragraph count")
_add("numbered_sections", ("no_digits",), "section headers are numbered with digits")
_add("postscript", ("one_line",), "the postscript needs its own line")
_add("postscript", ("quoted",), "unclear whether the postscript belongs inside the quotes")
_add("postscript", _COUNTED_SHAPE, "unclear whether the postscript counts as a sentence/paragraph")
_add("nth_paragraph_first_word", ("paragraph_count",), "both set the number of paragraphs")
_add("nth_paragraph_first_word", ("one_line",), "paragraphs need several lines")
_add("nth_paragraph_first_word", (*_LIST_TYPES, "title"), "a list or title line blurs paragraph starts")
_add("capital_word_frequency", ("lowercase", "uppercase"), "a whole-answer case rule fixes this count")

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
