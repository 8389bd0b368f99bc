"""Constraint repair: code edits an answer to meet its constraints, and only a fully passing edit counts."""

from __future__ import annotations

import random

import pytest

from selfalign.constraints import check_all
from selfalign.constraints.numbers import number_words
from selfalign.constraints.registry import HELD_OUT_TYPES, REGISTRY, train_types
from selfalign.constraints.repair import FIXERS, Context, redraw, repair

ANSWER = (
    "The sun rises in the east. It warms the ground, and the birds start to sing. People wake up at 7 "
    "and go to work. Breakfast is eaten in a hurry!"
)
ALT = "Morning comes slowly. The town wakes up."
REQUEST = "Describe a morning in a small town."


def _c(name: str, **params) -> dict:
    t = REGISTRY[name]
    bound = t.bind(t.validate(params or t.sample_params(random.Random(0))), REQUEST)
    assert bound is not None
    return {"type": name, "params": bound}


# Draws that ANSWER passes as it is, replaced by ones it fails (the sampler's own would leave nothing to fix).
_FAILING = {
    "exclude_words": [{"words": ["sun"]}, {"words": ["birds", "work"]}],
    "max_words": [{"n": 12}, {"n": 20}],
}
_ANSWERS = {"one_line": ANSWER.replace(". ", ".\n")}


@pytest.mark.parametrize("name", sorted(FIXERS))
def test_every_fixer_turns_a_failing_answer_into_a_passing_one(name):
    rng = random.Random(name)
    t = REGISTRY[name]
    answer = _ANSWERS.get(name, ANSWER)
    draws = _FAILING.get(name) or [t.sample_params(rng) for _ in range(10)]
    fixed = 0
    for params in draws:
        c = {"type": name, "params": t.bind(t.validate(params), REQUEST)}
        if all(r.passed for r in check_all(answer, [c])):
            continue  # nothing to repair for this draw
        out = repair(answer, [c], Context((ALT,)))
        if out is None:
            continue
        text, edited = out
        assert edited == [name] and text != answer
        assert all(r.passed for r in check_all(text, [c])), (name, c, text)
        fixed += 1
    assert fixed, f"no draw of {name} was repaired"


def test_held_out_and_unfixable_types_are_never_repaired():
    assert not set(FIXERS) & HELD_OUT_TYPES
    for name in sorted(HELD_OUT_TYPES | {"include_words", "min_words"}):
        c = _c(name, **({"words": ["zebra"]} if name == "include_words" else {}))
        if name == "min_words":
            c = _c(name, n=500)
        assert not all(r.passed for r in check_all(ANSWER, [c]))
        assert repair(ANSWER, [c], Context()) is None, name


def test_an_answer_that_passes_comes_back_unchanged():
    assert repair(ANSWER, [_c("max_words", n=200)], Context()) == (ANSWER, [])


def test_several_constraints_are_met_together_in_order():
    cs = [_c("uppercase"), _c("postscript", marker="P.S."), _c("no_digits")]
    text, edited = repair(ANSWER, cs, Context())
    assert edited == ["no_digits", "postscript", "uppercase"]  # content, framing, then letter case
    assert all(r.passed for r in check_all(text, cs))
    assert text.endswith("P.S. BREAKFAST IS EATEN IN A HURRY!") and "SEVEN" in text


def test_an_edit_that_another_undoes_is_dropped_not_forced():
    # Cutting to 5 words leaves no room for the required opening phrase: no passing edit exists.
    cs = [_c("max_words", n=5), _c("starts_with", phrase="Here is my answer")]
    assert repair(ANSWER, cs, Context()) is None


def test_structural_edits_keep_the_models_words():
    text, _ = repair(ANSWER, [_c("bullet_count", n=2)], Context())
    assert text.splitlines()[0].startswith("- The sun rises") and len(text.splitlines()) == 2
    text, _ = repair(ANSWER, [_c("json_keys", keys=["answer", "reason"])], Context())
    assert '"answer": "The sun rises in the east. It warms the ground, and the birds start to sing."' in text
    two, _ = repair(ANSWER, [_c("two_responses")], Context((ANSWER, ALT)))
    assert two.endswith(ALT)  # the identical alternate is skipped
    assert repair(ANSWER, [_c("two_responses")], Context((ANSWER,))) is None


def test_repair_refuses_an_empty_constraint_list():
    with pytest.raises(ValueError, match="at least one constraint"):
        repair(ANSWER, [], Context())


def test_random_training_constraints_repair_often_and_always_to_a_pass():
    rng = random.Random(7)
    done = 0
    for _ in range(200):
        name = rng.choice([t for t in train_types() if REGISTRY[t].attachable])
        c = _c(name) if name != "repeat_request" else _c(name, request=REQUEST)
        out = repair(ANSWER, [c], Context((ALT,)))
        if out is not None:
            assert all(r.passed for r in check_all(out[0], [c]))
            done += 1
    assert done > 100


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (7, "seven"), (21, "twenty-one"), (100, "one hundred"),
     (1905, "one thousand nine hundred five"), (2_000_000, "two million")],
)  # fmt: skip
def test_number_words(n, words):
    assert number_words(n) == words
    with pytest.raises(ValueError):
        number_words(-1)


def test_redraw_states_a_fresh_repairable_demand_and_meets_it_by_an_edit():
    rng = random.Random(11)
    kept = 0
    for _ in range(60):
        out = redraw(REQUEST, ANSWER, rng, Context((ALT,)))
        if out is None:
            continue
        stated, cs, text, edited = out
        assert stated.startswith(REQUEST) and len(stated) > len(REQUEST)
        assert {c["type"] for c in cs} <= set(FIXERS) and edited
        assert not all(r.passed for r in check_all(ANSWER, cs))  # the answer did not meet it by chance
        assert all(r.passed for r in check_all(text, cs))
        kept += 1
    assert kept > 20


def test_redraw_gives_nothing_when_no_edit_is_possible():
    assert redraw(REQUEST, "   ", random.Random(0), Context()) is None
