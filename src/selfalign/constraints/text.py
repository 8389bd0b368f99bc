"""How the checks cut an answer into words, sentences, paragraphs and list items.

Every rule here is deliberately simple, deterministic and documented in ``docs/CONSTRAINTS.md``; the
checks must mean the same thing in data generation, training and evaluation, so none of them depends on a
downloaded model (no nltk).
"""

from __future__ import annotations

import re

# A word is a run of letters/digits/underscore (Unicode ``\w``), with inner apostrophes kept so that
# "don't" and "it’s" are one word, not two. Hyphens split: "well-known" is two words.
WORD_RE = re.compile(r"\w+(?:['’]\w+)*")

# A sentence ends at a run of . ! ? (plus any closing quotes/brackets) followed by whitespace or the end.
# "3.5" and "example.com" do not end a sentence; "e.g. this" does (a known, documented limitation).
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")

# A blank line (possibly holding spaces/tabs) separates paragraphs.
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")

# "- item" or "* item" at line start (indentation allowed); "**bold**" and "-5" are not bullets.
BULLET_RE = re.compile(r"^[ \t]*[-*][ \t]+\S", re.MULTILINE)

# "1. item" or "1) item" at line start (indentation allowed); "3.5 kg" is not an item.
NUMBERED_RE = re.compile(r"^[ \t]*\d+[.)][ \t]+\S", re.MULTILINE)

# An optional single ```json fence around the whole answer (the "json" tag may be left out).
_FENCE_RE = re.compile(r"\A```(?:json)?[ \t]*\n?(.*?)\n?[ \t]*```\Z", re.DOTALL | re.IGNORECASE)


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF so that line-based rules see one kind of line break."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def words(text: str) -> list[str]:
    """The words of ``text`` in order (see :data:`WORD_RE`), case preserved."""
    return WORD_RE.findall(text)


def folded_words(text: str) -> list[str]:
    """The words of ``text``, case-folded, for case-insensitive whole-word matching."""
    return [w.casefold() for w in WORD_RE.findall(text)]


def count_phrase(tokens: list[str], phrase: list[str]) -> int:
    """How many times the token sequence ``phrase`` occurs contiguously in ``tokens`` (overlaps count)."""
    n = len(phrase)
    if n == 0:
        return 0
    return sum(1 for i in range(len(tokens) - n + 1) if tokens[i : i + n] == phrase)


def paragraphs(text: str) -> list[str]:
    """Non-empty blocks of ``text`` separated by blank lines, each stripped."""
    blocks = _BLANK_LINE_RE.split(normalize_newlines(text).strip())
    return [b.strip() for b in blocks if b.strip()]


def sentences(text: str) -> list[str]:
    """Sentences of ``text``: split after . ! ? + whitespace/end, and at paragraph breaks.

    A piece without any word character (a stray "..." or "-") is not a sentence.
    """
    found: list[str] = []
    for block in paragraphs(text):
        start = 0
        for m in _SENTENCE_END_RE.finditer(block):
            found.append(block[start : m.end()])
            start = m.end()
        found.append(block[start:])
    return [s.strip() for s in found if WORD_RE.search(s)]


def unfence_json(text: str) -> str:
    """The answer with one surrounding ```json ... ``` fence removed, if it has exactly that shape."""
    stripped = text.strip()
    m = _FENCE_RE.match(stripped)
    return m.group(1).strip() if m else stripped


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 bullet point"`` / ``"3 bullet points"``."""
    return f"{n} {singular if n == 1 else (plural_form or singular + 's')}"


def quote_list(items: list[str], conjunction: str) -> str:
    """``'"a"'``, ``'"a" and "b"'``, ``'"a", "b" and "c"'`` (with ``or`` for exclusions)."""
    quoted = [f'"{item}"' for item in items]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"
