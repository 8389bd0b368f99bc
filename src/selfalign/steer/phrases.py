"""Steers for fixed text: forced openings and endings, forced options, inserted words, banned words."""

from __future__ import annotations

import torch

from selfalign.constraints.framing import _squash
from selfalign.constraints.registry import REGISTRY
from selfalign.constraints.text import WORD_RE, count_phrase, folded_words, words
from selfalign.steer.base import Insert, Part
from selfalign.steer.row import Steer


def _check(name: str, text: str, params: dict) -> bool:
    return bool(text.strip()) and REGISTRY[name]._check(text, params)[0]


def _ends_word(text: str) -> bool:
    return bool(text) and bool(WORD_RE.match(text[-1]))


class StartsWith(Part):
    kind = "force"

    def insert(self, row: Steer) -> Insert | None:
        if row.text.strip():
            return None
        phrase = self.p["phrase"]
        return Insert(phrase, word_end=_ends_word(phrase))

    def can_end(self, row: Steer) -> bool:
        return _check("starts_with", row.text, self.p)

    def reserve(self, row: Steer) -> int:
        return 0 if row.text.strip() else len(self.p["phrase"])

    def pending_words(self, row: Steer) -> int:
        return 0 if row.text.strip() else len(words(self.p["phrase"]))


class RepeatRequest(Part):
    """The request is forced first (whitespace runs squashed, as the check reads it); the end waits for an
    answer after it."""

    kind = "force"

    def insert(self, row: Steer) -> Insert | None:
        return None if row.text.strip() else Insert(_squash(self.p["request"]))

    def can_end(self, row: Steer) -> bool:
        return _check("repeat_request", row.text, self.p)

    def pending_words(self, row: Steer) -> int:
        return 0 if row.text.strip() else len(words(self.p["request"]))


class FixedChoice(Part):
    """The answer is one of the options: only tokens that continue some option are allowed, and the answer
    ends once it equals an option that no longer option extends."""

    kind = "force"
    open_length = False

    def _written(self, row: Steer) -> str:
        return row.text.lstrip()

    def _live(self, row: Steer) -> list[str]:
        w = self._written(row)
        return [o for o in self.p["options"] if o.startswith(w) and len(o) > len(w)]

    def mask(self, row: Steer) -> torch.Tensor:
        w = self._written(row)
        out = torch.zeros(row.table.size, dtype=torch.bool)
        lead = " " if not row.text else ""
        for o in self._live(row):
            out |= row.table.pieces(o, len(w), lead=lead)
        return out

    def can_end(self, row: Steer) -> bool:
        return _check("fixed_choice", row.text, self.p)

    def must_end(self, row: Steer) -> bool:
        return self.can_end(row) and not self._live(row)


class EndsWith(Part):
    """When the model wants to end (or the budget runs out) and every other rule may end, the phrase is
    inserted; then the answer must end."""

    kind = "force(end)"
    final = True

    def can_end(self, row: Steer) -> bool:
        return _check("ends_with", row.text, self.p)

    def must_end(self, row: Steer) -> bool:
        return self.can_end(row)

    def insert(self, row: Steer) -> Insert | None:
        if not row.pressure or self.can_end(row):
            return None
        phrase = self.p["phrase"]
        sep = " " if row.text.strip() and not row.text[-1:].isspace() else ""
        return Insert(sep + phrase)

    def pending_words(self, row: Steer) -> int:
        return 0 if self.can_end(row) else len(words(self.p["phrase"]))

    def reserve(self, row: Steer) -> int:
        return 0 if self.can_end(row) else len(self.p["phrase"]) + 2  # a random model splits it finely


class Postscript(Part):
    """When the model wants to end, a line with the marker is inserted after a blank line; the model writes
    the note on that line, which is the answer's last: no line break after the marker, and once the check
    passes the answer ends when the model presses to (a note that broke its line went on as "P.P.S." and
    "P!P!P" lines in the 2026-12-07 training-side measurement)."""

    kind = "force(end)+gate"
    final = True
    text_follows = True

    def can_end(self, row: Steer) -> bool:
        return _check("postscript", row.text, self.p)

    def _in_note(self, row: Steer) -> bool:
        last = row.text.rsplit("\n", 1)[-1]
        return last.strip().casefold().startswith(self.p["marker"].casefold())

    def mask(self, row: Steer) -> torch.Tensor | None:
        return ~row.table.regex(r"[\r\n]") if self._in_note(row) else None

    def must_end(self, row: Steer) -> bool:
        return row.pressure and row.end_ok and self._in_note(row)

    def insert(self, row: Steer) -> Insert | None:
        if not row.pressure or self.can_end(row) or self._in_note(row) or not WORD_RE.search(row.text):
            return None
        return Insert("\n\n" + self.p["marker"] + " ", case_insensitive=True)

    def pending_words(self, row: Steer) -> int:
        return 0 if self.can_end(row) else 1 + len(WORD_RE.findall(self.p["marker"]))

    def reserve(self, row: Steer) -> int:
        return 0 if self.can_end(row) else len(self.p["marker"]) + 6


class IncludeWords(Part):
    """Missing words get a logit boost (their one-token forms); under pressure the first missing one is
    inserted (capitalised after a sentence end, in the case a case rule allows)."""

    kind = "boost+insert"
    BOOST = 2.0

    def _targets(self) -> list[tuple[str, int]]:
        return [(w, 1) for w in self.p["words"]]

    def _missing(self, row: Steer) -> list[str]:
        tokens = folded_words(row.text)
        out = []
        for w, need in self._targets():
            phrase = folded_words(w)
            have = count_phrase(tokens, phrase)
            out += [w] * max(0, need - have)
        return out

    def can_end(self, row: Steer) -> bool:
        return not self._missing(row)

    def bias(self, row: Steer) -> torch.Tensor | None:
        missing = sorted(set(self._missing(row)))
        if not missing:
            return None
        key = "|".join(missing)
        forms = {f" {w.casefold()}" for w in missing} | {f" {w[:1].upper()}{w[1:]}" for w in missing}
        return row.table.feature(f"words:{key}", lambda s: s in forms).float() * self.BOOST

    def insert(self, row: Steer) -> Insert | None:
        missing = self._missing(row)
        if not row.pressure or not missing:
            return None
        w = missing[0]
        text = row.text.rstrip()
        if not text or text[-1] in ".!?":
            w = w[:1].upper() + w[1:]
        sep = " " if row.text.strip() and not row.text[-1:].isspace() else ""
        return Insert(sep + w, case_insensitive=True, word_end=True)

    def pending_words(self, row: Steer) -> int:
        return sum(len(words(w)) for w in self._missing(row))

    def reserve(self, row: Steer) -> int:
        return sum(len(w) // 3 + 2 for w in self._missing(row))


class WordFrequency(IncludeWords):
    def _targets(self) -> list[tuple[str, int]]:
        return [(self.p["word"], self.p["n"])]


class ExcludeWords(Part):
    """A token that could complete a banned word (it holds the rest of one, given how the text ends) is
    allowed only after an exact check that the text's words do not contain it."""

    kind = "mask(checked)"

    def _last_words(self) -> list[str]:
        return [folded_words(w)[-1] for w in self.p["words"]]

    def risky(self, row: Steer) -> torch.Tensor | None:
        t = row.table
        tail = row.text[-48:].casefold()
        out = torch.zeros(t.size, dtype=torch.bool)
        for w in self._last_words():
            out |= t.feature(f"holds:{w}", lambda s, w=w: w in s.casefold())
            for k in range(1, len(w)):
                if tail.endswith(w[:k]):
                    out |= t.feature(f"opens:{w[k:]}", lambda s, r=w[k:]: s.casefold().startswith(r))
        return out

    def verify(self, row: Steer, text: str) -> bool:
        return REGISTRY["exclude_words"]._check(text, self.p)[0]
