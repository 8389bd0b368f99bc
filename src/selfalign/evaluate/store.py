"""Each condition's generations, kept as soon as the condition is done, so a killed evaluation resumes at the
condition it was in instead of starting over (the proof config's evaluation is ~50 minutes on 2 cores).

One file per condition, ``<dir>/<condition>.jsonl``, written atomically: a header line with the key, then one
generation per item. The key hashes everything the generations depend on — the condition, every prompt, the
decoding parameters and what the caller adds (the base weights, each adapter's files) — so a file made under
other settings is regenerated, never reused. A condition is generated whole, as without the store: batches
are the same, so the outputs are the same token for token.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from selfalign.config import stable_hash
from selfalign.data.jsonl import iter_jsonl, write_jsonl_atomic
from selfalign.engine.types import Generation, GenParams
from selfalign.evaluate.conditions import Condition


class ConditionStore:
    def __init__(self, root: Path, context: Mapping[str, Any]) -> None:
        self.root, self.context = Path(root), dict(context)

    def _key(self, cond: Condition, prompts: Sequence[str], params: GenParams) -> str:
        parts = {"context": self.context, "condition": cond.model_dump(), "prompts": list(prompts),
                 "params": asdict(params)}  # fmt: skip
        return stable_hash(parts)[:16]

    def _path(self, cond: Condition) -> Path:
        return self.root / f"{cond.name}.jsonl"

    def load(self, cond: Condition, prompts: Sequence[str], params: GenParams) -> list[Generation] | None:
        """The condition's generations if a file with the same key holds all of them; else None."""
        path = self._path(cond)
        if not path.is_file():
            return None
        rows = [r for _, r in iter_jsonl(path)]
        if len(rows) != len(prompts) + 1 or rows[0].get("key") != self._key(cond, prompts, params):
            return None
        return [Generation(**r) for r in rows[1:]]

    def save(
        self, cond: Condition, prompts: Sequence[str], params: GenParams, gens: Sequence[Generation]
    ) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        key = self._key(cond, prompts, params)
        write_jsonl_atomic(self._path(cond), [{"key": key}, *(asdict(g) for g in gens)])

    def clear(self) -> None:
        """Once the evaluation's outputs are written, the per-condition files are no longer needed."""
        shutil.rmtree(self.root, ignore_errors=True)
