"""Measure every scorer on the labeled check set and pick the best one for open-ended items.

Accuracy is the share of cases where the scorer prefers the good response (a tie counts as wrong), with a
95% Wilson interval. A/B scorers are reported three ways: ``debiased`` (both label orders averaged, what
they use), ``order0`` and ``order1`` (one order alone), plus how often the two orders agree.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from selfalign.errors import ConfigError
from selfalign.evaluate.stats import wilson_interval
from selfalign.judge import checkset
from selfalign.judge.memo import MemoEngine
from selfalign.judge.registry import get_scorer
from selfalign.judge.types import Scorer

if TYPE_CHECKING:
    from selfalign.engine import Engine


@dataclass(frozen=True)
class Row:
    scorer: str
    mode: str  # "debiased" (the verdict a scorer gives) | "order0" | "order1" (a single label order)
    kind: str
    n: int
    correct: int
    accuracy: float
    low: float
    high: float


@dataclass
class CalibrationTable:
    n_per_kind: int
    seed: int
    rows: list[Row] = field(default_factory=list)
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)  # scorer -> kind -> orders agree
    priors: dict[str, dict[str, float]] = field(default_factory=dict)  # A/B label prior, content-free
    pointwise: dict[str, bool] = field(default_factory=dict)
    model_based: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    chosen: str | None = None

    def accuracy(self, scorer: str, kind: str, mode: str = "debiased") -> Row | None:
        return next((r for r in self.rows if (r.scorer, r.kind, r.mode) == (scorer, kind, mode)), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CalibrationTable:
        return cls(**{**d, "rows": [Row(**r) for r in d["rows"]]})

    def markdown(self) -> str:
        kinds = [k for k in checkset.KINDS if any(r.kind == k for r in self.rows)]
        head = "| scorer | mode | " + " | ".join(kinds) + " | open-ended mean |"
        lines = [head, "|" + "---|" * (len(kinds) + 3)]
        for scorer in dict.fromkeys(r.scorer for r in self.rows):
            for mode in dict.fromkeys(r.mode for r in self.rows if r.scorer == scorer):
                cells = []
                for k in kinds:
                    r = self.accuracy(scorer, k, mode)
                    cells.append("—" if r is None else f"{r.correct}/{r.n} [{r.low:.2f}, {r.high:.2f}]")
                mean = open_mean(self, scorer, mode)
                star = " **(chosen)**" if scorer == self.chosen and mode == "debiased" else ""
                mean_s = "—" if mean is None else f"{mean:.2f}"
                lines.append(f"| {scorer}{star} | {mode} | " + " | ".join(cells) + f" | {mean_s} |")
        return "\n".join(lines)


def open_mean(table: CalibrationTable, scorer: str, mode: str = "debiased") -> float | None:
    rows = [table.accuracy(scorer, k, mode) for k in checkset.OPEN_KINDS]
    if any(r is None for r in rows):
        return None
    return sum(r.accuracy for r in rows if r is not None) / len(rows)


def _row(scorer: str, mode: str, kind: str, hits: list[bool]) -> Row:
    low, high = wilson_interval(sum(hits), len(hits))
    return Row(scorer, mode, kind, len(hits), sum(hits), sum(hits) / len(hits) if hits else 0.0, low, high)


def calibrate(
    engine: Engine,
    scorers: Sequence[str | Scorer],
    n_per_kind: int = 24,
    seed: int = 0,
    adapter: str | None = None,
    kinds: Sequence[str] = checkset.KINDS,
) -> CalibrationTable:
    """Run each scorer on the check set (one batched engine call per scorer) and tabulate its accuracy.

    Scorers share one :class:`MemoEngine`, so requests two scorers have in common (all of them, for the
    likelihood family) are scored once. ``kinds`` limits the check set (``auto`` needs only the open kinds).
    """
    if n_per_kind < 1:
        raise ConfigError(f"calibration n_per_kind must be >= 1, got {n_per_kind}")
    cases = checkset.build(n_per_kind, seed, kinds)
    table = CalibrationTable(n_per_kind=n_per_kind, seed=seed)
    engine = engine if isinstance(engine, MemoEngine) else MemoEngine(engine)  # type: ignore[assignment]
    for s in scorers:
        scorer = get_scorer(s) if isinstance(s, str) else s
        mine = [c for c in cases if scorer.model_based or c.pair.constraints]
        if not mine:
            continue
        started = time.perf_counter()
        verdicts = scorer.compare(engine, [c.pair for c in mine], adapter=adapter)
        table.seconds[scorer.name] = time.perf_counter() - started
        table.pointwise[scorer.name] = scorer.pointwise
        table.model_based[scorer.name] = scorer.model_based
        n_orders = len(verdicts[0].per_order) if verdicts else 1
        for kind in dict.fromkeys(c.kind for c in mine):
            pairs = [(c, v) for c, v in zip(mine, verdicts, strict=True) if c.kind == kind]
            hits = [(v.p_b > 0.5 if c.good_is_b else v.p_b < 0.5) for c, v in pairs]
            table.rows.append(_row(scorer.name, "debiased", kind, hits))
            if n_orders > 1:
                for k in range(n_orders):
                    hk = [(v.per_order[k] > 0.5 if c.good_is_b else v.per_order[k] < 0.5) for c, v in pairs]
                    table.rows.append(_row(scorer.name, f"order{k}", kind, hk))
                agree = [v.orders_agree for _, v in pairs]
                table.agreement.setdefault(scorer.name, {})[kind] = sum(agree) / len(agree)
        prior = getattr(scorer, "prior", None)
        if callable(prior):
            table.priors[scorer.name] = prior(engine, adapter=adapter)
    return table


def pick_best(table: CalibrationTable, require_pointwise: bool = False, min_agreement: float = 0.0) -> str:
    """The model scorer with the highest mean debiased accuracy over the open-ended kinds.

    ``min_agreement``: drop scorers whose label orders agree less often than this (mean over the open
    kinds) — a stage that keeps only agreeing verdicts gets nothing from a critic whose orders never agree
    (SmolLM2's ab-pairwise: debiased 0.78, orders agree 0/36). Ties go to the higher mean Wilson lower
    bound, then to the name (so the choice is deterministic).
    """
    candidates = []
    for scorer, model_based in table.model_based.items():
        if not model_based or (require_pointwise and not table.pointwise[scorer]):
            continue
        agree = table.agreement.get(scorer)
        if (
            agree
            and sum(agree.get(k, 0.0) for k in checkset.OPEN_KINDS) / len(checkset.OPEN_KINDS) < min_agreement
        ):
            continue
        mean = open_mean(table, scorer)
        if mean is None:
            continue
        lows = [r.low for k in checkset.OPEN_KINDS if (r := table.accuracy(scorer, k)) is not None]
        candidates.append((-mean, -sum(lows) / len(lows), scorer))
    if not candidates:
        need = "pointwise model scorer" if require_pointwise else "model scorer"
        raise ConfigError(
            f"calibration table has no {need} measured on every open-ended kind"
            + (f" with label orders agreeing >= {min_agreement}" if min_agreement > 0 else "")
        )
    return min(candidates)[2]
