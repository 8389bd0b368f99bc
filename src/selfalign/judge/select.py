"""Resolve a stage's ``critic`` setting ("auto" or a scorer name) into a scorer, calibrating as asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selfalign.errors import ConfigError
from selfalign.judge.calibration import CalibrationTable, calibrate, pick_best
from selfalign.judge.registry import MODEL_SCORERS, get_scorer
from selfalign.judge.types import Scorer

if TYPE_CHECKING:
    from selfalign.engine import Engine


@dataclass
class Choice:
    scorer: Scorer
    table: CalibrationTable | None

    def manifest(self) -> dict[str, Any]:
        """What a stage manifest records: the chosen scorer, the accuracy table and the A/B prior."""
        return {
            "scorer": self.scorer.name,
            "calibration": self.table.to_dict() if self.table else None,
            "ab_prior": self.table.priors if self.table else None,
        }


def choose(
    engine: Engine,
    critic: str,
    *,
    n_per_kind: int,
    seed: int,
    calibrate_named: bool,
    require_pointwise: bool,
    adapter: str | None = None,
) -> Choice:
    """``critic="auto"``: measure every model scorer, take :func:`pick_best`. A name: use it (measured too
    when ``calibrate_named``, so the manifest still says how good it is on this model)."""
    if critic == "auto":
        names = [n for n in MODEL_SCORERS if not require_pointwise or get_scorer(n).pointwise]
        table = calibrate(engine, names, n_per_kind=n_per_kind, seed=seed, adapter=adapter)
        table.chosen = pick_best(table, require_pointwise=require_pointwise)
        return Choice(get_scorer(table.chosen), table)
    scorer = get_scorer(critic)
    if require_pointwise and not scorer.pointwise:
        raise ConfigError(f"critic {critic!r} judges pairs only; this stage needs a pointwise scorer")
    if not scorer.model_based:
        raise ConfigError("critic 'verifiable' applies to constrained items by itself; name a model scorer")
    table = None
    if calibrate_named:
        table = calibrate(engine, [scorer], n_per_kind=n_per_kind, seed=seed, adapter=adapter)
        table.chosen = scorer.name
    return Choice(scorer, table)
