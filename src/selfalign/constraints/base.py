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

    def validate(
        self, params: object, where: str = DEFAULT_WHERE, prefix: str = "params", line: int | None = None
    ) -> dict[str, Any]:
        """Normalized copy of ``params``; raises ``DataError`` naming ``<prefix>.<name>`` when invalid."""
        return validate_params(params, self.specs, where, prefix, line)

    def describe(self, params: dict[str, Any]) -> str:
        """A natural English sentence to append to an instruction, e.g. ``"Do not use any commas."``."""
        return self._describe(self.validate(params))

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

    @abstractmethod
    def _check(self, answer: str, p: dict[str, Any]) -> tuple[bool, str]: ...
