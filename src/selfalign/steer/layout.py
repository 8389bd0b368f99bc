"""Steers for markup and layout: quotes, <<title>>, [placeholders], *highlights*, lists, sections."""

from __future__ import annotations

import re

import torch

from selfalign.constraints.registry import REGISTRY
from selfalign.constraints.sections import _SEPARATOR_RE, RESPONSE_SEPARATOR, section_numbers
from selfalign.constraints.text import BULLET_RE, NUMBERED_RE, WORD_RE, normalize_newlines
from selfalign.steer.base import Insert, Part
from selfalign.steer.row import Steer


def _passes(name: str, text: str, params: dict) -> bool:
    return bool(text.strip()) and REGISTRY[name]._check(text, params)[0]


_MARKER_RE = re.compile(r"^[ \t]*(?:[-*]|\d+[.)])[ \t]*")


def _line_start(text: str) -> bool:
    return not text.strip() or text.rstrip(" \t").endswith("\n")


class Quoted(Part):
    """An opening quote is forced first; when the model wants to end, the closing quote is inserted."""

    kind = "force"
    open_length = False

    def is_final(self, row: Steer) -> bool:
        return bool(row.text.strip())  # the opening quote comes first, whatever else is pending

    def can_end(self, row: Steer) -> bool:
        return _passes("quoted", row.text, self.p)

    def must_end(self, row: Steer) -> bool:
        return self._closing

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self._closing = False

    def insert(self, row: Steer) -> Insert | None:
        if not row.text.strip():
            return Insert('"')
        if row.pressure and not self.can_end(row) and WORD_RE.search(row.text):
            self._closing = True
            return Insert('"')
        return None

    def reserve(self, row: Steer) -> int:
        return 2


class Span(Part):
    """A delimited span (``<<title>>``, ``[name]``, ``*phrase*``), counted by the check's own regex.

    The opener is inserted at the start (title) or under pressure; inside, the delimiters and line breaks
    are banned; the closer is inserted once the span holds a word and the model leans to a delimiter or a
    line break, or the span reaches ``MAX_WORDS`` words."""

    kind = "insert"
    name = ""
    opener = closer = ""
    inside_ban = r"[\r\n]"
    MAX_WORDS = 6

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self.open_at: int | None = None  # text length where the current span's content starts

    def need(self) -> int:
        return int(self.p.get("n", 1))

    def count(self, text: str) -> int:
        raise NotImplementedError

    def can_end(self, row: Steer) -> bool:
        return self.open_at is None and self.count(row.text) >= self.need()

    def mask(self, row: Steer) -> torch.Tensor | None:
        if self.open_at is None:
            return None
        inside = row.text[self.open_at :]
        ban = row.table.regex(self.inside_ban)
        if not inside:
            ban = ban | row.table.feature("starts_space", lambda s: s[:1].isspace())
        return ~ban

    def insert(self, row: Steer) -> Insert | None:
        if self.open_at is not None:
            inside = row.text[self.open_at :]
            if not WORD_RE.search(inside) or inside[-1:].isspace():
                return None
            leaning = row.mass(row.table.regex(self.inside_ban)) > 0.3
            if leaning or row.pressure or len(WORD_RE.findall(inside)) >= self.MAX_WORDS:
                return Insert(self.closer)
            return None
        if self.count(row.text) >= self.need():
            return None
        if self._open_now(row):
            return Insert(self.separator(row) + self.opener)
        return None

    def _open_now(self, row: Steer) -> bool:
        return row.pressure

    def advance(self, row: Steer, token: int) -> None:
        if row.just_inserted is not None and row.just_inserted[0] is self:
            self.open_at = len(row.text) if self.open_at is None else None

    def separator(self, row: Steer) -> str:
        return " " if row.text.strip() and not row.text[-1:].isspace() else ""

    def busy(self, row: Steer) -> bool:
        return self.open_at is not None

    def pending_words(self, row: Steer) -> int:
        return max(0, self.need() - self.count(row.text) - (self.open_at is not None))

    def reserve(self, row: Steer) -> int:
        return 6 * max(0, self.need() - self.count(row.text)) + (2 if self.open_at is not None else 0)


class Title(Span):
    name = "title"
    opener, closer = "<<", ">>"
    inside_ban = r"[<>\r\n]"

    def count(self, text: str) -> int:
        return int(_passes("title", text, {}))

    def _open_now(self, row: Steer) -> bool:
        return not row.text.strip() or row.pressure

    def separator(self, row: Steer) -> str:
        return "" if _line_start(row.text) else "\n"


class Placeholders(Span):
    name = "placeholders"
    opener, closer = "[", "]"
    inside_ban = r"[\[\]\r\n]"
    MAX_WORDS = 3

    def count(self, text: str) -> int:
        from selfalign.constraints.markup import _PLACEHOLDER_RE

        return sum(1 for m in _PLACEHOLDER_RE.finditer(text) if WORD_RE.search(m.group(1)))

    def mask(self, row: Steer) -> torch.Tensor | None:
        if self.open_at is None and row.text.endswith("]"):
            return ~row.table.feature("starts_paren", lambda s: s[:1] == "(")  # "[x](y)" is a link
        return super().mask(row)


class HighlightedSections(Span):
    name = "highlighted_sections"
    opener, closer = "*", "*"
    inside_ban = r"[*\r\n]"
    MAX_WORDS = 4

    def count(self, text: str) -> int:
        from selfalign.constraints.sections import highlights

        return len(highlights(text))

    def mask(self, row: Steer) -> torch.Tensor | None:
        if self.open_at is None and row.text.endswith("*"):
            return ~row.table.feature("starts_star", lambda s: s[:1] == "*")
        return super().mask(row)


class ListLines(Part):
    """Exactly ``n`` list lines: each line start gets the item marker (forced), the model writes the item;
    a line break inside a token before more text is banned; after the n-th item the next line break ends
    the answer; under pressure a missing item starts on a new line."""

    kind = "force+gate"
    open_length = False
    pattern = BULLET_RE

    def marker(self, k: int) -> str:
        return "- "

    def count(self, text: str) -> int:
        return len(self.pattern.findall(normalize_newlines(text)))

    def can_end(self, row: Steer) -> bool:
        return self.count(row.text) == self.p["n"]

    def must_end(self, row: Steer) -> bool:
        return self.count(row.text) >= self.p["n"] and _line_start(row.text)

    def mask(self, row: Steer) -> torch.Tensor:
        return ~row.table.regex(r"[\r\n].*\S")  # one line per token: markers go at line starts

    def insert(self, row: Steer) -> Insert | None:
        k = self.count(row.text)
        if k >= self.p["n"]:
            return None
        if _line_start(row.text):
            return Insert(self.marker(k + 1))
        item = _MARKER_RE.sub("", row.text.rsplit("\n", 1)[-1], count=1)
        if row.pressure and WORD_RE.search(item):
            return Insert("\n" + self.marker(k + 1))
        return None

    def reserve(self, row: Steer) -> int:
        return 6 * max(0, self.p["n"] - self.count(row.text))

    def pending_words(self, row: Steer) -> int:  # a numbered marker is itself a word ("1")
        return (2 if self.pattern is NUMBERED_RE else 1) * max(0, self.p["n"] - self.count(row.text))


class NumberedList(ListLines):
    pattern = NUMBERED_RE

    def marker(self, k: int) -> str:
        return f"{k}. "


class NumberedSections(Part):
    """``label 1`` is forced first; each later header is inserted after a blank line the model writes (or
    under pressure); tokens with a digit are checked so no stray header appears."""

    kind = "force+gate"
    open_length = False

    def count(self, text: str) -> int:
        return len(section_numbers(text, self.p["label"]))

    def can_end(self, row: Steer) -> bool:
        # Not right after a header (a section needs a body); a trailing line break is fine: it is how the stop
        # string "\nEND" begins, and refusing it there ran every wrap-up of the type on to the token limit.
        last = row.text.rstrip().rsplit("\n", 1)[-1]
        return _passes("numbered_sections", row.text, self.p) and not section_numbers(last, self.p["label"])

    def insert(self, row: Steer) -> Insert | None:
        k = self.count(row.text)
        if k >= self.p["n"]:
            return None
        head = f"{self.p['label']} {k + 1}\n"
        if not row.text.strip():
            return Insert(head, case_insensitive=True)
        if re.search(r"\n[ \t]*\n\Z", row.text):
            return Insert(head, case_insensitive=True)
        if row.pressure and WORD_RE.search(row.text.rsplit("\n", 1)[-1]):
            return Insert("\n\n" + head, case_insensitive=True)
        return None

    def mask(self, row: Steer) -> torch.Tensor:
        # Headers come from insertions only. Left free, the model starts more label lines after the last
        # header, which the digit check cuts to bare "Part" / "Chapter" lines until the token limit (all 6
        # steered rows of the sixth proof run, 2026-12-06; QC rejected every one).
        return ~row.line_start_tokens((self.p["label"].lower(),))

    def risky(self, row: Steer) -> torch.Tensor:
        return row.table.regex(r"\d")

    def verify(self, row: Steer, text: str) -> bool:
        return section_numbers(text, self.p["label"]) == list(range(1, self.count(row.text) + 1))

    def reserve(self, row: Steer) -> int:
        return 8 * max(0, self.p["n"] - self.count(row.text))

    def pending_words(self, row: Steer) -> int:
        return 3 * max(0, self.p["n"] - self.count(row.text))


class TwoResponses(Part):
    """When the first response wants to end, the separator line is inserted; tokens with an asterisk are
    checked so no second separator appears; the end waits for a different second response."""

    kind = "insert+gate"
    open_length = False

    def seps(self, text: str) -> int:
        return len(_SEPARATOR_RE.findall(normalize_newlines(text)))

    def can_end(self, row: Steer) -> bool:
        return _passes("two_responses", row.text, self.p)

    def insert(self, row: Steer) -> Insert | None:
        if self.seps(row.text) or not row.pressure or not WORD_RE.search(row.text):
            return None
        return Insert(("" if row.text.endswith("\n") else "\n") + RESPONSE_SEPARATOR + "\n")

    def risky(self, row: Steer) -> torch.Tensor:
        return row.table.regex(r"\*")

    def push(self, row: Steer) -> torch.Tensor | None:
        # The second response starts with a word (Gemma 270M was seen looping on "******." lines instead).
        parts = _SEPARATOR_RE.split(normalize_newlines(row.text))
        if len(parts) == 2 and not WORD_RE.search(parts[1]):
            return row.table.has_word
        return None

    def verify(self, row: Steer, text: str) -> bool:
        return self.seps(text) <= self.seps(row.text)

    def reserve(self, row: Steer) -> int:
        return 0 if self.seps(row.text) else 8

    def pending_words(self, row: Steer) -> int:
        return 0 if self.seps(row.text) else 1
