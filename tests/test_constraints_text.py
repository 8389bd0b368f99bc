"""The documented text rules: words, sentences, paragraphs, list lines, JSON fences."""

from __future__ import annotations

import pytest

from selfalign.constraints.text import (
    BULLET_RE,
    NUMBERED_RE,
    count_phrase,
    folded_words,
    paragraphs,
    sentences,
    unfence_json,
    words,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Don't stop, it’s fine.", ["Don't", "stop", "it’s", "fine"]),
        ("well-known e-mail", ["well", "known", "e", "mail"]),
        ("Costs $3.50 (about 3,000 yen)!", ["Costs", "3", "50", "about", "3", "000", "yen"]),
        ("naïve café 東京", ["naïve", "café", "東京"]),
        ("'quoted' -- ... !!", ["quoted"]),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("No final stop", ["No final stop"]),
        ("Wait... what?! Really.", ["Wait...", "what?!", "Really."]),
        ("It costs 3.5 dollars. See example.com now.", ["It costs 3.5 dollars.", "See example.com now."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Heading without stop\n\nBody text.", ["Heading without stop", "Body text."]),
        ("A line\nwrapped here.", ["A line\nwrapped here."]),
        ("... ! -", []),
        ("e.g. this splits", ["e.g.", "this splits"]),  # documented limitation of the simple splitter
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_paragraphs_split_on_blank_lines_including_whitespace_only_and_crlf() -> None:
    text = "\n\nFirst para\nsame para.\r\n\r\nSecond.\n \t\nThird.\n\n\n\n"
    assert paragraphs(text) == ["First para\nsame para.", "Second.", "Third."]
    assert paragraphs("   ") == []


def test_list_line_patterns() -> None:
    text = "- a\n  * b\n*c\n**bold**\n-5 degrees\n---\n1. x\n  10) y\n3.5 kg\n2.\n"
    assert len(BULLET_RE.findall(text)) == 2
    assert len(NUMBERED_RE.findall(text)) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('```JSON\n{"a": 1}\n```\n', '{"a": 1}'),
        ('```\n{"a": 1}\n```', '{"a": 1}'),
        ('```json {"a": 1}```', '{"a": 1}'),
        ('  {"a": 1}  ', '{"a": 1}'),
        ('Here:\n```json\n{"a": 1}\n```', 'Here:\n```json\n{"a": 1}\n```'),  # text outside: no unfencing
    ],
)
def test_unfence_json(text: str, expected: str) -> None:
    assert unfence_json(text) == expected


def test_count_phrase_counts_contiguous_case_folded_tokens() -> None:
    tokens = folded_words("New York, new york! NEW jersey")
    assert count_phrase(tokens, ["new", "york"]) == 2
    # Matching is on word tokens, so punctuation between words does not break a phrase (documented).
    assert count_phrase(tokens, ["york", "new"]) == 2
    assert count_phrase(tokens, ["new", "jersey"]) == 1
    assert count_phrase(tokens, ["jersey", "new"]) == 0
    assert count_phrase(tokens, []) == 0
