"""Weave constraints into an instruction with the held-out wordings (evaluation only, never training).

``attach`` (augment.py) appends the training wordings as sentences after the task; people more often put a
demand inside the sentence: "In 60 words or fewer and without a single comma, explain …", "Explain … — keep
it lowercase throughout." :func:`weave` does that with the fragments of ``heldout_wording.py``, in one of
these shapes, drawn from ``rng`` among those the instruction allows:

* ``lead``  — every phrase before the task (its first word lower-cased: only an imperative verb or a question
  word from a list, so a proper noun keeps its capital and a statement ("A tank holds …") is not led);
* ``tail``  — every phrase after the task, before its end mark (", …" or " — …");
* ``split`` — one phrase before, the rest after (two or more constraints);
* ``aside`` — imperative clauses after a dash at the end (not for a question);
* ``lead_aside`` — one phrase before, the rest as asides (two or more constraints, not a question);
* ``mid``   — every phrase right after the opening verb ("Write, in 60 words or fewer, a note …"; only a
  verb from a list without a particle: "Fill in", "Come up with" are never split);
* ``paren`` — every phrase in parentheses after the task (one or two constraints; not when a drawn phrase
  has parentheses of its own).

Only the first line of a multi-line instruction (one that quotes an input text) is woven; the quoted text
is left as it is. The constraints themselves are not touched: the item's check is the dict as drawn.
"""

from __future__ import annotations

import random
import re
from typing import Any

from selfalign.constraints.heldout_wording import HELDOUT
from selfalign.constraints.registry import validate_constraint

SHAPES = ("lead", "tail", "split", "aside", "lead_aside", "mid", "paren")

# Words an instruction commonly opens with that stay correct when lower-cased mid-sentence.
_OPENERS = frozenset({
    "act", "analyse", "analyze", "answer", "are", "argue", "arrange", "assess", "did", "do", "does", "is",
    "brainstorm", "build", "calculate", "can", "categorise", "categorize", "change", "check", "choose",
    "cite", "classify", "come", "compare", "complete", "compose", "consider", "construct", "continue",
    "convert", "convey", "convince", "correct", "could", "count", "craft", "create", "critique",
    "decide", "define", "describe", "design", "detect", "determine", "develop", "discuss",
    "draft", "edit", "estimate", "evaluate", "explain", "extract", "fill", "find", "finish", "fix",
    "generate", "give", "group", "help", "how", "identify", "illustrate",
    "imagine", "improve", "introduce", "invent", "justify", "label", "list", "make", "match",
    "mention", "name", "note", "offer", "order", "outline", "paraphrase", "persuade", "pick", "pitch",
    "plan", "play", "predict", "prepare", "pretend", "produce", "propose", "provide", "put", "rank",
    "read", "recommend", "rephrase", "reply", "respond", "review", "rewrite", "say", "share", "shorten",
    "should", "show", "simplify", "sketch", "solve", "sort", "state", "suggest", "summarise", "summarize",
    "teach", "tell", "think", "transform", "translate", "turn", "use",
    "walk", "what", "when", "where", "which", "who", "whose", "why", "would", "write",
})  # fmt: skip
# Opening verbs a phrase can follow directly ("Explain, in 60 words or fewer, why …"): no particle verbs.
_MID_VERBS = frozenset({
    "analyse", "analyze", "assess", "brainstorm", "calculate", "classify", "compare", "compose", "create",
    "critique", "define", "describe", "design", "discuss", "draft", "evaluate", "explain", "extract",
    "give", "identify", "illustrate", "imagine", "invent", "justify", "list", "name", "outline",
    "paraphrase", "propose", "rank", "recommend", "rephrase", "rewrite", "simplify", "sketch", "suggest",
    "summarise", "summarize", "translate", "write",
})  # fmt: skip


def _and(items: list[str], oxford: bool = False) -> str:
    """``a``, ``a and b``, ``a, b and c``; asides (whole clauses) take a comma before the last ``and``."""
    if len(items) == 1:
        return items[0]
    last = ", and " if oxford else " and "
    return f"{', '.join(items[:-1])}{last}{items[-1]}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _verb_split(core: str) -> tuple[str, str] | None:
    """``(opening verb, the rest)`` when a phrase can sit between them ("Write" | "a haiku about snow")."""
    m = re.match(r"([A-Z][a-z]*) (\S.*)", core)
    if not m or m.group(1).lower() not in _MID_VERBS:
        return None
    return m.group(1), m.group(2)


def _lowered(core: str) -> str | None:
    """``core`` with its first word lower-cased, or None when that could wrongly lower a proper noun."""
    m = re.match(r"[A-Z][a-z']*\b", core)
    if not m or m.group(0).lower() not in _OPENERS:
        return None
    return core[:1].lower() + core[1:]


def shapes_for(instruction: str, k: int) -> list[str]:
    """The shapes :func:`weave` may use for this instruction and ``k`` constraints (:data:`SHAPES` order)."""
    core, mark = _parts(instruction.strip().split("\n", 1)[0])
    lead = _lowered(core) is not None
    question = mark == "?"
    ok = {
        "lead": lead,
        "tail": True,
        "split": lead and k >= 2,
        "aside": not question and mark != ":",
        "lead_aside": lead and k >= 2 and not question and mark != ":",
        "mid": _verb_split(core) is not None,
        "paren": k <= 2,  # a parenthesis holds a short aside, not three demands
    }
    return [s for s in SHAPES if ok[s]]


def _parts(line: str) -> tuple[str, str]:
    """``(core, end mark)``: the mark is the last character when it is . ? ! or : (an ellipsis before it
    stays in the core: "… 11, 15, ...?" keeps its dots)."""
    line = line.rstrip()
    if line[-1:] in (".", "?", "!", ":"):
        return line[:-1].rstrip(), line[-1]
    return line, ""


def weave(instruction: str, constraints: list[dict[str, Any]], rng: random.Random) -> tuple[str, str]:
    """``(instruction with the constraints woven in, shape used)``; wordings and shape drawn from ``rng``.

    Deterministic in the instruction, the constraints and the ``rng`` state.
    """
    base = instruction.strip()
    if not base:
        raise ValueError("instruction is empty")
    cs = [validate_constraint(c, field=f"constraints[{i}]") for i, c in enumerate(constraints)]
    if not cs:
        return base, "none"
    head, nl, rest = base.partition("\n")
    core, mark = _parts(head)
    frags = [HELDOUT[c["type"]](c["params"]) for c in cs]
    phrases = [rng.choice(p) for p, _ in frags]
    asides = [rng.choice(a) for _, a in frags]
    nested = any("(" in p for p in phrases)  # "(… (…))" reads badly: no parentheses around parentheses
    shape = rng.choice([s for s in shapes_for(base, len(cs)) if not (s == "paren" and nested)])
    end = mark if mark in ("?", "!", ":") else "."
    lowered = _lowered(core) or core
    if shape == "lead":
        line = f"{_cap(_and(phrases))}, {lowered}{end}"
    elif shape == "tail":
        line = f"{core}{rng.choice((', ', ' — '))}{_and(phrases)}{end}"
    elif shape == "split":
        line = f"{_cap(phrases[0])}, {lowered}, {_and(phrases[1:])}{end}"
    elif shape == "aside":
        line = f"{core} — {_and(asides, oxford=True)}{end}"
    elif shape == "lead_aside":
        line = f"{_cap(phrases[0])}, {lowered} — {_and(asides[1:], oxford=True)}{end}"
    elif shape == "mid":
        verb, rest_of_core = _verb_split(core) or (core, "")
        line = f"{verb}, {_and(phrases)}, {rest_of_core}{end}"
    else:  # paren
        line = f"{core} ({_and(phrases)}){end}"
    return line + nl + rest, shape
