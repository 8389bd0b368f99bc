"""Constraints on markup in the answer: JSON, surrounding quotes, <<title>>, [placeholders]."""

from __future__ import annotations

import json
import random
import re
from typing import Any, ClassVar

from selfalign.constraints import vocab
from selfalign.constraints.base import ConstraintType, RequiredText
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import WORD_RE, plural, quote_list, unfence_json, words

# <<title>> on one line, holding at least one word character.
_TITLE_RE = re.compile(r"<<([^<>\n]+)>>")
# [name] on one line, holding a word character; a Markdown link "[text](url)" is not a placeholder.
_PLACEHOLDER_RE = re.compile(r"\[([^\[\]\n]+)\](?!\()")
# Straight or typographic double quotes (mixed pairs too: tokenizers and editors mix them).
_OPENING_QUOTES = ('"', "“")
_CLOSING_QUOTES = ('"', "”")


class JsonKeys(ConstraintType):
    name = "json_keys"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "keys": ParamSpec("keys", doc="list of keys the JSON object must have")
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"keys": rng.sample(vocab.JSON_KEYS, rng.randint(1, 3))}

    def _describe(self, p: dict[str, Any]) -> str:
        keys = quote_list(p["keys"], "and")
        noun = "key" if len(p["keys"]) == 1 else "keys"
        return f"Answer only with a JSON object that has the {noun} {keys}, and no other text."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        keys = quote_list(p["keys"], "and")
        noun = "key" if len(p["keys"]) == 1 else "keys"
        return [
            f"Reply with valid JSON only: one object with the {noun} {keys}.",
            f"Format your entire output as a JSON object containing the {noun} {keys}; write nothing else.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        body = unfence_json(answer)
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as e:
            return False, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        if not isinstance(obj, dict):
            return False, f"JSON is a {type(obj).__name__}, need an object"
        missing = [k for k in p["keys"] if k not in obj]
        if missing:
            return False, f"JSON object lacks keys {missing}, has {sorted(obj)}"
        return True, f"JSON object has all {len(p['keys'])} keys"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(k, case_sensitive=True) for k in params["keys"]]

    def min_words(self, params: dict[str, Any]) -> int:
        return sum(len(words(k)) for k in params["keys"])


class Quoted(ConstraintType):
    name = "quoted"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Wrap your entire answer in double quotation marks."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            'Put your whole response inside double quotes, starting and ending with ".',
            "Enclose the full answer in a pair of double quotation marks.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        s = answer.strip()
        if len(s) >= 2 and s.startswith(_OPENING_QUOTES) and s.endswith(_CLOSING_QUOTES):
            if WORD_RE.search(s[1:-1]):
                return True, "answer is wrapped in double quotes"
            return False, "quotes wrap no words"
        return False, f"answer starts with {s[:1]!r} and ends with {s[-1:]!r}, need double quotes"

    def min_words(self, params: dict[str, Any]) -> int:
        return 1


class Title(ConstraintType):
    name = "title"

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {}

    def _describe(self, p: dict[str, Any]) -> str:
        return "Give your answer a title wrapped in double angle brackets, such as <<my title>>."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Include a title in your reply, written between << and >>, for example <<a short title>>.",
            "Add a title surrounded by double angle brackets, like <<title here>>.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        for m in _TITLE_RE.finditer(answer):
            if WORD_RE.search(m.group(1)):
                return True, f"found title <<{m.group(1).strip()}>>"
        return False, "found no <<title>>"

    def min_words(self, params: dict[str, Any]) -> int:
        return 1


class Placeholders(ConstraintType):
    name = "placeholders"
    specs: ClassVar[dict[str, ParamSpec]] = {"n": ParamSpec("int", 1, 50, "minimum number of [placeholders]")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randint(1, 3)}

    def _describe(self, p: dict[str, Any]) -> str:
        n = p["n"]
        if n == 1:
            return "Include at least 1 placeholder in square brackets, such as [name]."
        return f"Include at least {n} placeholders in square brackets, such as [name] and [date]."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        n = p["n"]
        return [
            f"Leave at least {plural(n, 'placeholder')} for the reader to fill in, written in square brackets"
            " like [address].",
            f"Your answer must contain {n} or more bracketed placeholders, for example [company].",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = [m.group(0) for m in _PLACEHOLDER_RE.finditer(answer) if WORD_RE.search(m.group(1))]
        return len(found) >= p["n"], f"found {plural(len(found), 'placeholder')}, need at least {p['n']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])
