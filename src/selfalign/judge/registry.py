"""Scorer names → instances."""

from __future__ import annotations

from collections.abc import Callable

from selfalign.errors import ConfigError
from selfalign.judge.ab import ABPairwise, ABPointwise
from selfalign.judge.contrast import LikelihoodContrast
from selfalign.judge.types import Scorer
from selfalign.judge.verifiable import Verifiable

_FACTORIES: dict[str, Callable[[], Scorer]] = {
    "ab-pointwise": ABPointwise,
    "ab-pairwise": ABPairwise,
    "likelihood-contrast": LikelihoodContrast,
    "likelihood-contrast-end": lambda: LikelihoodContrast(end_weight=1.0),
    "verifiable": Verifiable,
}

SCORERS: tuple[str, ...] = tuple(_FACTORIES)
MODEL_SCORERS: tuple[str, ...] = tuple(n for n in SCORERS if n != "verifiable")


def get_scorer(name: str) -> Scorer:
    """A fresh scorer by name; ``ConfigError`` naming the known ones otherwise."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise ConfigError(f"unknown scorer {name!r}; known: {', '.join(SCORERS)} (or 'auto')") from None
