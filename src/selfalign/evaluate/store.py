"""Each condition's generations, kept as soon as the condition is done: a killed evaluation resumes at the
condition it was in, and a later evaluation of the same items reuses what it would generate identically.

One file per condition, ``<dir>/<condition>.jsonl``, written atomically: a header line with the key, then one
generation per item. The key hashes everything the generations depend on — the code version, the base
weights and how they run (the caller's ``context``), the condition's own adapter files, its prompt kind,
every prompt and the decoding parameters — and not the condition's name, so an ablation that evaluates new
adapters beside a finished run can take that run's base answers (``reuse``) instead of spending the time
again. A file made under anything else is not used, never trusted. A condition is generated whole, as without
the store: batches are the same, so the outputs are the same token for token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from selfalign.config import stable_hash
from selfalign.data.jsonl import iter_jsonl, write_jsonl_atomic
from selfalign.engine.types import Generation, GenParams
from selfalign.evaluate.conditions import Condition

log = logging.getLogger("selfalign")

STORE_DIR = "conditions"  # under an evaluation's out dir


class ConditionStore:
    def __init__(
        self,
        root: Path,
        context: Mapping[str, Any],
        adapters: Mapping[str, str] | None = None,
        reuse: Sequence[Path] = (),
    ) -> None:
        """``adapters``: attached adapter name -> digest of its files; ``reuse``: earlier evaluations' out
        dirs whose kept conditions may stand in for one of these."""
        self.root, self.context = Path(root), dict(context)
        self.adapters = dict(adapters or {})
        self.reuse = [Path(r) for r in reuse]
        self.reused: dict[str, str] = {}  # condition -> the file its answers came from

    def _key(self, cond: Condition, prompts: Sequence[str], params: GenParams) -> str:
        adapter = self.adapters[cond.adapter] if cond.adapter is not None else None
        parts = {"context": self.context, "adapter": adapter, "prompt": cond.prompt, "prompts": list(prompts),
                 "params": asdict(params)}  # fmt: skip
        return stable_hash(parts)[:16]

    def _path(self, cond: Condition) -> Path:
        return self.root / f"{cond.name}.jsonl"

    @staticmethod
    def _read(path: Path, key: str, n: int) -> list[Generation] | None:
        with path.open(encoding="utf-8") as f:
            first = f.readline()
        try:
            header = json.loads(first)
        except json.JSONDecodeError:
            return None  # not a store file (or one cut short): generate instead
        if not isinstance(header, dict) or header.get("key") != key:
            return None
        rows = [r for _, r in iter_jsonl(path)]
        return [Generation(**r) for r in rows[1:]] if len(rows) == n + 1 else None

    def load(self, cond: Condition, prompts: Sequence[str], params: GenParams) -> list[Generation] | None:
        """The condition's generations from this store, else from a ``reuse`` dir (then kept here too); None
        if no file with the same key holds all of them."""
        key = self._key(cond, prompts, params)
        own = self._path(cond)
        if own.is_file() and (gens := self._read(own, key, len(prompts))) is not None:
            return gens
        for run in self.reuse:
            for path in sorted((run / STORE_DIR).glob("*.jsonl")):
                gens = self._read(path, key, len(prompts))
                if gens is not None:
                    self.save(cond, prompts, params, gens)
                    self.reused[cond.name] = str(path)
                    return gens
        if self.reuse:
            log.info("evaluate: %s: no kept answers with its key in %s; generating", cond.name,
                     ", ".join(str(r) for r in self.reuse))  # fmt: skip
        return None

    def save(
        self, cond: Condition, prompts: Sequence[str], params: GenParams, gens: Sequence[Generation]
    ) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        key = self._key(cond, prompts, params)
        write_jsonl_atomic(self._path(cond), [{"key": key}, *(asdict(g) for g in gens)])
