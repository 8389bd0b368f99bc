"""Judge mechanics on a constructed engine: order swapping, thresholds, auto-pick, negative weights."""

from __future__ import annotations

import math
import random

import pytest

from selfalign.engine.types import OptionScore
from selfalign.errors import ConfigError
from selfalign.judge import CalibrationTable, Item, PairItem, Row, checkset, get_scorer, pick_best
from selfalign.judge.ab import ABPairwise, ABPointwise
from selfalign.judge.negatives import NEGATIVE_KINDS, apportion, build
from selfalign.judge.preference import Ranked, keep


class BiasedEngine:
    """Label log-probs = truth + a fixed position bias toward "B" (like SmolLM2's 25/32 "B")."""

    def __init__(self, bias: float, truth: float) -> None:
        self.bias, self.truth = bias, truth
        self.requests: list[tuple[str, list[str]]] = []

    def logprobs(self, requests, adapter=None, batch_size=16):  # type: ignore[no-untyped-def]
        out = []
        for prompt, options in requests:
            self.requests.append((prompt, list(options)))
            # Pairwise: the good text is "GOOD"; which slot shows it decides the truthful label.
            good_label = "A" if prompt.index("GOOD") < prompt.index("BAD") else "B"
            row = []
            for opt in options:
                label = opt.strip()
                lp = -1.0 + (self.truth if label == good_label else 0.0)
                lp += self.bias if label == "B" else 0.0
                row.append(OptionScore(sum=lp, mean=lp, n_tokens=1))
            out.append(row)
        return out


def test_order_swap_really_swaps_the_texts() -> None:
    prompts = ABPairwise().prompts("Do it.", "first text", "second text")
    assert prompts[0].index("first text") < prompts[0].index("second text")
    assert prompts[1].index("second text") < prompts[1].index("first text")
    pw = ABPointwise().prompts("Do it.", "resp")
    assert "A: yes" in pw[0] and "A: no" in pw[1]


def test_biased_critic_flips_single_order_but_debiased_average_does_not() -> None:
    engine = BiasedEngine(bias=3.0, truth=1.0)  # bias stronger than the signal
    items = [PairItem("x", "Do it.", "GOOD", "BAD"), PairItem("y", "Do it.", "BAD", "GOOD")]
    a_good, b_good = ABPairwise().compare(engine, items)  # type: ignore[arg-type]
    # One order alone always says "B": it calls b better when b is BAD (a single order is fooled) ...
    assert a_good.per_order[0] > 0.5 and b_good.per_order[0] > 0.5
    # ... and the swapped order flips with the slots, so the two disagree ...
    assert not a_good.orders_agree and not b_good.orders_agree
    # ... while the average removes the bias and gets both right.
    assert a_good.p_b < 0.5 < b_good.p_b
    assert math.isclose(a_good.p_b, 1 - b_good.p_b, rel_tol=1e-9)


def test_unbiased_critic_orders_agree() -> None:
    engine = BiasedEngine(bias=0.0, truth=2.0)
    j = ABPairwise().compare(engine, [PairItem("x", "Do it.", "BAD", "GOOD")])[0]  # type: ignore[arg-type]
    assert j.orders_agree and j.p_b > 0.5 and j.margin > 0


def test_label_variants_are_all_scored() -> None:
    engine = BiasedEngine(bias=0.0, truth=1.0)
    ABPairwise().compare(engine, [PairItem("x", "Do it.", "GOOD", "BAD")])  # type: ignore[arg-type]
    assert engine.requests[0][1] == [" A", "A", " B", "B"]


def _table(acc: dict[str, dict[str, float]], pointwise: dict[str, bool]) -> CalibrationTable:
    t = CalibrationTable(n_per_kind=10, seed=0)
    for scorer, by_kind in acc.items():
        t.model_based[scorer] = True
        t.pointwise[scorer] = pointwise[scorer]
        for kind, a in by_kind.items():
            t.rows.append(Row(scorer, "debiased", kind, 10, round(a * 10), a, a - 0.2, a + 0.1))
    return t


def test_pick_best_follows_the_measured_table() -> None:
    acc = {"ab-pairwise": {"other": 0.9, "truncated": 0.9, "refusal": 0.9},
           "likelihood-contrast": {"other": 0.8, "truncated": 0.6, "refusal": 0.9},
           "ab-pointwise": {"other": 0.5, "truncated": 0.5, "refusal": 0.5}}  # fmt: skip
    pw = {"ab-pairwise": False, "likelihood-contrast": True, "ab-pointwise": True}
    assert pick_best(_table(acc, pw)) == "ab-pairwise"
    assert pick_best(_table(acc, pw), require_pointwise=True) == "likelihood-contrast"
    acc["ab-pointwise"] = {"other": 1.0, "truncated": 1.0, "refusal": 1.0}
    assert pick_best(_table(acc, pw), require_pointwise=True) == "ab-pointwise"
    with pytest.raises(ConfigError):
        pick_best(_table({}, {}))


def test_threshold_and_agreement_decide_keep() -> None:
    assert keep(Ranked([0, 1], 1.5, True), 1.0, True)
    assert not keep(Ranked([0, 1], 0.5, True), 1.0, True)
    assert not keep(Ranked([0, 1], 1.5, False), 1.0, True)
    assert keep(Ranked([0, 1], 1.5, False), 1.0, False)


@pytest.mark.parametrize("total", [1, 7, 10, 33])
def test_negative_mix_weights_are_honoured(total: int) -> None:
    weights = {"truncated": 3.0, "other_answer": 1.0, "refusal": 0.0, "padded": 1.0}
    counts = apportion(weights, total)
    assert sum(counts.values()) == total and counts["refusal"] == 0
    for k, w in weights.items():
        assert abs(counts[k] - total * w / 5.0) < 1.0
    with pytest.raises(ConfigError):
        apportion({"nonsense": 1.0}, 3)


def test_negatives_differ_from_chosen_and_follow_their_kind() -> None:
    rng = random.Random(0)
    chosen = "The sky looks blue because air scatters short blue wavelengths of sunlight more than red."
    cut = build("truncated", chosen, rng)
    assert cut is not None and chosen.startswith(cut) and len(cut) < len(chosen)
    cons = ({"type": "max_words", "params": {"n": 10}},)
    bad = build("format_violation", chosen, rng, constraints=cons)
    assert bad is not None and bad != chosen
    assert build("padded", chosen, rng) is None  # no second sample: cannot pad
    assert build("padded", chosen, rng, second_sample="More.") == chosen + "\n\nMore."
    assert set(NEGATIVE_KINDS) >= {"truncated", "other_answer", "refusal", "format_violation", "padded"}


def test_checkset_truth_by_construction() -> None:
    cases = checkset.build(n_per_kind=6, seed=1)
    assert {c.kind for c in cases} == set(checkset.KINDS)
    for c in cases:
        good, bad = (c.pair.b, c.pair.a) if c.good_is_b else (c.pair.a, c.pair.b)
        assert good != bad
        if c.kind == "constraint":
            scorer = get_scorer("verifiable")
            items = [Item("g", "", good, c.pair.constraints), Item("b", "", bad, c.pair.constraints)]
            js = scorer.score(None, items)  # type: ignore[arg-type]
            assert js[0].p_good == 1.0 and js[1].p_good == 0.0
        if c.kind == "truncated":
            assert good.startswith(bad) and bad[-1] not in ".!?"
    assert sum(c.good_is_b for c in cases) * 2 == len(cases)  # good sits in each slot equally often


def test_unknown_scorer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown scorer"):
        get_scorer("gpt-judge")
    with pytest.raises(TypeError):
        get_scorer("ab-pairwise").score(None, [Item("x", "i", "r")])  # type: ignore[arg-type]


def test_pick_best_skips_a_critic_whose_orders_never_agree_when_asked() -> None:
    acc = {"ab-pairwise": {"other": 0.9, "truncated": 0.9, "refusal": 0.9},
           "likelihood-contrast": {"other": 0.7, "truncated": 0.6, "refusal": 0.8}}  # fmt: skip
    t = _table(acc, {"ab-pairwise": False, "likelihood-contrast": True})
    t.agreement["ab-pairwise"] = {"other": 0.0, "truncated": 0.1, "refusal": 0.0}
    assert pick_best(t) == "ab-pairwise"
    assert pick_best(t, min_agreement=0.5) == "likelihood-contrast"  # one-order scorers always agree
    t.agreement["ab-pairwise"] = {"other": 0.9, "truncated": 0.6, "refusal": 0.6}
    assert pick_best(t, min_agreement=0.5) == "ab-pairwise"
