"""Decoding-time steers: one per constraint type, derived from the same params as its check.

Below the engine: the engine builds a :class:`Steer` per steered row from its constraint dicts and the
tokenizer it owns (``steers_for``) and calls ``constrain`` / ``advance`` from its decode loop
(the contract is :class:`RowSteer`; docs/CONSTRAINTS.md has the steer table and its limits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from selfalign.steer.build import STEERS, build_steer
from selfalign.steer.row import Steer
from selfalign.steer.vocab import VocabTable, table_for


class RowSteer(Protocol):
    """One row's steer as the decode loop sees it. Each step: ``constrain(ids so far, the row's next-token
    logits)`` returns the logits with every disallowed token at ``-inf`` (all ``-inf``: the row ends as
    ``dead_end``); the loop samples from them and calls ``advance(token)``. ``constrain`` with no ids after
    some were seen means the batch was rerun: the steer starts afresh."""

    def constrain(self, generated: list[int], scores: torch.Tensor) -> torch.Tensor: ...

    def advance(self, token: int) -> None: ...


def steers_for(
    constraints: Sequence[Sequence[dict[str, Any]] | None],
    tokenizer: Any,
    control: set[int],
    vocab_size: int,
    eos_ids: set[int],
    stops: Sequence[str],
    max_new_tokens: int,
) -> list[Steer | None]:
    """One steer per row (``None`` for a row without constraints)."""
    if not any(constraints):
        return [None] * len(constraints)
    table = table_for(tokenizer, control, vocab_size)
    return [build_steer(cs, table, eos_ids, stops, max_new_tokens) if cs else None for cs in constraints]


__all__ = ["STEERS", "RowSteer", "Steer", "VocabTable", "build_steer", "steers_for", "table_for"]
