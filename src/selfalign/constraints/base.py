"""The shape every constraint type has: schema, description, check, parameter sampler."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from selfalign.constraints.params import ParamSpec, validate_params

DEFAULT_WHERE = "<constraint>"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check. ``detail`` states the measured value, e.g. ``"found 2 bullets, need 3"``."""

    type: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RequiredText:
    """Text an obeying answer must contain verbatim (used to find params-level conflicts).

    ``case_sensitive`` is False for words matched case-insensitively (include_words, ...): their casing
    can follow a lowercase/uppercase rule, but their commas and digits cannot be avoided.
    """

    text: str
    case_sensitive: bool


class ConstraintType(ABC):
    """One verifiable constraint type. Subclasses are stateless; one instance lives in the registry."""

    name: ClassVar[str]
    specs: ClassVar[dict[str, ParamSpec]] = {}
    # False for a type that only makes sense on an instruction written for it (fixed answer options):
    # ``augment`` never draws it; hand-written items may still use it.
    attachable: ClassVar[bool] = True
    # Parameters that come from the instruction itself (``bind``), so descriptions do not state them.
    implicit_params: ClassVar[frozenset[str]] = frozenset()

    def validate(
        self, params: object, where: str = DEFAULT_WHERE, prefix: str = "params", line: int | None = None
    ) -> dict[str, Any]:
        """Normalized copy of ``params``; raises ``DataError`` naming ``<prefix>.<name>`` when invalid."""
        return validate_params(params, self.specs, where, prefix, line)

    def describe(self, params: dict[str, Any], rng: random.Random | None = None) -> str:
        """A natural English sentence to append to an instruction, e.g. ``"Do not use any commas."``.

        Without ``rng`` the canonical wording; with it one of :meth:`phrasings`, drawn from ``rng``, so
        that training data does not teach one fixed sentence per constraint.
        """
        options = self.phrasings(params)
        return options[0] if rng is None else rng.choice(options)

    def phrasings(self, params: dict[str, Any]) -> list[str]:
        """Every wording of the constraint (canonical first); each states all non-implicit params."""
        p = self.validate(params)
        return [self._describe(p), *self._rephrase(p)]

    def bind(self, params: dict[str, Any], instruction: str) -> dict[str, Any] | None:
        """``params`` adapted to the instruction they will be attached to; None if they cannot be.

        Only types with :attr:`implicit_params` (repeat the request) change anything.
        """
        return params

    def check(self, answer: str, params: dict[str, Any]) -> CheckResult:
        """Deterministic verdict on ``answer``. A blank answer fails every check (nothing was followed)."""
        if not isinstance(answer, str):
            raise TypeError(f"answer must be a str, got {type(answer).__name__}")
        p = self.validate(params)
        if not answer.strip():
            return CheckResult(self.name, False, "answer is empty")
        passed, detail = self._check(answer, p)
        return CheckResult(self.name, passed, detail)

    @abstractmethod
    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        """Draw sensible parameters; the same ``rng`` state always gives the same result."""

    def required_texts(self, params: dict[str, Any]) -> list[RequiredText]:
        """Texts any obeying answer must contain (for conflict detection); none by default."""
        return []

    def min_words(self, params: dict[str, Any]) -> int:
        """A lower bound on the word count of any obeying answer (for conflicts with max_words)."""
        return 0

    @abstractmethod
    def _describe(self, p: dict[str, Any]) -> str: ...

    def _rephrase(self, p: dict[str, Any]) -> list[str]:
        """Other wordings of the same constraint (same meaning, same check)."""
        return []

    @abstractmethod
    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]: ...
