"""Constraints on the answer's layout: lists, sentences, paragraphs, lines."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from selfalign.constraints.base import ConstraintType
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import (
    BULLET_RE,
    NUMBERED_RE,
    normalize_newlines,
    paragraphs,
    plural,
    sentences,
)


class BulletCount(ConstraintType):
    name = "bullet_count"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 50, "number of bullet lines")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(2, 5)}

    def _describe(self, p: dict[str, Any]) -> str:
        return (
            f'Answer with exactly {plural(p["n"], "bullet point")}, each on its own line starting with "- ".'
        )

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(BULLET_RE.findall(normalize_newlines(answer)))
        return found == p["n"], f"found {plural(found, 'bullet')}, need exactly {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])


class NumberedList(ConstraintType):
    name = "numbered_list"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 50, "number of numbered items")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(2, 5)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f"Format your answer as a numbered list (1., 2., ...) with exactly {plural(p['n'], 'item')}."

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(NUMBERED_RE.findall(normalize_newlines(answer)))
        return found == p["n"], f"found {plural(found, 'numbered item')}, need exactly {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        # The item number is itself a word ("1"), plus at least one word of content.
        return 2 * int(params["n"])


class SentenceCount(ConstraintType):
    name = "sentence_count"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 200, "number of sentences")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(2, 5)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f"Answer in exactly {plural(p['n'], 'sentence')}."

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(sentences(answer))
        return found == p["n"], f"found {plural(found, 'sentence')}, need exactly {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])


class ParagraphCount(ConstraintType):
    name = "paragraph_count"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 50, "number of paragraphs")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(2, 4)}

    def _describe(self, p: dict[str, Any]) -> str:
        if p["n"] == 1:
            return "Write exactly 1 paragraph, with no blank lines."
        return f"Write exactly {p['n']} paragraphs, separated from each other by a blank line."

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(paragraphs(answer))
        return found == p["n"], f"found {plural(found, 'paragraph')}, need exactly {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])


class OneLine(ConstraintType):
    name = "one_line"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Write your whole answer on a single line, with no line breaks."

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        # Leading/trailing whitespace is ignored: a trailing newline is not a second line.
        lines = normalize_newlines(answer.strip()).split("\n")
        if len(lines) == 1:
            return True, "answer is one line"
        return False, f"found {len(lines)} lines, need 1"
