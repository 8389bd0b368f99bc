"""Resolve a stage's ``critic`` setting ("auto" or a scorer name) into a scorer, calibrating as asked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.errors import ConfigError
from selfalign.judge import checkset
from selfalign.judge.calibration import CalibrationTable, calibrate, pick_best
from selfalign.judge.registry import MODEL_SCORERS, get_scorer
from selfalign.judge.types import Scorer

if TYPE_CHECKING:
    from selfalign.engine import Engine


# Bump when the check set, a scorer's prompt or the table's meaning changes: old cached tables go stale.
CALIBRATION_VERSION = 2


@dataclass
class Choice:
    scorer: Scorer
    table: CalibrationTable | None
    cached: bool = False  # the table came from a cache file, not a fresh measurement

    def manifest(self) -> dict[str, Any]:
        """What a stage manifest records: the chosen scorer, the accuracy table and the A/B prior."""
        return {
            "scorer": self.scorer.name,
            "calibration": self.table.to_dict() if self.table else None,
            "ab_prior": self.table.priors if self.table else None,
            "calibration_cached": self.cached,
        }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibration_key(
    engine: Engine,
    scorers: Sequence[str],
    n_per_kind: int,
    seed: int,
    kinds: Sequence[str],
    adapter: str | None,
) -> str | None:
    """A stable key for a calibration, or None when the weights cannot be identified (random test models):
    weight-file sha256s, dtype/quant, the adapter's file hashes, scorer set, n, seed, kinds, version."""
    prov = engine.provenance
    if not prov.get("weights_sha256"):
        return None
    adapter_files: dict[str, str] = {}
    if adapter is not None:
        root = Path(engine.adapters[adapter])
        adapter_files = {p.name: _sha256(p) for p in sorted(root.glob("*")) if p.is_file()}
    payload = {
        "weights": prov["weights_sha256"], "dtype": prov.get("dtype"), "quant": prov.get("quantization"),
        "adapter": adapter_files, "scorers": list(scorers), "n": n_per_kind, "seed": seed,
        "kinds": list(kinds), "version": CALIBRATION_VERSION,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cached_calibrate(
    engine: Engine,
    scorers: Sequence[str],
    *,
    n_per_kind: int,
    seed: int,
    kinds: Sequence[str],
    adapter: str | None,
    cache_dir: Path | None,
) -> tuple[CalibrationTable, bool]:
    """:func:`calibrate`, reusing ``cache_dir/calibration-<key>.json`` when the same measurement exists."""
    key = calibration_key(engine, scorers, n_per_kind, seed, kinds, adapter) if cache_dir else None
    path = cache_dir / f"calibration-{key}.json" if cache_dir and key else None
    if path is not None and path.exists():
        return CalibrationTable.from_dict(json.loads(path.read_text(encoding="utf-8"))), True
    table = calibrate(engine, scorers, n_per_kind=n_per_kind, seed=seed, adapter=adapter, kinds=kinds)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One JSON object on one line: write_jsonl_atomic gives the temp-file + rename for free.
        write_jsonl_atomic(path, [table.to_dict()])
    return table, False


def choose(
    engine: Engine,
    critic: str,
    *,
    n_per_kind: int,
    seed: int,
    calibrate_named: bool,
    require_pointwise: bool,
    adapter: str | None = None,
    candidates: Sequence[str] | None = None,
    cache_dir: Path | None = None,
    min_agreement: float = 0.0,
) -> Choice:
    """``critic="auto"``: measure the ``candidates`` (default: every model scorer) on the open-ended check
    kinds, take :func:`pick_best`. A name: use it (measured too when ``calibrate_named``, so the manifest
    still says how good it is on this model). With ``cache_dir`` a measurement for the same weights,
    adapter, scorers, n and seed is reused instead of repeated."""
    kinds = checkset.OPEN_KINDS  # constrained items are judged by their checks, never by the model
    if critic == "auto":
        pool = list(candidates) if candidates else list(MODEL_SCORERS)
        for n in pool:
            if not get_scorer(n).model_based:
                raise ConfigError(f"auto critic candidate {n!r} is not a model scorer")
        names = [n for n in pool if not require_pointwise or get_scorer(n).pointwise]
        if not names:
            raise ConfigError("auto critic: no pointwise model scorer among the candidates")
        table, cached = cached_calibrate(engine, names, n_per_kind=n_per_kind, seed=seed, kinds=kinds,
                                         adapter=adapter, cache_dir=cache_dir)  # fmt: skip
        table.chosen = pick_best(table, require_pointwise=require_pointwise, min_agreement=min_agreement)
        return Choice(get_scorer(table.chosen), table, cached)
    scorer = get_scorer(critic)
    if require_pointwise and not scorer.pointwise:
        raise ConfigError(f"critic {critic!r} judges pairs only; this stage needs a pointwise scorer")
    if not scorer.model_based:
        raise ConfigError("critic 'verifiable' applies to constrained items by itself; name a model scorer")
    table, cached = None, False
    if calibrate_named:
        table, cached = cached_calibrate(engine, [scorer.name], n_per_kind=n_per_kind, seed=seed, kinds=kinds,
                                         adapter=adapter, cache_dir=cache_dir)  # fmt: skip
        table.chosen = scorer.name
    return Choice(scorer, table, cached)
