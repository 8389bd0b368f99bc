"""Label log-probabilities that do not depend on how the tokenizer splits a label.

A prompt ending in ``"Answer:"`` is naturally followed by ``" A"`` (one token with a leading space), but a
model may put its mass on ``"A"``; and a label like ``"Yes"`` can be several tokens. Each label is scored
as every surface variant (the engine sums a multi-token option's log-probs) and the variants are pooled
with log-sum-exp, so P(label) is the total mass of all ways of writing it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from selfalign.engine.types import OptionScore

DEFAULT_VARIANTS: tuple[str, ...] = (" {}", "{}")


def options(labels: Sequence[str], variants: Sequence[str] = DEFAULT_VARIANTS) -> list[str]:
    """Every surface form of every label, label-major: [A v1, A v2, B v1, B v2]."""
    out = [v.format(label) for label in labels for v in variants]
    if len(set(out)) != len(out):
        raise ValueError(f"label variants collide: {out}")
    return out


def logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def pooled(scores: Sequence[OptionScore], labels: Sequence[str], variants: Sequence[str]) -> dict[str, float]:
    """label -> log P(label) summed over its surface variants (scores in :func:`options` order)."""
    k = len(variants)
    if len(scores) != k * len(labels):
        raise ValueError(f"expected {k * len(labels)} option scores, got {len(scores)}")
    return {label: logsumexp([s.sum for s in scores[i * k : (i + 1) * k]]) for i, label in enumerate(labels)}


def two_way(logp: dict[str, float], first: str, second: str) -> float:
    """P(first) renormalised over the two labels (mass on other tokens is ignored)."""
    return 1.0 / (1.0 + math.exp(logp[second] - logp[first]))
