"""IFEval-style scores: strict and loose, per prompt and per instruction, computed with our checkers.

IFEval reports four accuracies. *Strict* checks the answer as written. *Loose* lets an instruction pass
if any of eight variants of the answer passes it: as written, without its first line, without its last
line, without both, and each of those four with every ``*`` removed. The variants forgive a chatty
"Sure, here it is:" opener, a trailing sign-off, and Markdown bold around text. Prompt level counts an
item as passed when every one of its instructions passes; instruction level counts each instruction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from selfalign.constraints.check import check_all
from selfalign.constraints.text import normalize_newlines


@dataclass(frozen=True)
class IfevalResult:
    """Per-instruction verdicts of one answer, in the item's constraint order."""

    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    @property
    def prompt_strict(self) -> bool:
        return all(self.strict)

    @property
    def prompt_loose(self) -> bool:
        return all(self.loose)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IfevalResult:
        """Back from :meth:`to_dict` (e.g. a stored evaluation record), to aggregate with ifeval_scores."""
        strict, loose = tuple(bool(x) for x in d["strict"]), tuple(bool(x) for x in d["loose"])
        if len(strict) != len(loose) or not strict:
            raise ValueError(f"strict and loose must be equal-length, non-empty lists, got {d!r}")
        return cls(strict, loose)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strict": list(self.strict),
            "loose": list(self.loose),
            "prompt_strict": self.prompt_strict,
            "prompt_loose": self.prompt_loose,
        }


def loose_variants(answer: str) -> list[str]:
    """The eight loose variants of ``answer`` (duplicates kept, so the count is always eight)."""
    lines = normalize_newlines(answer).split("\n")
    cut = [
        "\n".join(lines),
        "\n".join(lines[1:]),
        "\n".join(lines[:-1]),
        "\n".join(lines[1:-1]),
    ]
    return cut + [v.replace("*", "") for v in cut]


def ifeval_result(answer: str, constraints: list[dict[str, Any]]) -> IfevalResult:
    """Strict and loose verdicts for every constraint. A blank variant never passes (see ``base.check``)."""
    if not constraints:
        raise ValueError("ifeval_result needs at least one constraint")
    strict = tuple(r.passed for r in check_all(answer, constraints))
    loose = list(strict)
    for variant in loose_variants(answer)[1:]:
        if all(loose):
            break  # nothing left to rescue
        for i, r in enumerate(check_all(variant, constraints)):
            loose[i] = loose[i] or r.passed
    return IfevalResult(strict, tuple(loose))


@dataclass(frozen=True)
class IfevalScores:
    """IFEval's four accuracies over a set of items, with the counts they come from."""

    prompt_strict: float
    prompt_loose: float
    instruction_strict: float
    instruction_loose: float
    prompts: int
    instructions: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ifeval_scores(results: Iterable[IfevalResult]) -> IfevalScores:
    """Aggregate per-item results; ValueError when there are none (a rate of nothing is not 0)."""
    rs = list(results)
    if not rs:
        raise ValueError("ifeval_scores needs at least one result")
    n_inst = sum(len(r.strict) for r in rs)
    return IfevalScores(
        prompt_strict=sum(r.prompt_strict for r in rs) / len(rs),
        prompt_loose=sum(r.prompt_loose for r in rs) / len(rs),
        instruction_strict=sum(sum(r.strict) for r in rs) / n_inst,
        instruction_loose=sum(sum(r.loose) for r in rs) / n_inst,
        prompts=len(rs),
        instructions=n_inst,
    )
