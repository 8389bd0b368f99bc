"""Request/response types of the engine's two primitives (generate, logprobs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# dead_end: a steered row whose steers left no allowed token (docs/CONSTRAINTS.md); callers drop and count it.
StopReason = Literal["stop", "eos", "length", "dead_end"]


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters for :meth:`Engine.generate`.

    ``temperature == 0`` means greedy. Stop strings are matched on *decoded* text, never token ids.
    Sampling is seeded per prompt (from ``seed``, the prompt text and its repeat index in the call), so a
    prompt's output does not depend on which other prompts share its batch.
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    stop: tuple[str, ...] = ()
    batch_size: int = 16
    repetition_penalty: float = 1.0


@dataclass
class Generation:
    """One completion. ``prompt`` is the exact text sent (decoded back from the ids that were fed)."""

    prompt: str
    raw: str  # everything generated, up to (not including) EOS
    text: str  # raw cut at the first stop string
    stop_reason: StopReason
    n_prompt_tokens: int
    n_tokens: int  # tokens generated (including the stop string's tokens, excluding EOS/padding)
    stop: str | None = None  # which stop string fired
    seed: int | None = None
    steered: bool = False  # decoded under the row's constraint steers (Engine.generate(constraints=...))


@dataclass(frozen=True)
class OptionScore:
    """Log-probability of one option's tokens after the prompt."""

    sum: float
    mean: float
    n_tokens: int
    token_logprobs: tuple[float, ...] = field(default=(), repr=False)
