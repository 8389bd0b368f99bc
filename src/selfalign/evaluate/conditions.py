"""Evaluation conditions as data: which adapter is active and how the prompt is built.

Every condition answers the same held-out items. The base model is always evaluated twice: zero-shot in
the shared Instruction/Response format, and few-shot with fixed solved examples (in-context alignment,
URIAL-style). The few-shot base is the baseline: the first version's "improvement" was the format cue
alone, and only a baseline that already has the cue shows what training added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from selfalign.errors import ConfigError
from selfalign.evaluate.items import HeldOutItem
from selfalign.prompts.builders import heldout_overlap, urial_prompt
from selfalign.prompts.format import get_format

PromptKind = Literal["zero_shot", "few_shot"]

BASE_ZERO_SHOT = "base_zero_shot"
BASE_FEW_SHOT = "base_few_shot"


class Condition(BaseModel):
    """One way of answering: a named adapter (or the plain base) and a prompt kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="label used in results, e.g. base_few_shot, sft, dpo")
    adapter: str | None = Field(default=None, description="attached adapter name; null = the plain base")
    prompt: PromptKind = Field(
        default="zero_shot", description="zero_shot: the format's prompt; few_shot: URIAL-style shots first"
    )


def base_conditions() -> list[Condition]:
    """The two conditions every evaluation has."""
    return [
        Condition(name=BASE_ZERO_SHOT, adapter=None, prompt="zero_shot"),
        Condition(name=BASE_FEW_SHOT, adapter=None, prompt="few_shot"),
    ]


def with_adapters(adapters: Sequence[str]) -> list[Condition]:
    """Base zero-shot, base few-shot, then each adapter with the zero-shot prompt (as it was trained)."""
    return [*base_conditions(), *(Condition(name=a, adapter=a, prompt="zero_shot") for a in adapters)]


def check_conditions(conditions: Sequence[Condition], baseline: str, attached: Sequence[str]) -> None:
    """Names unique, baseline present, every adapter attached; ``ConfigError`` otherwise."""
    names = [c.name for c in conditions]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"evaluate.conditions: duplicate condition name {dupes[0]!r}")
    if baseline not in names:
        raise ConfigError(f"evaluate.baseline: {baseline!r} is not a condition (have: {', '.join(names)})")
    for c in conditions:
        if c.adapter is not None and c.adapter not in attached:
            have = ", ".join(sorted(attached)) or "none"
            raise ConfigError(
                f"evaluate.conditions: {c.name!r} needs adapter {c.adapter!r}; attached: {have}"
            )


class PromptBuilder:
    """Builds each condition's prompt. The few-shot shots are fixed for the whole item set and never
    near-duplicate any held-out item (so no item is shown solved)."""

    def __init__(self, items: Sequence[HeldOutItem], shots: int = 3, shots_seed: int = 0) -> None:
        self.shots = shots
        self.shots_seed = shots_seed
        self.exclude = heldout_overlap([it.instruction for it in items])

    def build(self, kind: PromptKind, item: HeldOutItem) -> str:
        if kind == "zero_shot":
            return get_format().prompt(item.instruction)
        return urial_prompt(item.instruction, k=self.shots, seed=self.shots_seed, exclude_ids=self.exclude)
