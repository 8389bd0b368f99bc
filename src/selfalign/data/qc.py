"""Quality flags of a generated response. Each flag is True when the problem is present.

Precision matters more than recall here: the first version flagged 20–50% of answers as "runaways" when
the true rate was ~0%, because any ``:`` or ``###`` counted. Every rule below looks for a *line* that
starts a new turn of a conversation or a new task, never for a character inside ordinary prose.

- ``empty``     nothing but whitespace.
- ``runaway``   the answer goes on into a new exchange: a line that starts with ``Q:``, ``Question:``,
                ``User:``, ``Assistant:``, ``Human:``, ``Instruction:`` (or ``Instruction 2:``),
                ``Response:``, a Markdown header naming a role/section of a prompt (``### Instruction``,
                ``### Response``, ``### Input``, ``### Question``, ``### User``, ``### Assistant``,
                ``### Human``, ``### System``, ``### Prompt``), or a chat control token (``<|im_start|>``).
                "Note:", "Instructions:" (a recipe), "### Ingredients" and colons mid-line are normal.
- ``truncated`` generation hit the token limit without finishing (``stop_reason == "length"`` and no stop
                string cut the raw text; always for a steered row that reached a dead end, ``"dead_end"``),
                or the text ends dangling: a trailing ``:`` or ``,``, an empty
                list item (``-`` / ``3.``), more opening than closing brackets, an odd number of ``"``, or an
                unclosed code fence.
- ``too_short`` non-empty with fewer than ``min_words`` words (default 2). A simple threshold: a one-word
                answer ("Paris.") is flagged even when it is right, so stages treat this flag as soft.
- ``echo``      the answer repeats the instruction: ``fuzz.ratio`` of the normalized texts >= 90, or the
                normalized answer starts with the normalized instruction (instructions of >= 3 words, so
                "Why?" does not flag every answer that starts with "why").
- ``repetitive`` the answer loops (small models' commonest failure after truncation): one sentence or line
                of >= 3 words stands 3 or more times, or 4-word runs that each occur 3+ times make up half
                or more of all 4-word runs (answers of 8+ runs). List items sharing a short frame do not.
- ``degenerate`` word salad that ``repetitive`` misses because nothing repeats exactly: 30+ words of which
                fewer than 40% are distinct ("den den die das den der …", "Answer:|ANSWER|Answer: 3:30"),
                or 10+ tokens in which letters are under 40% of the non-space characters ("1. 2. 3. 4. …",
                "***. **** * *****"). Both shapes came from masks and length floors holding the model where
                it wanted to stop: 31 of the 260 samples the fifth proof run trained on (every one steered);
                3 of its 195 unsteered samples that passed QC have them (one is a plain list of numbers).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from rapidfuzz import fuzz

from selfalign.data.dedup import normalize

QC_FLAGS: tuple[str, ...] = ("runaway", "truncated", "too_short", "echo", "repetitive", "degenerate", "empty")

_ROLE = r"(?:Q|Question|User|Assistant|Human|Instruction(?:[ \t]*#?\d+)?|Response)"
_HEADER_ROLE = r"(?:Instruction|Response|Input|Question|User|Assistant|Human|System|Prompt)"
_RUNAWAY_RES = (
    # A line starting a new turn: "Q: ...", "User: ...", "Instruction 2: ...". Case-sensitive on purpose:
    # "question: ..." at a line start is unusual for a turn marker and common in lists.
    re.compile(rf"^[ \t]*{_ROLE}[ \t]*:", re.MULTILINE),
    # A Markdown header that names a prompt section: "### Instruction", "## Response:".
    re.compile(rf"^[ \t]*#{{1,6}}[ \t]*{_HEADER_ROLE}\b", re.MULTILINE | re.IGNORECASE),
    # Chat control tokens must never appear in a base model's answer.
    re.compile(r"<\|(?:im_start|im_end|user|assistant|system|endoftext|eot_id|start_header_id)\|>"),
    re.compile(r"<(?:start|end)_of_turn>"),  # Gemma's turn markers
)
_EMPTY_ITEM_RE = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\d{1,3}[.)])[ \t]*\Z")
_FENCE_RE = re.compile(r"^[ \t]*```", re.MULTILINE)
_WORD_RE = re.compile(r"\w+(?:['’]\w+)*")
_BRACKETS = (("(", ")"), ("[", "]"), ("{", "}"))
_SEGMENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def is_runaway(text: str) -> bool:
    """The text continues into a new instruction or conversation turn (see the module docstring)."""
    return any(r.search(text) for r in _RUNAWAY_RES)


def is_truncated(text: str, stop_reason: str | None = None, raw: str | None = None) -> bool:
    """Generation ran out of tokens, or the text ends in a way no finished answer does."""
    if stop_reason == "length" and not _cut_by_stop(text, raw):
        return True
    if stop_reason == "dead_end":  # a steered row that could not go on: never a finished answer
        return True
    return is_dangling(text)


def is_dangling(text: str) -> bool:
    """The text ends as no finished answer does (a trailing colon or comma, an empty list item, an open
    bracket, quote or code fence). The steered sampler lets an answer end only where this is False."""
    t = text.rstrip()
    if not t:
        return False
    if t.endswith((":", ",")) or _EMPTY_ITEM_RE.search(t):
        return True
    if any(t.count(o) > t.count(c) for o, c in _BRACKETS):
        return True
    if t.count('"') % 2 == 1 or t.count("“") > t.count("”"):
        return True
    return len(_FENCE_RE.findall(t)) % 2 == 1


def closers(text: str) -> str:
    """What closes the quotes and brackets ``text`` leaves open (as :func:`is_dangling` counts them): a
    double quote, then the brackets, the last opened first."""
    out = '"' if text.count('"') % 2 else ""
    out += "”" * max(0, text.count("“") - text.count("”"))
    missing = [(text.rfind(o), c * (text.count(o) - text.count(c))) for o, c in _BRACKETS]
    return out + "".join(c for _, c in sorted(missing, reverse=True))


def _cut_by_stop(text: str, raw: str | None) -> bool:
    # A backend may report "length" yet have cut the text at a stop string found earlier: then the answer
    # ended before the limit. Recognizable because text is a strict prefix of raw.
    return raw is not None and len(raw.strip()) > len(text.strip()) and raw.lstrip().startswith(text.strip())


def word_count(text: str) -> int:
    return len(_WORD_RE.findall(text))


def is_echo(text: str, instruction: str | None, *, ratio: float = 90.0) -> bool:
    """The answer repeats the instruction (near-verbatim, or by starting with it)."""
    if not instruction:
        return False
    nt, ni = normalize(text), normalize(instruction)
    if not nt or not ni:
        return False
    if fuzz.ratio(nt, ni) >= ratio:
        return True
    return len(ni.split()) >= 3 and (nt == ni or nt.startswith(ni + " "))


def is_repetitive(text: str, *, times: int = 3, share: float = 0.5) -> bool:
    """The answer loops: a sentence/line (>= 3 words) repeated ``times``+ times, or 4-word runs seen
    ``times``+ times each are at least ``share`` of all 4-word runs (a loop without sentence ends)."""
    segments = Counter(n for seg in _SEGMENT_SPLIT.split(text) if len((n := normalize(seg)).split()) >= 3)
    if segments and max(segments.values()) >= times:
        return True
    words = [w.casefold() for w in _WORD_RE.findall(text)]
    runs = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    if len(runs) < 8:
        return False
    looped = sum(c for c in Counter(runs).values() if c >= times)
    return looped / len(runs) >= share


def is_degenerate(text: str, *, min_distinct: float = 0.4, min_letters: float = 0.4) -> bool:
    """Word salad (30+ words, under ``min_distinct`` of them distinct) or hardly any letters (10+ tokens,
    letters under ``min_letters`` of the non-space characters)."""
    words = [w.casefold() for w in _WORD_RE.findall(text)]
    if len(words) >= 30 and len(set(words)) < min_distinct * len(words):
        return True
    chars = re.sub(r"\s", "", text)
    return len(text.split()) >= 10 and sum(c.isalpha() for c in chars) < min_letters * len(chars)


def qc_flags(
    text: str,
    raw: str | None = None,
    stop_reason: str | None = None,
    instruction: str | None = None,
    *,
    min_words: int = 2,
) -> dict[str, bool]:
    """All QC flags of one response, keyed by :data:`QC_FLAGS`."""
    empty = not text.strip()
    return {
        "runaway": not empty and is_runaway(text),
        "truncated": is_truncated(text, stop_reason, raw),
        "too_short": not empty and word_count(text) < min_words,
        "echo": not empty and is_echo(text, instruction),
        "repetitive": not empty and is_repetitive(text),
        "degenerate": not empty and is_degenerate(text),
        "empty": empty,
    }


def record_flags(record: Mapping[str, Any], *, min_words: int = 2) -> dict[str, bool]:
    """The stored ``qc`` of a response record, or flags computed from its fields when it has none."""
    stored = record.get("qc")
    if isinstance(stored, Mapping):
        return {k: bool(stored.get(k, False)) for k in QC_FLAGS}
    return qc_flags(
        str(record.get("text", "")),
        record.get("raw"),
        record.get("stop_reason"),
        record.get("instruction"),
        min_words=min_words,
    )


def qc_rates(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Fraction of records with each flag, plus ``any`` (at least one flag). Raises on zero records."""
    counts = dict.fromkeys((*QC_FLAGS, "any"), 0)
    n = 0
    for rec in records:
        flags = record_flags(rec)
        n += 1
        for k, v in flags.items():
            counts[k] += v
        counts["any"] += any(flags.values())
    if n == 0:
        raise ValueError("qc_rates needs at least one record")
    return {k: c / n for k, c in counts.items()}
