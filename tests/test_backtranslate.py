"""Constraint back-translation: every constraint it states is one the answer passes, never a held-out type."""

from __future__ import annotations

import random

import pytest

from selfalign.constraints import HELD_OUT_TYPES, check_all, is_consistent
from selfalign.constraints.backtranslate import back_translate, satisfied

ANSWER = "Plants make food from sunlight. They store the energy as sugar, which they use later."


def test_every_satisfied_type_passes_its_check_and_is_a_training_type():
    found = satisfied(ANSWER, "How do plants make food?", random.Random(0))
    assert {"max_words", "starts_with", "ends_with", "include_words", "sentence_count"} <= set(found)
    assert not set(found) & HELD_OUT_TYPES
    for name, params in found.items():
        assert all(r.passed for r in check_all(ANSWER, [{"type": name, "params": params}])), name


def test_parameters_are_read_off_the_answer():
    found = satisfied(ANSWER, "How do plants make food?", random.Random(1))
    assert ANSWER.startswith(found["starts_with"]["phrase"])
    assert ANSWER.endswith(found["ends_with"]["phrase"])
    assert found["sentence_count"]["n"] == 2
    assert 16 <= found["max_words"]["n"] <= 35  # just above the answer's 16 words, not a loose 200
    assert "lowercase" not in found and "uppercase" not in found and "numbered_list" not in found


@pytest.mark.parametrize("seed", range(20))
def test_back_translation_states_only_consistent_constraints_the_answer_passes(seed):
    rng = random.Random(seed)
    out = back_translate("How do plants make food?", ANSWER, rng, k=3)
    assert out is not None
    instruction, constraints = out
    assert 1 <= len(constraints) <= 3 and is_consistent(constraints)
    question = "How do plants make food?"
    assert instruction.startswith(question) and len(instruction) > len(question)
    assert all(r.passed for r in check_all(ANSWER, constraints))


def test_same_seed_same_result_and_k_is_respected():
    a = back_translate("Name a fruit.", ANSWER, random.Random(3), k=1)
    b = back_translate("Name a fruit.", ANSWER, random.Random(3), k=1)
    assert a == b and a is not None and len(a[1]) == 1


def test_an_answer_with_nothing_to_state_gives_none_and_k_must_be_positive():
    assert back_translate("Say hi.", "   ", random.Random(0), k=2) is None  # a blank answer passes nothing
    with pytest.raises(ValueError, match="k must be"):
        back_translate("Say hi.", ANSWER, random.Random(0), k=0)
