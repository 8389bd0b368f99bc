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

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Your answer must be a Markdown bullet list of exactly {plural(n, 'item')} (lines starting"
            " with - or *).",
            f'Reply with {n} {"bullet" if n == 1 else "bullets"} and no more, each line beginning with "- ".',
        ]

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

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Give your answer as exactly {plural(n, 'numbered point')}, written 1., 2. and so on.",
            f"Write your answer as {plural(n, 'list line')} numbered in order, the first starting with 1.",
        ]

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

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Your reply must be exactly {plural(n, 'sentence')} long.",
            f"Use {n} {'sentence' if n == 1 else 'sentences'} in total, no more and no fewer.",
        ]

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

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        if n == 1:
            return ["Keep your answer to exactly 1 paragraph without blank lines.", "Reply in 1 paragraph."]
        return [
            f"Split your answer into {n} paragraphs, with one blank line between paragraphs.",
            f"Your response should have exactly {n} paragraphs; put an empty line between them.",
        ]

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

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Keep everything on one line: do not press Enter anywhere in your answer.",
            "Reply in a single line of text without any line breaks.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        # Leading/trailing whitespace is ignored: a trailing newline is not a second line.
        lines = normalize_newlines(answer.strip()).split("\n")
        if len(lines) == 1:
            return True, "answer is one line"
        return False, f"found {len(lines)} lines, need 1"
