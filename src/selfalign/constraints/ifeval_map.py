"""Which of our constraint types cover each IFEval instruction id (Zhou et al. 2023).

Only IFEval's public taxonomy (its 9 groups and 25 instruction-id names) is listed; none of its prompts,
wordings or data are used. ``note`` says where our check differs from the instruction it stands in for,
so a reader comparing numbers knows what is and is not the same measurement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IfevalCover:
    ifeval_id: str  # "<group>:<instruction>", e.g. "detectable_format:title"
    types: tuple[str, ...]  # our registry type names that check this kind of instruction
    note: str = ""

    @property
    def group(self) -> str:
        return self.ifeval_id.split(":", 1)[0]


IFEVAL_COVERAGE: tuple[IfevalCover, ...] = (
    IfevalCover("change_case:capital_word_frequency", ("capital_word_frequency",)),
    IfevalCover(
        "change_case:english_capital", ("uppercase",), "any script's cased letters, not only English"
    ),
    IfevalCover(
        "change_case:english_lowercase", ("lowercase",), "any script's cased letters, not only English"
    ),
    IfevalCover(
        "combination:repeat_prompt",
        ("repeat_request",),
        "the request is the instruction before the constraint sentences; whitespace runs are collapsed",
    ),
    IfevalCover(
        "combination:two_responses",
        ("two_responses",),
        "separator must be a line of its own; parts must differ",
    ),
    IfevalCover(
        "detectable_content:number_placeholders", ("placeholders",), "[x] before ( is a link, not counted"
    ),
    IfevalCover("detectable_content:postscript", ("postscript",), "marker must start a line after some text"),
    IfevalCover(
        "detectable_format:constrained_response", ("fixed_choice",), "the whole answer must be one option"
    ),
    IfevalCover("detectable_format:json_format", ("json_keys",), "also requires the listed top-level keys"),
    IfevalCover(
        "detectable_format:multiple_sections", ("numbered_sections",), "headers numbered 1..n in order"
    ),
    IfevalCover("detectable_format:number_bullet_lists", ("bullet_count",)),
    IfevalCover("detectable_format:number_highlighted_sections", ("highlighted_sections",)),
    IfevalCover("detectable_format:title", ("title",)),
    IfevalCover("keywords:existence", ("include_words",)),
    IfevalCover("keywords:forbidden_words", ("exclude_words",)),
    IfevalCover("keywords:frequency", ("word_frequency",), "'at least' only"),
    IfevalCover("keywords:letter_frequency", ("letter_frequency",), "'at least' only"),
    IfevalCover(
        "language:response_language",
        ("response_language",),
        "Unicode script share plus stopword lists for 13 languages; no statistical language detector",
    ),
    IfevalCover(
        "length_constraints:nth_paragraph_first_word",
        ("nth_paragraph_first_word",),
        "paragraphs are separated by blank lines, not by a *** line",
    ),
    IfevalCover(
        "length_constraints:number_paragraphs",
        ("paragraph_count",),
        "paragraphs are separated by blank lines, not by a *** line",
    ),
    IfevalCover("length_constraints:number_sentences", ("sentence_count",), "exact count, regex splitter"),
    IfevalCover("length_constraints:number_words", ("max_words", "min_words")),
    IfevalCover("punctuation:no_comma", ("no_commas",), "fullwidth comma counts too"),
    IfevalCover("startend:end_checker", ("ends_with",)),
    IfevalCover("startend:quotation", ("quoted",), "curly double quotes accepted"),
)

IFEVAL_GROUPS: tuple[str, ...] = tuple(sorted({c.group for c in IFEVAL_COVERAGE}))

# Our types with no IFEval counterpart (extra coverage, not a gap).
UNMAPPED_TYPES: frozenset[str] = frozenset({"numbered_list", "starts_with", "no_digits", "one_line"})


def types_for(ifeval_id: str) -> tuple[str, ...]:
    """Our types covering one IFEval instruction id; KeyError names the known ids if it is unknown."""
    for cover in IFEVAL_COVERAGE:
        if cover.ifeval_id == ifeval_id:
            return cover.types
    raise KeyError(
        f"unknown IFEval instruction id {ifeval_id!r} (known: {[c.ifeval_id for c in IFEVAL_COVERAGE]})"
    )
