"""The torch backend: batching, decoding and scoring of the guard's token ids on the engine's torch model.

Like :mod:`selfalign.engine.vllm_backend` it sits below :class:`~selfalign.engine.Engine` and never imports
it: the engine hands it token ids, per-row seeds and the model with the right adapter active; it returns
:class:`Generation` rows (cut by the shared :func:`~selfalign.engine.generate.finish`) or option scores.
What it owns here: the queue order, continuous batching (``generate.decode``), shared-prefix reuse
(``batch.Stems``), the out-of-memory fallback and scoring's shared stems (``scoring.score_shared``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from selfalign.engine.batch import Stems
from selfalign.engine.generate import generate_batch
from selfalign.engine.guards import Guard
from selfalign.engine.scoring import batches_by_length, score_shared
from selfalign.engine.types import Generation, GenParams, OptionScore

T = TypeVar("T")


def halving_on_oom(run: Callable[[list[int]], list[T]], idx: list[int]) -> list[T]:
    """``run(idx)``; on an accelerator out-of-memory error, run the two halves instead (recursively).

    Calls then shrink exactly where memory runs out (long prompts) and stay large elsewhere. Output is
    unchanged: sampling is seeded per row (greedy rows may differ only by float rounding of batch shape).
    """
    import torch

    try:
        return run(idx)
    except torch.OutOfMemoryError:
        if len(idx) == 1:
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    half = len(idx) // 2
    return halving_on_oom(run, idx[:half]) + halving_on_oom(run, idx[half:])


@dataclass
class TorchOptions:
    """Escape hatches for comparisons (bench, tests): the engine before each change, one at a time."""

    refill: bool = True  # continuous batching: free slots take waiting prompts mid-decode
    prefixes: bool = True  # a prefix shared by several prompts is prefilled once (batch.Stems)


class TorchBackend:
    """Generation and scoring on a torch model passed per call (the engine switches adapters on it)."""

    name = "torch"

    def __init__(self, guard: Guard, pad_id: int, eos_ids: set[int]) -> None:
        self.guard, self.pad_id, self.eos_ids = guard, pad_id, eos_ids
        self.options = TorchOptions()

    def generate(
        self,
        model: Any,
        encoded: list[list[int]],
        seeds: list[int],
        params: GenParams,
        *,
        tick: Callable[[int, int], None] | None = None,
        steers: Sequence[Any | None] | None = None,
    ) -> list[Generation]:
        """Complete every row; results in input order. Rows are queued longest first (a stem's members
        together), ``params.batch_size`` decode at a time."""
        opts = self.options
        stems = Stems(encoded) if opts.prefixes else None
        order = stems.order(encoded) if stems is not None else [i for b in batches_by_length(
            [len(e) for e in encoded], len(encoded) or 1) for i in b]  # fmt: skip
        out: list[Generation | None] = [None] * len(encoded)

        def run(idx: list[int]) -> list[Generation]:
            rows, row_seeds = [encoded[i] for i in idx], [seeds[i] for i in idx]
            row_steers = None if steers is None else [steers[i] for i in idx]
            return generate_batch(model, self.guard, rows, row_seeds, params, self.pad_id, self.eos_ids, tick,
                                  steers=row_steers, refill=opts.refill, stems=stems)  # fmt: skip

        for i, g in zip(order, halving_on_oom(run, order), strict=True):
            out[i] = g
        return [g for g in out if g is not None]

    def score(
        self, model: Any, pairs: list[tuple[list[int], list[int]]], batch_size: int
    ) -> list[OptionScore]:
        """Options of one prompt, and prompts that share a prefix, run their shared part once."""
        return score_shared(model, pairs, self.pad_id, batch_size)

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "continuous_batching": self.options.refill,
                "prefix_reuse": self.options.prefixes}  # fmt: skip
