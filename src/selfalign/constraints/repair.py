"""Constraint repair: code rewrites a sampled answer so that it meets the constraints it was asked for.

Rejection sampling keeps only samples that already pass, and a 270M base model almost never passes the
format demands (uppercase, a closing phrase, a postscript, N bullets: 0 passes in 4 tries;
docs/results/history.md).
Back-translation (``backtranslate.py``) states constraints the answer happens to meet, which taught the
model that demands may be ignored (run 2: -6.1 points). Repair goes the other way: the instruction keeps
the demand that was drawn *before* the answer, and a deterministic edit of the model's own answer meets it
(upper-case it, prepend the phrase, move the last sentence into a postscript, regroup the sentences into N
bullets). The content is the model's; the edit is code; the result is re-checked by every one of the
instruction's checks, so a repaired example is exactly as verified as a passing sample.

Types with no faithful edit (min_words, include_words, response_language, fixed_choice, and the held-out
types, which never reach training) are not repaired: an answer must pass those as sampled.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from selfalign.constraints.augment import augment
from selfalign.constraints.check import check_all
from selfalign.constraints.counting import capital_words
from selfalign.constraints.numbers import number_words
from selfalign.constraints.registry import HELD_OUT_TYPES, REGISTRY
from selfalign.constraints.sections import RESPONSE_SEPARATOR
from selfalign.constraints.text import paragraphs, sentences, words

_DIGIT_RUN = re.compile(r"\d+")
_COMMA = re.compile(r"\s*[,\uff0c]\s*")


@dataclass(frozen=True)
class Context:
    """What an edit may use besides the answer: other sampled answers to the same instruction."""

    alternates: Sequence[str] = field(default_factory=tuple)


Fixer = Callable[[str, dict[str, Any], Context], "str | None"]


def _groups(items: list[str], n: int) -> list[list[str]] | None:
    """``items`` cut into ``n`` contiguous, non-empty, near-equal groups; None when there are too few."""
    if n < 1 or len(items) < n:
        return None
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _sentence_groups(text: str, n: int) -> list[str] | None:
    groups = _groups(sentences(text), n)
    return None if groups is None else [" ".join(g) for g in groups]


def _items(text: str, n: int) -> list[str] | None:
    """``n`` list items: whole sentences where there are enough, else runs of words (items may be phrases)."""
    found = _sentence_groups(text, n)
    if found is None:
        groups = _groups(text.split(), n)
        found = None if groups is None else [" ".join(g) for g in groups]
    return found


def _lower_first(s: str) -> str:
    first = s.split(maxsplit=1)[0] if s.split() else ""
    if first == "I" or first.startswith("I'") or capital_words(first):
        return s  # "I", "I'm" and acronyms keep their capitals
    return s[:1].lower() + s[1:]


def _max_words(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    kept: list[str] = []
    for s in sentences(text):
        if len(words(" ".join([*kept, s]))) > p["n"]:
            break
        kept.append(s)
    return " ".join(kept) if kept else None


def _sentence_count(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    found = sentences(text)
    return " ".join(found[: p["n"]]) if len(found) >= p["n"] else None


def _exclude_words(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    kept = [s for s in sentences(text) if REGISTRY["exclude_words"].check(s, p).passed]
    return " ".join(kept) if kept else None


def _no_digits(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    if re.search(r"\d[.,:/]\d", text):
        return None  # decimals, times and dates have no one plain spelling
    return _DIGIT_RUN.sub(lambda m: number_words(int(m.group(0))), text)


def _paragraphs(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    groups = _sentence_groups(text, p["n"])
    return None if groups is None else "\n\n".join(groups)


def _nth_first_word(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    paras = paragraphs(text)
    if len(paras) != p["n"]:
        paras = _sentence_groups(text, p["n"]) or []
    if len(paras) != p["n"]:
        return None
    i = p["nth"] - 1
    paras[i] = f"{p['word'].capitalize()} {_lower_first(paras[i])}"
    return "\n\n".join(paras)


def _listed(marker: Callable[[int], str]) -> Fixer:
    def fix(text: str, p: dict[str, Any], ctx: Context) -> str | None:
        groups = _items(text, p["n"])
        return None if groups is None else "\n".join(f"{marker(i)} {g}" for i, g in enumerate(groups, 1))

    return fix


def _sections(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    groups = _items(text, p["n"])
    if groups is None:
        return None
    return "\n\n".join(f"{p['label']} {i}\n{g}" for i, g in enumerate(groups, 1))


def _json_keys(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    groups = _items(text, len(p["keys"]))
    return None if groups is None else json.dumps(dict(zip(p["keys"], groups, strict=True)), indent=2)


def _two_responses(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    mine = " ".join(text.split()).casefold()
    for alt in ctx.alternates:
        if alt.strip() and " ".join(alt.split()).casefold() != mine:
            return f"{text.strip()}\n{RESPONSE_SEPARATOR}\n{alt.strip()}"
    return None


def _placeholders(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    # The longest distinct words become the blanks a reader fills in: "[Paris]" reads as "your city here".
    pool = sorted({w for w in words(text) if w.isalpha() and len(w) >= 4}, key=lambda w: (-len(w), w))
    if len(pool) < p["n"]:
        return None
    out = text
    for w in pool[: p["n"]]:
        out = re.sub(rf"(?<![\w\[]){re.escape(w)}(?![\w\]])", f"[{w}]", out, count=1)
    return out


def _capital_words(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    if p["relation"] == "at most":
        caps = capital_words(text)[p["n"] :]
        out = text
        for w in caps:
            out = re.sub(rf"(?<!\w){re.escape(w)}(?!\w)", w.capitalize(), out, count=1)
        return out
    need = p["n"] - len(capital_words(text))
    pool = sorted({w for w in words(text) if w.isalpha() and len(w) >= 4 and not w.isupper()},
                  key=lambda w: (-len(w), w))  # fmt: skip
    if len(pool) < need:
        return None
    out = text
    for w in pool[:need]:  # the key words, as a writer stresses them
        out = re.sub(rf"(?<!\w){re.escape(w)}(?!\w)", w.upper(), out, count=1)
    return out


def _postscript(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    found = sentences(text)
    if len(found) >= 2:
        return f"{' '.join(found[:-1])}\n\n{p['marker']} {found[-1]}"
    extra = next((sentences(a)[0] for a in ctx.alternates if sentences(a)), None)
    return f"{text.strip()}\n\n{p['marker']} {extra}" if extra else None


def _starts_with(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    phrase = p["phrase"]
    rest = text.lstrip()
    return f"{phrase}{'' if phrase[-1:] in ':,' else ','} {_lower_first(rest)}"


def _ends_with(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    return f"{text.rstrip()} {p['phrase']}"


def _repeat(text: str, p: dict[str, Any], ctx: Context) -> str | None:
    return f"{p['request'].strip()}\n\n{text.strip()}"


# Applied in this order, so that later edits keep what earlier ones made: content first (what is said),
# then layout (how it is grouped), then framing (what comes first and last), then letter case (all of it).
FIXERS: dict[str, Fixer] = {
    "exclude_words": _exclude_words,
    "no_digits": _no_digits,
    "no_commas": lambda t, p, c: _COMMA.sub(" ", t),
    "max_words": _max_words,
    "sentence_count": _sentence_count,
    "paragraph_count": _paragraphs,
    "nth_paragraph_first_word": _nth_first_word,
    "bullet_count": _listed(lambda i: "-"),
    "numbered_list": _listed(lambda i: f"{i}."),
    "numbered_sections": _sections,
    "json_keys": _json_keys,
    "two_responses": _two_responses,
    "placeholders": _placeholders,
    "capital_word_frequency": _capital_words,
    "postscript": _postscript,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "repeat_request": _repeat,
    "one_line": lambda t, p, c: " ".join(t.split()),
    "lowercase": lambda t, p, c: t.lower(),
    "uppercase": lambda t, p, c: t.upper(),
}
assert not set(FIXERS) & HELD_OUT_TYPES, "held-out types must never be repaired into training data"
assert set(FIXERS) <= set(REGISTRY)
_ORDER = {name: i for i, name in enumerate(FIXERS)}


def repair(text: str, constraints: list[dict[str, Any]], ctx: Context) -> tuple[str, list[str]] | None:
    """``(edited text, types edited)`` that passes every constraint, or None when no edit gets there.

    Only failing constraints are edited, in :data:`FIXERS` order; the edited text must then pass all of
    them (an edit may undo another: such an answer is dropped, not forced). An answer that already passes
    comes back unchanged with no types edited.
    """
    if not constraints:
        raise ValueError("repair needs at least one constraint")
    if all(r.passed for r in check_all(text, constraints)):
        return text, []
    out, edited = text, []
    for c in sorted(constraints, key=lambda c: _ORDER.get(c["type"], len(_ORDER))):
        if REGISTRY[c["type"]].check(out, c["params"]).passed:
            continue
        fixer = FIXERS.get(c["type"])
        fixed = fixer(out, c["params"], ctx) if fixer else None
        if fixed is None or not fixed.strip():
            return None
        out = fixed
        edited.append(c["type"])
    if not all(r.passed for r in check_all(out, constraints)):
        return None
    return out, edited


# How many constraints a redrawn demand has: fixed here, equal to the split mix the proof configs use
# (split.constraint_count_weights: [0.55, 0.3, 0.15]); critique does not see the split's config.
_COUNT_WEIGHTS = (0.55, 0.3, 0.15)


def redraw(
    instruction: str, text: str, rng: random.Random, ctx: Context
) -> tuple[str, list[dict[str, Any]], str, list[str]] | None:
    """A fresh demand for an answer already written, met by repair: ``(instruction + constraints,
    constraints, edited text, types edited)``, or None.

    The constraints are drawn (``augment``) from the repairable training types *without looking at the
    answer*, then the answer is edited to meet them. None unless at least one edit was needed: a demand the
    answer met by chance teaches nothing about obeying one (the back-translation result,
    docs/results/history.md).
    """
    k = rng.choices((1, 2, 3), weights=_COUNT_WEIGHTS)[0]
    try:
        stated, constraints = augment(instruction, rng, k=k, allowed_types=FIXERS)
    except ValueError:  # no k consistent repairable constraints for this instruction (a long request)
        return None
    found = repair(text, constraints, ctx)
    if found is None or not found[1]:
        return None
    return stated, constraints, found[0], found[1]
