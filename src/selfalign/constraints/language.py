"""Response language, checked by Unicode script and stopwords (see ``langdata.py`` for why not a detector)."""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from typing import Any, ClassVar

from selfalign.constraints.base import ConstraintType
from selfalign.constraints.langdata import SAMPLED_LANGUAGES, SCRIPTS, STOPWORDS
from selfalign.constraints.params import ParamSpec
from selfalign.constraints.text import folded_words

LANGUAGES = tuple(SCRIPTS)
MIN_SCRIPT_SHARE = 0.8  # of letters; leaves room for a name or a code term in another script
MIN_STOPWORD_SHARE = 0.1  # of words; running text in these languages is well above this


def script_of(ch: str) -> str:
    """The Unicode script family of a letter ("LATIN", "CYRILLIC", "CJK", ...), from its name."""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def script_counts(text: str) -> Counter[str]:
    """How many letters of ``text`` belong to each script (non-letters are not counted)."""
    return Counter(script_of(c) for c in text if c.isalpha())


def stopword_hits(text: str) -> dict[str, int]:
    """For each language with a stopword list, how many of the answer's words are its stopwords."""
    tokens = folded_words(text)
    return {lang: sum(t in stops for t in tokens) for lang, stops in STOPWORDS.items()}


def language_verdict(text: str, language: str) -> tuple[bool, str]:
    """Whether ``text`` reads as ``language`` by script share and (for shared scripts) stopwords."""
    counts = script_counts(text)
    letters = sum(counts.values())
    if not letters:
        return False, "found no letters"
    scripts = SCRIPTS[language]
    share = sum(counts[s] for s in scripts) / letters
    main = counts.most_common(1)[0][0]
    if share < MIN_SCRIPT_SHARE:
        where = f"{share:.0%} of letters are in the {'/'.join(scripts)} script"
        return False, f"{where} (mostly {main}), need {MIN_SCRIPT_SHARE:.0%}"
    if language == "Japanese" and not (counts["HIRAGANA"] or counts["KATAKANA"]):
        return False, "found no kana, so the text reads as Chinese, not Japanese"
    if language == "Chinese" and (counts["HIRAGANA"] or counts["KATAKANA"]):
        return False, "found kana, so the text reads as Japanese, not Chinese"
    if language not in STOPWORDS:
        return True, f"{share:.0%} of letters are in the {'/'.join(scripts)} script"
    hits = stopword_hits(text)
    rivals = {lang: n for lang, n in hits.items() if lang != language and SCRIPTS[lang] == scripts}
    total = len(folded_words(text))
    own = hits[language]
    if own < max(1, MIN_STOPWORD_SHARE * total):
        return False, f"only {own} of {total} words are common {language} words, need 10%"
    best = max(rivals, key=lambda k: rivals[k], default=None)
    if best is not None and rivals[best] >= own:
        return False, f"reads as {best}: {rivals[best]} common {best} words vs {own} {language}"
    return True, f"{language} script and {own} of {total} words are common {language} words"


class ResponseLanguage(ConstraintType):
    name = "response_language"
    specs: ClassVar[dict[str, ParamSpec]] = {
        "language": ParamSpec("choice", doc="language of the whole answer", choices=LANGUAGES),
    }

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        return {"language": rng.choice(SAMPLED_LANGUAGES)}

    def _describe(self, p: dict[str, Any]) -> str:
        return f"Write your entire answer in {p['language']}, and no other language."

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        lang = p["language"]
        return [
            f"Respond only in {lang}.",
            f"Your whole reply must be written in the {lang} language.",
        ]

    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]:
        return language_verdict(answer, p["language"])
