"""Sentinel probes run at load through the guarded path; results are stored verbatim, never rewritten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from selfalign.engine.types import Generation, GenParams
from selfalign.errors import ContaminationError


class Probed(Protocol):
    """What the probes need of the engine (typed structurally: this module never imports the engine)."""

    guard: Any
    provenance: dict[str, Any]

    def generate(self, prompts: Sequence[str], params: GenParams = ...) -> list[Generation]: ...

PROBES = (
    "The capital of France is",
    "1, 2, 3, 4, 5,",
    "Instruction: Name a primary color.\nResponse:",
)


def run_sentinels(engine: Probed, max_new_tokens: int = 12) -> list[dict[str, Any]]:
    """Greedy completions of fixed probes; a round-trip mismatch or a control token in an output fails."""
    gens = engine.generate(list(PROBES), GenParams(max_new_tokens=max_new_tokens, temperature=0.0))
    results = []
    for probe, g in zip(PROBES, gens, strict=True):
        if g.prompt != probe:
            raise ContaminationError(
                f"sentinel input changed in the tokenizer: sent {probe!r}, fed {g.prompt!r}"
            )
        leaked = engine.guard.control_in(g.raw)
        # A random test model emits random ids, Gemma's 6,249 special tokens among them: noise, not a leak.
        if leaked and engine.provenance.get("kind") != "tiny":
            raise ContaminationError(f"sentinel {probe!r}: output contains chat-control token(s) {leaked}")
        results.append(
            {"input": g.prompt, "output": g.raw, "stop_reason": g.stop_reason, "n_tokens": g.n_tokens,
             "n_prompt_tokens": g.n_prompt_tokens}
        )
    return results
