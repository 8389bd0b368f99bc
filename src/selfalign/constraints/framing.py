"""Constraints on the answer as a whole: pick one fixed option, or repeat the request before answering."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from selfalign.constraints.base import ConstraintType, RequiredText
from selfalign.constraints.params import MAX_TEXT, ParamSpec
from selfalign.constraints.text import WORD_RE, quote_list, words

# Option sets for questions that have a short fixed answer. Our own wording.
OPTION_SETS: tuple[tuple[str, ...], ...] = (
    ("My answer is yes.", "My answer is no.", "My answer is maybe."),
    ("Yes", "No"),
    ("True", "False"),
    ("Agree", "Disagree", "Not sure"),
    ("Likely", "Unlikely"),
)

# Stand-in requests so ``sample_params`` gives valid params on its own; ``bind`` replaces them with the
# instruction the constraint is attached to.
_SAMPLE_REQUESTS = (
    "Describe a quiet street at night",
    "Explain why leaves change colour in autumn",
    "Suggest a name for a small bakery",
    "Summarize the plot of a heist film",
)


def _squash(text: str) -> str:
    """Whitespace runs collapsed to one space: a re-wrapped line still repeats the request."""
    return " ".join(text.split())


class FixedChoice(ConstraintType):
    name = "fixed_choice"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "options": ParamSpec("words", lo=2, doc="the allowed answers (2 to 10)"),
    }
    attachable = False  # a question must be written for its options; augment never draws this type

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"options": list(rng.choice(OPTION_SETS))}

    def _describe(self, p: dict[str, Any]) -> str:
        return f"Answer with exactly one of these options and nothing else: {quote_list(p['options'], 'or')}."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        listed = quote_list(p["options"], "or")
        return [
            f"Reply only with {listed}, copied exactly.",
            f"Your entire response must be one of the following: {listed}.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        got = _squash(answer)
        if got in [_squash(o) for o in p["options"]]:
            return True, f"answer is the option {got!r}"
        return False, f"answer {got[:40]!r} is none of {p['options']}"

    def min_words(self, params: dict[str, Any]) -> int:
        return min(len(words(o)) for o in params["options"])


class RepeatRequest(ConstraintType):
    name = "repeat_request"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "request": ParamSpec("phrase", doc="the request to repeat (the instruction before this sentence)"),
    }
    implicit_params = frozenset({"request"})

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"request": rng.choice(_SAMPLE_REQUESTS)}

    def bind(self, params: dict[str, Any], instruction: str) -> dict[str, Any] | None:
        # The request is the instruction as written; a multi-line or very long one cannot be a phrase.
        request = instruction.strip()
        if "\n" in request or len(request) > MAX_TEXT or not WORD_RE.search(request):
            return None
        return {"request": request}

    def _describe(self, p: dict[str, Any]) -> str:
        return (
            "First repeat the request above word for word (without these added rules), then give your answer."
        )

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            "Begin by copying the request exactly as written (not this sentence or the ones after it), and"
            " only then respond.",
            "Restate the original request verbatim at the start of your reply, leaving out these extra"
            " instructions, before answering it.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        got, request = _squash(answer), _squash(p["request"])
        if not got.startswith(request):
            return False, f"answer starts with {got[: len(request) + 5]!r}, need the request {request!r}"
        if not WORD_RE.search(got[len(request) :]):
            return False, "the request is repeated but no answer follows"
        return True, "answer repeats the request, then answers"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["request"], case_sensitive=True)]

    def min_words(self, params: dict[str, Any]) -> int:
        return len(words(params["request"])) + 1
