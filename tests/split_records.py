"""Synthetic instruction records for the split tests: no model, many distinct tasks, real sentence shapes.

The packaged seed instructions (questions, imperatives, tasks that quote an input after a colon) come
first, then made-up tasks of pseudo-words, distinct enough that no two are near-duplicates.
"""

from __future__ import annotations

import random
from typing import Any

from selfalign.prompts import pools

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "do", "gu", "fa", "zi", "bo")
_VERBS = ("Explain", "Describe", "Summarize", "List", "Compare", "Write", "Suggest", "What is", "How does")


def instruction_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` instruction-schema records spread over every pool category, deterministic in ``seed``."""
    rng = random.Random(seed)
    cats = pools.categories()
    out: list[dict[str, Any]] = []
    for s in pools.seeds():
        if len(out) < n:
            out.append(_record(f"s{len(out)}", s.instruction, s.category))
    vocab = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(3)) for _ in range(3000)})
    while len(out) < n:
        k = len(out)
        verb = _VERBS[k % len(_VERBS)]
        body = " ".join(rng.sample(vocab, 7))
        end = "?" if verb.startswith(("What", "How")) else "."
        out.append(_record(f"g{k}", f"{verb} {body}{end}", cats[k % len(cats)]))
    return out


def _record(rid: str, text: str, category: str) -> dict[str, Any]:
    return {"id": rid, "text": text, "category": category, "source": "generated", "prompt": None,
            "gen": None, "constraints": None}  # fmt: skip
