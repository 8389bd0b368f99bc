"""The self-critic: the model judges its own outputs, and measures how often it is right.

Public interface (everything goes through ``engine.logprobs``, batched)::

    from selfalign.judge import get_scorer, calibrate, pick_best, Item, PairItem

    scorer = get_scorer("likelihood-contrast")        # or ab-pointwise, ab-pairwise,
                                                      # likelihood-contrast-end, verifiable
    scorer.score(engine, [Item(id, instruction, response, constraints)], adapter=None) -> list[Judgment]
        # pointwise scorers only (scorer.pointwise); Judgment.score: higher = better (scorer's own units),
        # p_good, margin, orders_agree, per-order scores/log-probs, .record() -> schemas.Judgment dict
    scorer.compare(engine, [PairItem(id, instruction, a, b)], adapter=None) -> list[PairJudgment]
        # every scorer; PairJudgment.p_b = P(b better than a) averaged over both orders,
        # margin > 0 means b better, per_order = P(b better) in each order, orders_agree

    table = calibrate(engine, ["ab-pointwise", ...], n_per_kind=24, seed=0) -> CalibrationTable
        # accuracy with Wilson intervals per scorer, kind and mode (debiased / order0 / order1),
        # order agreement and the A/B label prior on content-free input; table.markdown(), .to_dict()
    pick_best(table, require_pointwise=False) -> scorer name (best mean open-ended accuracy)

See ``docs/CRITIC.md`` for the scorers, the check set and the measured table of the embedded default.
"""

from selfalign.judge.calibration import CalibrationTable, Row, calibrate, pick_best
from selfalign.judge.checkset import KINDS, OPEN_KINDS
from selfalign.judge.registry import MODEL_SCORERS, SCORERS, get_scorer
from selfalign.judge.types import Item, Judgment, PairItem, PairJudgment, Scorer

__all__ = [
    "KINDS",
    "MODEL_SCORERS",
    "OPEN_KINDS",
    "SCORERS",
    "CalibrationTable",
    "Item",
    "Judgment",
    "PairItem",
    "PairJudgment",
    "Row",
    "Scorer",
    "calibrate",
    "get_scorer",
    "pick_best",
]
