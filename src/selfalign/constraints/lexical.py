"""Constraints on characters and length: letter case, word counts, commas, digits."""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from selfalign.constraints.base import ConstraintType
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import plural, words

# ASCII comma and the fullwidth comma (U+FF0C): both read as "a comma" to a reader.
_COMMA_RE = re.compile("[,\uff0c]")
# Any Unicode decimal digit (0-9, Arabic-Indic, fullwidth, ...).
_DIGIT_RE = re.compile(r"\d")


def has_comma(text: str) -> bool:
    return bool(_COMMA_RE.search(text))


def has_digit(text: str) -> bool:
    return bool(_DIGIT_RE.search(text))


def _show(chars: list[str]) -> str:
    """The first few offending characters, for a readable detail."""
    shown = "".join(dict.fromkeys(chars))[:10]
    return f"{len(chars)} ({shown!r})"


class Lowercase(ConstraintType):
    name = "lowercase"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Write your entire answer in lowercase letters, with no capital letters at all."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Use only lowercase letters in your reply; no capitals anywhere, not even at sentence starts.",
            "Your whole response must be in lowercase.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        upper = [c for c in answer if c.isupper()]
        if upper:
            return False, f"found uppercase letters: {_show(upper)}"
        # An answer with no cased letters ("42!") did not write anything in lowercase.
        if not any(c.islower() for c in answer):
            return False, "found no lowercase letters"
        return True, "no uppercase letters"


class Uppercase(ConstraintType):
    name = "uppercase"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Write your entire answer in capital letters only, with no lowercase letters at all."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Your whole response must be in uppercase letters.",
            "Use capital letters for every letter of your response, with no lowercase at all.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        lower = [c for c in answer if c.islower()]
        if lower:
            return False, f"found lowercase letters: {_show(lower)}"
        if not any(c.isupper() for c in answer):
            return False, "found no uppercase letters"
        return True, "no lowercase letters"


class MaxWords(ConstraintType):
    name = "max_words"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 10_000, "maximum number of words")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.choice((40, 60, 80, 100, 150, 200))}

    def _describe(self, p: dict[str, Any]) -> str:
        return f"Use at most {plural(p['n'], 'word')}."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Keep your answer under {n + 1} words ({n} at most).",
            f"Your reply must not be longer than {plural(n, 'word')}.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(words(answer))
        return found <= p["n"], f"found {plural(found, 'word')}, need at most {p['n']}"


class MinWords(ConstraintType):
    name = "min_words"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 10_000, "minimum number of words")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.choice((20, 40, 60, 80, 100))}

    def _describe(self, p: dict[str, Any]) -> str:
        return f"Write at least {plural(p['n'], 'word')}."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Your answer should be no shorter than {plural(n, 'word')}.",
            f"Make your reply {n} words long or longer.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(words(answer))
        return found >= p["n"], f"found {plural(found, 'word')}, need at least {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])


class NoCommas(ConstraintType):
    name = "no_commas"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Do not use any commas."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Avoid commas entirely in your response.",
            "Your answer must not contain a single comma.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(_COMMA_RE.findall(answer))
        return found == 0, f"found {plural(found, 'comma')}, need 0"


class NoDigits(ConstraintType):
    name = "no_digits"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Do not use any digits; write any numbers out in words."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Spell out every number in words; your answer must contain no digits.",
            "Avoid numerals (0 to 9) completely and write numbers as words.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = _DIGIT_RE.findall(answer)
        if found:
            return False, f"found digits: {_show(found)}"
        return True, "found no digits"
