"""Compute the output head only where its logits are read.

Gemma 3's tied 262k x 640 output head is 168 M of its 268 M parameters: a forward pass that computes logits at
every position spends most of its time on rows nobody reads. Generation reads the last position of a prompt
pass and of each decode step; scoring reads the positions that predict the option's tokens. ``full_head()``
turns the saving off (the *before* of ``bench/head.py``; tests check the outputs do not change).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_FULL = False


@contextlib.contextmanager
def full_head() -> Iterator[None]:
    """Logits at every position, as a plain forward pass computes them (for comparisons only)."""
    global _FULL
    old, _FULL = _FULL, True
    try:
        yield
    finally:
        _FULL = old


def last(n: int = 1) -> int:
    """``logits_to_keep`` for the last ``n`` positions."""
    return 0 if _FULL else n


def predicting(width: int, n: int, device: torch.device | str) -> int | torch.Tensor:
    """``logits_to_keep`` for the ``n`` positions that predict the last ``n`` tokens of a ``width`` row."""
    return 0 if _FULL else torch.arange(width - 1 - n, width - 1, device=device)


def predicting_rows(logits: torch.Tensor, width: int, n: int) -> torch.Tensor:
    """The ``n`` logit columns :func:`predicting` asked for, whether or not the head ran everywhere."""
    return logits[:, width - 1 - n : width - 1] if logits.shape[1] == width else logits


def last_rows(logits: torch.Tensor) -> torch.Tensor:
    return logits[:, -1, :]
