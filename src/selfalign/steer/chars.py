"""Steers for character rules: a fixed vocabulary mask (the check's own predicate on each token's text)."""

from __future__ import annotations

import torch

from selfalign.constraints.langdata import SCRIPTS, STOPWORDS
from selfalign.constraints.language import language_verdict, script_of
from selfalign.constraints.lexical import _COMMA_RE, _DIGIT_RE
from selfalign.steer.base import Part
from selfalign.steer.row import Steer

_KANA = ("HIRAGANA", "KATAKANA")


class Lowercase(Part):
    kind = "mask"
    upper = False  # the letters this rule bans are uppercase ones

    def _banned(self, s: str) -> bool:
        return any((c.islower() if self.upper else c.isupper()) for c in s)

    def _needed(self, s: str) -> bool:
        return any((c.isupper() if self.upper else c.islower()) for c in s)

    def mask(self, row: Steer) -> torch.Tensor:
        name = "upper" if self.upper else "lower"
        ok = ~row.table.feature(f"case_bans_{name}", self._banned)
        if row.pressure and not self._needed(row.text):  # the check also wants one letter of the case
            ok = ok & row.table.feature(f"case_needs_{name}", self._needed)
        return ok

    def can_end(self, row: Steer) -> bool:
        return self._needed(row.text)


class Uppercase(Lowercase):
    upper = True


class NoCommas(Part):
    kind = "mask"

    def mask(self, row: Steer) -> torch.Tensor:
        return ~row.table.regex(_COMMA_RE.pattern)


class NoDigits(Part):
    kind = "mask"

    def mask(self, row: Steer) -> torch.Tensor:
        return ~row.table.regex(_DIGIT_RE.pattern)


class OneLine(Part):
    """No line break inside the answer; a bare line break after the text closes it (then it must end)."""

    kind = "mask"

    def _content(self, row: Steer) -> bool:
        return bool(row.text.strip())

    def mask(self, row: Steer) -> torch.Tensor:
        breaks = row.table.regex(r"[\r\n]")
        if not self._content(row):
            return ~breaks | row.table.ws_only  # leading whitespace is stripped by the check
        closer = row.table.ws_only & breaks
        return ~breaks | closer if row.others_can_end(self) else ~breaks

    def must_end(self, row: Steer) -> bool:
        return self._content(row) and row.text.rstrip(" \t") != row.text.rstrip(" \t").rstrip("\r\n")


class ResponseLanguage(Part):
    """A script mask (letters of the language's script only). For languages that share a script (the
    Latin ones, Russian's Cyrillic) the script says nothing about the language, so the language's common
    words get a logit boost, and the end waits for the check's verdict; when the text lacks them (or the
    budget runs out), the next token is drawn from them. This does not make the text *be* French: see
    docs/CONSTRAINTS.md."""

    kind = "mask+boost"
    BOOST = 2.0

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self.lang = params["language"]
        self.scripts = set(SCRIPTS[self.lang])
        self.stops = STOPWORDS.get(self.lang, frozenset())

    def _script_ok(self, s: str) -> bool:
        return all(script_of(c) in self.scripts for c in s if c.isalpha())

    def _stop_tokens(self, row: Steer) -> torch.Tensor:
        words = self.stops
        return row.table.feature(
            f"stopwords:{self.lang}", lambda s: s[:1] == " " and s[1:].casefold() in words and s[1:].isalpha()
        )

    def _letters(self, row: Steer) -> torch.Tensor:
        scripts = self.scripts
        return row.table.feature(
            f"script_letters:{self.lang}", lambda s: any(c.isalpha() and script_of(c) in scripts for c in s)
        )

    def mask(self, row: Steer) -> torch.Tensor:
        ok = row.table.feature(f"script:{self.lang}", self._script_ok)
        if self.can_end(row):
            return ok
        if (self.stops and len(row.text.split()) >= 6) or row.pressure:
            need = self._stop_tokens(row) if self.stops else self._letters(row)
            if self.lang == "Japanese":
                need = row.table.feature("kana", lambda s: any(script_of(c) in _KANA for c in s))
            return ok & need
        return ok

    def bias(self, row: Steer) -> torch.Tensor | None:
        if not self.stops:
            return None
        return self._stop_tokens(row).float() * self.BOOST

    def can_end(self, row: Steer) -> bool:
        return language_verdict(row.text, self.lang)[0]
