"""Constraints on the answer's parts: postscript, highlighted spans, labelled sections, two responses."""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from selfalign.constraints.base import ConstraintType, RequiredText
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import WORD_RE, normalize_newlines, plural

POSTSCRIPT_MARKERS = ("P.S.", "P.P.S.")
SECTION_LABELS = ("Section", "Part", "Chapter")
# The separator line between two responses: six asterisks alone on their line.
RESPONSE_SEPARATOR = "******"
_SEPARATOR_RE = re.compile(r"^[ \t]*\*{6}[ \t]*$", re.MULTILINE)
# *span* or **span** on one line; the span starts and ends with a non-space, so "* item" bullets and
# "a * b" arithmetic are not highlights. Counted only when the span holds a word character.
_HIGHLIGHT_RE = re.compile(r"(\*{1,2})(?=[^\s*])([^*\n]*?[^\s*])\1(?!\*)")


def highlights(text: str) -> list[str]:
    """The highlighted spans of ``text`` (``*x*`` or ``**x**``) that hold a word."""
    return [m.group(2) for m in _HIGHLIGHT_RE.finditer(text) if WORD_RE.search(m.group(2))]


class Postscript(ConstraintType):
    name = "postscript"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "marker": ParamSpec("choice", doc="how the postscript starts", choices=POSTSCRIPT_MARKERS)
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"marker": rng.choice(POSTSCRIPT_MARKERS)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f'At the end of your answer, add a postscript on its own line starting with "{p["marker"]}".'

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        m = p["marker"]
        return [
            f"Finish with a short postscript: a new line that begins with {m} followed by a note.",
            f'After the main answer, add a line starting "{m}" with an extra remark.',
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        # Case-insensitive so that "p.s." obeys a lowercase rule; the marker must start a line that has
        # words after it, and the answer must have words before it (a postscript follows something).
        marker = re.escape(p["marker"])
        text = normalize_newlines(answer)
        for m in re.finditer(rf"^[ \t]*{marker}(.*)$", text, re.MULTILINE | re.IGNORECASE):
            if not WORD_RE.search(m.group(1)):
                continue
            if not WORD_RE.search(text[: m.start()]):
                return False, f"{p['marker']} line comes first, with nothing before it"
            return True, f"found postscript line {m.group(0).strip()[:40]!r}"
        return False, f"found no line starting with {p['marker']!r} followed by words"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["marker"], case_sensitive=False)]

    def min_words(self, params: dict[str, Any]) -> int:
        # A word of answer, the marker's letters (P, S or P, P, S) and a word of postscript.
        return 2 + len(WORD_RE.findall(params["marker"]))


class HighlightedSections(ConstraintType):
    name = "highlighted_sections"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 50, "minimum number of *highlights*")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(1, 3)}

    def _describe(self, p: dict[str, Any]) -> str:
        return (
            f"Highlight at least {plural(p['n'], 'part')} of your answer with Markdown asterisks, "
            "like *this part*."
        )

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Mark {n} or more key phrases in Markdown italics or bold, for example *key phrase*.",
            f"Emphasise at least {plural(n, 'section')} by wrapping {'it' if n == 1 else 'each'} in"
            " asterisks such as *important*.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(highlights(answer))
        return found >= p["n"], f"found {plural(found, 'highlighted span')}, need at least {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])


def section_numbers(text: str, label: str) -> list[int]:
    """Numbers of the ``<label> <n>`` header lines, in order (case-insensitive, ``#`` heading allowed)."""
    header = re.compile(rf"^[ \t]*(?:#+[ \t]*)?{re.escape(label)}[ \t]+(\d+)\b", re.MULTILINE | re.IGNORECASE)
    return [int(m.group(1)) for m in header.finditer(normalize_newlines(text))]


class NumberedSections(ConstraintType):
    name = "numbered_sections"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "n": ParamSpec("int", 1, 20, "number of sections"),
        "label": ParamSpec("choice", doc="word that starts each section header", choices=SECTION_LABELS),
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(2, 4), "label": rng.choice(SECTION_LABELS)}

    def _describe(self, p: dict[str, Any]) -> str:
        n, label = p["n"], p["label"]
        return f"Divide your answer into {plural(n, 'section')}, each starting with a line such as {label} 1."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n, label = p["n"], p["label"]
        return [
            f"Organise the reply as {n} numbered {label.lower()}s: begin them with {label} 1, {label} 2"
            " and so on, each header on its own line.",
            f"Your response must have exactly {n} parts headed {label} 1 to {label} {n}, one header"
            " per line.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = section_numbers(answer, p["label"])
        want = list(range(1, p["n"] + 1))
        if found != want:
            return False, f"found {p['label']} headers numbered {found}, need {want}"
        return True, f"found {p['label']} 1 to {p['n']}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        # The label is English and matched case-insensitively (so "SECTION 1" obeys an uppercase rule).
        return [RequiredText(params["label"], case_sensitive=False)]

    def min_words(self, params: dict[str, Any]) -> int:
        return 2 * int(params["n"])  # label and number per header


class TwoResponses(ConstraintType):
    name = "two_responses"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return (
            "Give two different answers, separated by a line holding only six asterisks: "
            f"{RESPONSE_SEPARATOR}."
        )

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            f"Write two distinct responses with a line of six asterisks ({RESPONSE_SEPARATOR}) between them.",
            f"Offer two alternative replies, one after the other, split by the line {RESPONSE_SEPARATOR}.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        parts = _SEPARATOR_RE.split(normalize_newlines(answer))
        if len(parts) != 2:
            return False, f"found {plural(len(parts) - 1, 'separator line')}, need exactly 1"
        first, second = (" ".join(x.split()).casefold() for x in parts)
        if not WORD_RE.search(first) or not WORD_RE.search(second):
            return False, "one of the two responses is empty"
        if first == second:
            return False, "the two responses are the same"
        return True, "found two different responses"

    def min_words(self, params: dict[str, Any]) -> int:
        return 2
