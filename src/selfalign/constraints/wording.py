"""Constraints on which words appear: include/exclude, word frequency, opening and closing phrase."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from selfalign.constraints import vocab
from selfalign.constraints.base import ConstraintType, RequiredText
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import WORD_RE, count_phrase, folded_words, plural, quote_list, words


class IncludeWords(ConstraintType):
    name = "include_words"
    specs: ClassVar[dict[str, ParamSpec]] = {"words": ParamSpec("words", doc="words that must each appear")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"words": rng.sample(vocab.INCLUDE_WORDS, rng.randint(1, 2))}

    def _describe(self, p: dict[str, Any]) -> str:
        noun = "word" if len(p["words"]) == 1 else "words"
        return f"Include the {noun} {quote_list(p['words'], 'and')} in your answer."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        listed = quote_list(p["words"], "and")
        noun = "word" if len(p["words"]) == 1 else "words"
        return [
            f"Make sure your reply uses the {noun} {listed}.",
            f"Your response must mention {listed} somewhere.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        tokens = folded_words(answer)
        missing = [w for w in p["words"] if not count_phrase(tokens, folded_words(w))]
        if missing:
            return False, f"missing {missing}, need all of {p['words']}"
        return True, f"found all of {p['words']}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(w, case_sensitive=False) for w in params["words"]]

    def min_words(self, params: dict[str, Any]) -> int:
        return sum(len(words(w)) for w in params["words"])


class ExcludeWords(ConstraintType):
    name = "exclude_words"
    specs: ClassVar[dict[str, ParamSpec]] = {"words": ParamSpec("words", doc="words that must not appear")}

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"words": rng.sample(vocab.EXCLUDE_WORDS, rng.randint(1, 2))}

    def _describe(self, p: dict[str, Any]) -> str:
        noun = "word" if len(p["words"]) == 1 else "words"
        return f"Do not use the {noun} {quote_list(p['words'], 'or')} anywhere in your answer."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        listed = quote_list(p["words"], "or")
        noun = "word" if len(p["words"]) == 1 else "words"
        return [
            f"Avoid the {noun} {listed} completely.",
            f"Your reply must not contain {listed}.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        tokens = folded_words(answer)
        counts = {w: count_phrase(tokens, folded_words(w)) for w in p["words"]}
        found = {w: c for w, c in counts.items() if c}
        if found:
            return False, "found " + ", ".join(f"{w!r} {plural(c, 'time')}" for w, c in found.items())
        return True, f"found none of {p['words']}"


class StartsWith(ConstraintType):
    name = "starts_with"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "phrase": ParamSpec("phrase", doc="exact text the answer must start with")
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"phrase": rng.choice(vocab.START_PHRASES)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f'Start your answer with the exact phrase "{p["phrase"]}".'

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            f'Begin your reply with "{p["phrase"]}", word for word.',
            f'The very first words of your response must be "{p["phrase"]}".',
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        s, phrase = answer.lstrip(), p["phrase"]
        head = s[: len(phrase) + 10]
        if not s.startswith(phrase):
            return False, f"answer starts with {head!r}, need {phrase!r}"
        # "Sure" must not be satisfied by "Surely": a phrase ending in a word character ends a word.
        rest = s[len(phrase) :]
        if rest and WORD_RE.match(phrase[-1]) and WORD_RE.match(rest[0]):
            return False, f"answer starts with {head!r}: {phrase!r} runs into a longer word"
        return True, f"answer starts with {phrase!r}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["phrase"], case_sensitive=True)]

    def min_words(self, params: dict[str, Any]) -> int:
        return len(words(params["phrase"]))


class EndsWith(ConstraintType):
    name = "ends_with"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "phrase": ParamSpec("phrase", doc="exact text the answer must end with")
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"phrase": rng.choice(vocab.END_PHRASES)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f'End your answer with the exact phrase "{p["phrase"]}" and write nothing after it.'

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            f'Finish your response with exactly "{p["phrase"]}"; nothing may follow it.',
            f'Make "{p["phrase"]}" the final words of your reply, with nothing after them.',
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        s, phrase = answer.rstrip(), p["phrase"]
        tail = s[-(len(phrase) + 10) :]
        if not s.endswith(phrase):
            return False, f"answer ends with {tail!r}, need {phrase!r}"
        before = s[: -len(phrase)]
        if before and WORD_RE.match(phrase[0]) and WORD_RE.match(before[-1]):
            return False, f"answer ends with {tail!r}: {phrase!r} is the end of a longer word"
        return True, f"answer ends with {phrase!r}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["phrase"], case_sensitive=True)]

    def min_words(self, params: dict[str, Any]) -> int:
        return len(words(params["phrase"]))


class WordFrequency(ConstraintType):
    name = "word_frequency"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "word": ParamSpec("word", doc="the word to repeat"),
        "n": ParamSpec("int", 1, 100, "minimum number of occurrences"),
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"word": rng.choice(vocab.FREQUENCY_WORDS), "n": rng.randint(2, 4)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f'Use the word "{p["word"]}" at least {plural(p["n"], "time")}.'

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        return [
            f'The word "{p["word"]}" should appear {p["n"]} or more times in your reply.',
            f'Mention "{p["word"]}" no fewer than {plural(p["n"], "time")}.',
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        found = folded_words(answer).count(p["word"].casefold())
        return found >= p["n"], f"found {p['word']!r} {plural(found, 'time')}, need at least {p['n']}"

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        return [RequiredText(params["word"], case_sensitive=False)]

    def min_words(self, params: dict[str, Any]) -> int:
        return int(params["n"])
