"""Prompt builders: deterministic under a seed, the exact shared format, category mix, exclusions, guard."""

from __future__ import annotations

import random

import pytest

from selfalign.constraints import HELD_OUT_TYPES
from selfalign.prompts import builders, pools
from selfalign.prompts.format import get_format

INSTRUCTION = "Name three rivers that flow through Germany."


def _pairs(ids: list[str]) -> list[tuple[str, str]]:
    return [(pools.example_by_id(i).instruction, pools.example_by_id(i).response) for i in ids]


# ---------------------------------------------------------------- response_prompt


def test_response_prompt_is_the_shared_few_shot_format() -> None:
    prompt, ids = builders.response_prompt(INSTRUCTION, random.Random(3), k=4)
    fmt = get_format()
    assert len(ids) == 4 == len(set(ids))
    assert prompt == fmt.few_shot(_pairs(ids), INSTRUCTION)
    assert prompt.endswith(fmt.prompt(INSTRUCTION))
    assert prompt.endswith(fmt.response_prefix)
    assert prompt.count(fmt.end) == 4


def test_response_prompt_zero_shot() -> None:
    prompt, ids = builders.response_prompt(INSTRUCTION, random.Random(0), k=0)
    assert (prompt, ids) == (get_format().prompt(INSTRUCTION), [])


def test_response_prompt_deterministic_under_seed() -> None:
    a = builders.response_prompt(INSTRUCTION, random.Random(42), category="analytical")
    b = builders.response_prompt(INSTRUCTION, random.Random(42), category="analytical")
    assert a == b
    others = {builders.response_prompt(INSTRUCTION, random.Random(s))[0] for s in range(10)}
    assert len(others) >= 8


def test_response_prompt_mixes_categories() -> None:
    for seed in range(20):
        _, ids = builders.response_prompt(INSTRUCTION, random.Random(seed), k=10)
        cats = [pools.example_by_id(i).category for i in ids]
        assert sorted(cats) == sorted(pools.categories())
    # Beyond one per category, categories repeat rather than the call failing.
    _, ids = builders.response_prompt(INSTRUCTION, random.Random(0), k=15)
    assert len(set(ids)) == 15


def test_response_prompt_includes_one_of_the_same_category() -> None:
    for cat in pools.categories():
        for seed in range(5):
            _, ids = builders.response_prompt(INSTRUCTION, random.Random(seed), k=3, category=cat)
            cats = [pools.example_by_id(i).category for i in ids]
            assert cats.count(cat) == 1, (cat, seed, cats)


def test_response_prompt_honours_exclusions() -> None:
    qa = {e.id for e in pools.examples("question_answering")}
    for seed in range(10):
        _, ids = builders.response_prompt(
            INSTRUCTION, random.Random(seed), k=5, exclude_ids=qa, category="question_answering"
        )
        assert len(ids) == 5 and not qa & set(ids)


def test_response_prompt_never_shows_the_instruction_itself() -> None:
    target = pools.example_by_id("qa-06")  # "Why is the sky blue?"
    for seed in range(30):
        _, ids = builders.response_prompt(target.instruction.upper(), random.Random(seed), k=3,
                                          category="question_answering")  # fmt: skip
        assert "qa-06" not in ids


def test_response_prompt_constrained_shot_uses_training_types_only() -> None:
    train_ids = {e.id for e in builders.train_constraint_examples()}
    held = {e.id for e in pools.constraint_examples()} - train_ids
    assert held, "the pool should contain held-out-type examples for this test to mean something"
    seen = set()
    for seed in range(40):
        _, ids = builders.response_prompt(INSTRUCTION, random.Random(seed), k=3, constrained=True)
        constrained = [i for i in ids if i.startswith("con-")]
        assert len(constrained) == 1 and constrained[0] in train_ids
        seen.add(constrained[0])
    assert len(seen) > 5
    for e in builders.train_constraint_examples():
        assert not {c["type"] for c in e.constraints} & HELD_OUT_TYPES


def test_response_prompt_constraint_shot_shows_the_asked_type_when_one_exists() -> None:
    by_id = {e.id: e for e in builders.train_constraint_examples()}
    for wanted in ("uppercase", "json_keys", "numbered_list", "ends_with"):
        for seed in range(10):
            _, ids = builders.response_prompt(
                INSTRUCTION, random.Random(seed), k=3, constrained=True, constraint_types=[wanted]
            )
            shot = by_id[next(i for i in ids if i.startswith("con-"))]
            assert wanted in {c["type"] for c in shot.constraints}
    # A held-out type has no training example: any training-type shot is drawn instead, never a held-out one.
    for seed in range(10):
        _, ids = builders.response_prompt(
            INSTRUCTION, random.Random(seed), k=3, constrained=True, constraint_types=["quoted"]
        )
        assert next(i for i in ids if i.startswith("con-")) in by_id


def test_response_prompt_returns_exactly_k_shots() -> None:
    for k in range(4):
        for constrained in (False, True):
            _, ids = builders.response_prompt(
                INSTRUCTION, random.Random(k), k=k, category="creative", constrained=constrained
            )
            assert len(ids) == k, (k, constrained, ids)


def test_response_prompt_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        builders.response_prompt(INSTRUCTION, random.Random(0), category="poetry")
    with pytest.raises(ValueError, match="only"):
        builders.response_prompt(INSTRUCTION, random.Random(0), k=len(pools.examples()) + 1)
    with pytest.raises(ValueError, match="k must be"):
        builders.response_prompt(INSTRUCTION, random.Random(0), k=-1)


# ---------------------------------------------------------------- instruction_prompt


def test_instruction_prompt_shape() -> None:
    fmt = pools.list_format()
    prompt = builders.instruction_prompt("extraction", random.Random(7), k=5)
    lines = prompt.split("\n")
    assert lines[0] == fmt.headers["extraction"]
    assert len(lines) == 7 and lines[-1] == "6."
    seeds = set(pools.seed_instructions("extraction"))
    for n, line in enumerate(lines[1:6], start=1):
        number, text = line.split(" ", 1)
        assert number == f"{n}." and text in seeds
    assert len(set(lines[1:6])) == 5


def test_instruction_prompt_deterministic_under_seed() -> None:
    a = builders.instruction_prompt("creative", random.Random(1))
    assert a == builders.instruction_prompt("creative", random.Random(1))
    assert a != builders.instruction_prompt("creative", random.Random(2))


def test_instruction_prompt_exclusions_and_limits() -> None:
    excluded = [s.id for s in pools.seeds("brainstorm")[:5]]
    texts = {s.instruction for s in pools.seeds("brainstorm")[:5]}
    for seed in range(10):
        prompt = builders.instruction_prompt("brainstorm", random.Random(seed), k=6, exclude_ids=excluded)
        assert not any(t in prompt for t in texts)
    with pytest.raises(ValueError, match="k must be between"):
        builders.instruction_prompt("brainstorm", random.Random(0), k=len(pools.seeds("brainstorm")) - 4,
                                    exclude_ids=excluded)  # fmt: skip
    with pytest.raises(ValueError, match="unknown category"):
        builders.instruction_prompt("poetry", random.Random(0))


def test_instruction_stop_ends_the_list_at_a_blank_line() -> None:
    assert "\n\n" in builders.instruction_stop()


# ---------------------------------------------------------------- urial_prompt


def test_urial_prompt_same_shots_for_every_item() -> None:
    fmt = get_format()
    a = builders.urial_prompt("What is the capital of Peru?")
    b = builders.urial_prompt("Write a haiku about a frog.")
    head_a = a[: -len(fmt.prompt("What is the capital of Peru?"))]
    head_b = b[: -len(fmt.prompt("Write a haiku about a frog."))]
    assert head_a == head_b and head_a.endswith(fmt.example_separator)
    ids = builders.urial_example_ids()
    assert a == fmt.few_shot(_pairs(ids), "What is the capital of Peru?")
    assert len(ids) == 3 and set(ids) <= set(pools.urial_ids())


def test_urial_prompt_seed_and_exclusions() -> None:
    assert builders.urial_example_ids(seed=0) == builders.urial_example_ids(seed=0)
    assert len({tuple(builders.urial_example_ids(seed=s)) for s in range(5)}) > 1
    first = builders.urial_example_ids()
    assert not set(first) & set(builders.urial_example_ids(exclude_ids=first))
    assert builders.urial_prompt("Hi there.", k=0) == get_format().prompt("Hi there.")


# ---------------------------------------------------------------- held-out guard


def test_heldout_overlap_finds_near_duplicates_in_every_pool() -> None:
    test_set = [
        "why is the SKY blue",  # qa-06, different case and punctuation
        "What is the tallest mountain in Africa?",  # a seed
        "Describe a summer afternoon without using the words hot or sun.",  # con-10
        "Explain the rules of cricket to a beginner.",  # nothing
    ]
    found = builders.heldout_overlap(test_set)
    assert "qa-06" in found and "con-10" in found
    assert any(i.startswith("seed:question_answering:") for i in found)
    assert builders.heldout_overlap(test_set[3:]) == []
    assert builders.heldout_overlap([]) == []


def test_heldout_overlap_threshold() -> None:
    # Shares some words with qa-12 but asks something else: scored below 90, so not excluded.
    assert "qa-12" not in builders.heldout_overlap(["Which planet has the most moons?"])
    assert "qa-12" in builders.heldout_overlap(["Which planet has the most moons?"], threshold=60)
    assert "qa-12" in builders.heldout_overlap(["which planet is largest in our solar system"])
