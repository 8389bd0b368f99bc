"""An engine view that scores each distinct (adapter, prompt, option) once.

Calibration runs several scorers over the same check set; the likelihood scorers ask for exactly the same
requests (they differ only in how they combine the log-probs), so behind this view the second and third
cost nothing. Everything except ``logprobs`` is passed through to the real engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfalign.engine import Engine
    from selfalign.engine.types import OptionScore


class MemoEngine:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._memo: dict[tuple[str | None, str, str], OptionScore] = {}
        self.calls = 0  # real engine.logprobs calls made
        self.scored = 0  # (prompt, option) sequences the real engine scored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def logprobs(
        self, requests: Sequence[tuple[str, Sequence[str]]], adapter: str | None = None, batch_size: int = 16
    ) -> list[list[OptionScore]]:
        # Only the missing options go to the engine, in one call, so its length-sorted batching sees them all.
        missing: dict[str, list[str]] = {}
        for prompt, options in requests:
            for o in options:
                if (adapter, prompt, o) not in self._memo and o not in missing.get(prompt, []):
                    missing.setdefault(prompt, []).append(o)
        if missing:
            todo = list(missing.items())
            got = self._engine.logprobs(todo, adapter=adapter, batch_size=batch_size)
            self.calls += 1
            for (prompt, options), scores in zip(todo, got, strict=True):
                self.scored += len(options)
                for o, s in zip(options, scores, strict=True):
                    self._memo[(adapter, prompt, o)] = s
        return [[self._memo[(adapter, p, o)] for o in options] for p, options in requests]
