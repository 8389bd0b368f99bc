"""Counting steers: end-of-answer gates, caps on new words/sentences/paragraphs, count-raising boosts."""

from __future__ import annotations

import re

import torch

from selfalign.constraints.counting import capital_words
from selfalign.constraints.text import WORD_RE, paragraphs, sentences, words
from selfalign.steer.base import Insert, Part
from selfalign.steer.row import Steer

_BLANK_END = re.compile(r"\n[ \t]*\n\s*\Z")
_SENTENCE_CLOSED = re.compile(r"[.!?][\"'”’)\]]*\s*\Z")


class MaxWords(Part):
    """Tokens that would take the word count past ``n`` (less the words other parts will insert) are
    banned: the count after a token is at most the count now plus the token's words (one less when it
    continues the last word), an upper bound, so the cap is never crossed."""

    kind = "mask"
    open_length = False

    def room(self, row: Steer) -> int:
        # The part writing its insertion now has its words in the text already (or about to be).
        pending = sum(q.pending_words(row) for q in row.parts if q is not row.force_owner)
        return self.p["n"] - pending - len(words(row.text))

    def wants_end(self, row: Steer) -> bool:
        return self.room(row) <= 0

    def must_end(self, row: Steer) -> bool:
        return self.room(row) <= 0 and row.end_ok and row.forcing is None

    def mask(self, row: Steer) -> torch.Tensor:
        t = row.table
        room = self.room(row)
        extra = t.n_words - (t.starts_word.long() if row.text[-1:].isalnum() or row.text[-1:] == "_" else 0)
        return extra <= room


class MinWords(Part):
    """The end waits for ``n`` words; when the steps left only just cover the missing words, only tokens
    that start a new word (a space, then a word character) are allowed."""

    counts_words = True

    def can_end(self, row: Steer) -> bool:
        return len(words(row.text)) >= self.p["n"]

    def push(self, row: Steer) -> torch.Tensor | None:
        if row.steps_left > self.reserve(row) + 2:
            return None
        return row.table.feature("new_word", lambda s: bool(re.match(r" \w", s)))

    def reserve(self, row: Steer) -> int:
        return max(0, self.p["n"] - len(words(row.text)))


class SentenceCount(Part):
    """Exactly ``n`` sentences: the end waits for ``n``; at ``n``, a token that would start another is
    allowed only after an exact check; under pressure below ``n``, a full stop is inserted."""

    kind = "gate+insert"
    open_length = False

    def count(self, text: str) -> int:
        return len(sentences(text))

    def can_end(self, row: Steer) -> bool:
        return self.count(row.text) == self.p["n"]

    def risky(self, row: Steer) -> torch.Tensor | None:
        return row.table.has_word if self.count(row.text) >= self.p["n"] else None

    def verify(self, row: Steer, text: str) -> bool:
        return self.count(text) <= self.p["n"]

    def insert(self, row: Steer) -> Insert | None:
        if not row.pressure or self.count(row.text) >= self.p["n"] or not WORD_RE.search(row.text):
            return None
        if _SENTENCE_CLOSED.search(row.text):
            return None  # the last sentence is closed: the next word starts a new one
        return Insert(".", space_next=True)

    def reserve(self, row: Steer) -> int:
        return 4 * max(0, self.p["n"] - self.count(row.text))

    def pending_words(self, row: Steer) -> int:
        return max(0, self.p["n"] - self.count(row.text))


class ParagraphCount(Part):
    """Exactly ``n`` paragraphs: under pressure below ``n``, a blank line is inserted; at ``n``, nothing
    may start after a blank line (the answer must end there) and tokens holding a line break are checked."""

    kind = "gate+insert"
    open_length = False

    def n_paras(self) -> int:
        return int(self.p["n"])

    def count(self, text: str) -> int:
        return len(paragraphs(text))

    def can_end(self, row: Steer) -> bool:
        return self.count(row.text) == self.n_paras()

    def must_end(self, row: Steer) -> bool:
        return self.count(row.text) >= self.n_paras() and bool(_BLANK_END.search(row.text))

    def risky(self, row: Steer) -> torch.Tensor | None:
        if self.count(row.text) < self.n_paras():
            return None
        return row.table.regex(r"[\r\n]") & ~row.table.ws_only

    def verify(self, row: Steer, text: str) -> bool:
        return self.count(text) <= self.n_paras()

    def insert(self, row: Steer) -> Insert | None:
        c = self.count(row.text)
        if row.pressure and 0 < c < self.n_paras() and not _BLANK_END.search(row.text):
            return Insert("\n\n")
        return None

    def reserve(self, row: Steer) -> int:
        return 4 * max(0, self.n_paras() - self.count(row.text))

    def pending_words(self, row: Steer) -> int:
        return max(0, self.n_paras() - self.count(row.text))


class NthParagraphFirstWord(ParagraphCount):
    """``n`` paragraphs as :class:`ParagraphCount`, and paragraph ``nth`` opens with the word (forced)."""

    kind = "gate+insert+force"

    def _at_nth_start(self, row: Steer) -> bool:
        if self.p["nth"] == 1:
            return not row.text.strip()
        return self.count(row.text) == self.p["nth"] - 1 and bool(_BLANK_END.search(row.text))

    def insert(self, row: Steer) -> Insert | None:
        if self._at_nth_start(row):
            word = self.p["word"]
            return Insert(word[:1].upper() + word[1:], case_insensitive=True, word_end=True)
        return super().insert(row)

    def can_end(self, row: Steer) -> bool:
        paras = paragraphs(row.text)
        if len(paras) != self.n_paras():
            return False
        first = words(paras[self.p["nth"] - 1])[:1]
        return bool(first) and first[0].casefold() == self.p["word"].casefold()

    def reserve(self, row: Steer) -> int:
        return super().reserve(row) + 3


class CapitalWordFrequency(Part):
    """At least n: all-capital word tokens get a boost, and under pressure the next token is one. At most
    n: once n are written, tokens with a capital letter (or that continue a word) are checked exactly."""

    kind = "boost+mask"
    BOOST = 2.0

    def _caps(self, row: Steer) -> torch.Tensor:
        return row.table.feature("caps_word", lambda s: bool(re.fullmatch(r" [A-Z]{2,}", s)))

    def count(self, text: str) -> int:
        return len(capital_words(text))

    def can_end(self, row: Steer) -> bool:
        c, n = self.count(row.text), self.p["n"]
        return c >= n if self.p["relation"] == "at least" else c <= n

    def push(self, row: Steer) -> torch.Tensor | None:
        if self.p["relation"] == "at least" and row.pressure and not self.can_end(row):
            return self._caps(row)
        return None

    def bias(self, row: Steer) -> torch.Tensor | None:
        if self.p["relation"] == "at least" and not self.can_end(row):
            return self._caps(row).float() * self.BOOST
        return None

    def risky(self, row: Steer) -> torch.Tensor | None:
        if self.p["relation"] == "at least" or self.count(row.text) < self.p["n"]:
            return None
        t = row.table
        upper = t.feature("has_upper", lambda s: any(c.isupper() for c in s))
        return upper | row.word_start if row.text[-1:].isalnum() else upper

    def verify(self, row: Steer, text: str) -> bool:
        return self.count(text) <= self.p["n"]

    def reserve(self, row: Steer) -> int:
        if self.p["relation"] == "at most":
            return 0
        return 2 * max(0, self.p["n"] - self.count(row.text))


class LetterFrequency(Part):
    """Tokens holding the letter get a boost per occurrence; under pressure only they are allowed."""

    kind = "boost+mask"
    BOOST = 1.0

    def count(self, text: str) -> int:
        return text.casefold().count(self.p["letter"])

    def _has(self, row: Steer) -> torch.Tensor:
        letter = self.p["letter"]
        return row.table.feature(f"letter:{letter}", lambda s: letter in s.casefold())

    def can_end(self, row: Steer) -> bool:
        return self.count(row.text) >= self.p["n"]

    def push(self, row: Steer) -> torch.Tensor | None:
        return self._has(row) if row.pressure and not self.can_end(row) else None

    def bias(self, row: Steer) -> torch.Tensor | None:
        return None if self.can_end(row) else self._has(row).float() * self.BOOST

    def reserve(self, row: Steer) -> int:
        return max(0, self.p["n"] - self.count(row.text))
