"""Counting constraints beyond words: one letter, all-capital words, the first word of a paragraph."""

from __future__ import annotations

import random
import string
from typing import Any, ClassVar

from selfalign.constraints.base import DEFAULT_WHERE, ConstraintType, RequiredText
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import paragraphs, plural, words
from selfalign.errors import DataError

LETTERS = tuple(string.ascii_lowercase)
# Letters a short answer does not use many times by accident, so the count is a real constraint.
_SAMPLED_LETTERS = ("b", "k", "w", "y", "v", "p", "m", "g", "f")
RELATIONS = ("at least", "at most")
_FIRST_WORDS = ("today", "first", "finally", "however", "next", "meanwhile", "still", "overall")


def capital_words(text: str) -> list[str]:
    """Words written in capitals: two or more letters, none lowercase ("NASA", "OK"; not "I" or "A")."""
    return [w for w in words(text) if sum(c.isalpha() for c in w) >= 2 and w.isupper()]


class LetterFrequency(ConstraintType):
    name = "letter_frequency"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "letter": ParamSpec("choice", doc="a lowercase ASCII letter", choices=LETTERS),
        "n": ParamSpec("int", 1, 200, "minimum number of occurrences"),
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"letter": rng.choice(_SAMPLED_LETTERS), "n": rng.randint(4, 10)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f'Use the letter "{p["letter"]}" at least {plural(p["n"], "time")} in your answer.'

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        letter, n = p["letter"], p["n"]
        return [
            f'The letter "{letter}" (either case) must appear {n} or more times in your reply.',
            f'Make sure the letter "{letter}" shows up no fewer than {plural(n, "time")}.',
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = answer.casefold().count(p["letter"])
        return found >= p["n"], f"found {p['letter']!r} {plural(found, 'time')}, need at least {p['n']}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["letter"], case_sensitive=False)]

    def min_words(self, params: dict[str, Any]) -> int:
        return 1


class CapitalWordFrequency(ConstraintType):
    name = "capital_word_frequency"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "relation": ParamSpec("choice", doc="at least or at most", choices=RELATIONS),
        "n": ParamSpec("int", 1, 100, "number of all-capital words"),
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        relation = rng.choice(RELATIONS)
        return {"relation": relation, "n": rng.randint(2, 4) if relation == "at least" else rng.randint(1, 3)}

    def _describe(self, p: dict[str, Any]) -> str:
        return (
            f"Write {p['relation']} {plural(p['n'], 'word')} entirely in capital letters "
            "(words of two or more letters, like IMPORTANT)."
        )

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        rel, n = p["relation"], p["n"]
        return [
            f"Your reply should contain {rel} {plural(n, 'all-caps word')} (such as NOTE or KEY).",
            f"Use ALL CAPITALS for {rel} {n} of your words; a capital word has two or more letters.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = len(capital_words(answer))
        ok = found >= p["n"] if p["relation"] == "at least" else found <= p["n"]
        return ok, f"found {plural(found, 'all-capital word')}, need {p['relation']} {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"]) if params["relation"] == "at least" else 0


class NthParagraphFirstWord(ConstraintType):
    name = "nth_paragraph_first_word"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "n": ParamSpec("int", 1, 50, "number of paragraphs"),
        "nth": ParamSpec("int", 1, 50, "which paragraph (1 = first) starts with the word"),
        "word": ParamSpec("word", doc="the word that paragraph starts with"),
    }

    def validate(
        self, params: object, where: str = DEFAULT_WHERE, prefix: str = "params", line: int | None = None
    ) -> dict[str, Any]:
        p = super().validate(params, where, prefix, line)
        if p["nth"] > p["n"]:  # a check across two params, so after each one is valid on its own
            raise DataError(where, line, f"{prefix}.nth", f"must be at most n ({p['n']}), got {p['nth']}")
        return p

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        n = rng.randint(2, 4)
        return {"n": n, "nth": rng.randint(1, n), "word": rng.choice(_FIRST_WORDS)}

    def _describe(self, p: dict[str, Any]) -> str:
        return (
            f"Write exactly {plural(p['n'], 'paragraph')} separated by blank lines, and start paragraph "
            f'{p["nth"]} with the word "{p["word"]}".'
        )

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n, nth, word = p["n"], p["nth"], p["word"]
        return [
            f"Your answer needs {n} paragraphs (blank line between them); paragraph number {nth} must begin"
            f' with "{word}".',
            f'Use {plural(n, "paragraph")} divided by empty lines, and make "{word}" the first word of'
            f" paragraph {nth}.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        paras = paragraphs(answer)
        if len(paras) != p["n"]:
            return False, f"found {plural(len(paras), 'paragraph')}, need exactly {p['n']}"
        first = words(paras[p["nth"] - 1])[:1]
        got = first[0] if first else ""
        if got.casefold() != p["word"].casefold():
            return False, f"paragraph {p['nth']} starts with {got!r}, need {p['word']!r}"
        return True, f"paragraph {p['nth']} of {p['n']} starts with {p['word']!r}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["word"], case_sensitive=False)]

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])
