"""The single definition of the Instruction/Response text format (loaded from ``data/format.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Format:
    instruction_prefix: str
    response_prefix: str
    end: str
    example_separator: str
    stop: tuple[str, ...]

    def prompt(self, instruction: str) -> str:
        """The text that precedes a response: ends with the response prefix."""
        return f"{self.instruction_prefix}{instruction.strip()}\n{self.response_prefix}"

    def completion(self, response: str) -> str:
        """The text a model should produce after :meth:`prompt` (leading space, end delimiter)."""
        return f" {response.strip()}{self.end}"

    def unfinished(self, response: str) -> str:
        """A response the model never ended (it ran to the token limit): the leading space, no delimiter."""
        return f" {response.strip()}"

    def example(self, instruction: str, response: str) -> str:
        return self.prompt(instruction) + self.completion(response)

    def few_shot(self, examples: list[tuple[str, str]], instruction: str) -> str:
        """Few-shot completion prompt: solved examples, then the open instruction."""
        shots = [self.example(i, r) for i, r in examples]
        return self.example_separator.join([*shots, self.prompt(instruction)])


@cache
def get_format() -> Format:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("selfalign.prompts").joinpath("data/format.yaml").read_text("utf-8")
    )
    return Format(
        instruction_prefix=raw["instruction_prefix"],
        response_prefix=raw["response_prefix"],
        end=raw["end"],
        example_separator=raw["example_separator"],
        stop=tuple(raw["stop"]),
    )
