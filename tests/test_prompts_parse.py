"""parse_instruction_list on crafted completions of an instruction-generation prompt."""

from __future__ import annotations

import random

from selfalign.prompts import pools
from selfalign.prompts.builders import instruction_prompt, parse_instruction_list


def test_first_item_continues_on_the_same_line() -> None:
    completion = " Write a poem about rain.\n8. Name two planets with rings.\n9. Explain how a lever works."
    assert parse_instruction_list(completion) == [
        "Write a poem about rain.",
        "Name two planets with rings.",
        "Explain how a lever works.",
    ]


def test_first_item_on_the_next_line() -> None:
    completion = "\n7. Describe your favourite meal.\n8. List three uses for a brick."
    assert parse_instruction_list(completion, start=7) == [
        "Describe your favourite meal.",
        "List three uses for a brick.",
    ]


def test_repeated_item_number_is_stripped() -> None:
    assert parse_instruction_list("7. Write a story about a brave mouse.", start=7) == [
        "Write a story about a brave mouse."
    ]


def test_meta_lines_are_dropped() -> None:
    completion = (
        " Here are some more tasks:\n8. Summarize the plot of Hamlet.\n9. The following are harder ones:"
    )
    assert parse_instruction_list(completion) == ["Summarize the plot of Hamlet."]


def test_blank_line_ends_the_list() -> None:
    completion = (
        " Translate good morning into Spanish.\n8. Give two synonyms for happy.\n\n9. Never seen item."
    )
    assert parse_instruction_list(completion) == [
        "Translate good morning into Spanish.",
        "Give two synonyms for happy.",
    ]


def test_unnumbered_line_ends_the_list() -> None:
    completion = " Define the word entropy.\nInstruction: What is two plus two?\n8. Never seen item here."
    assert parse_instruction_list(completion) == ["Define the word entropy."]


def test_trailing_partial_item_is_dropped() -> None:
    completion = " Explain how tides work.\n8. Write a letter to the mayor about"
    assert parse_instruction_list(completion) == ["Explain how tides work."]
    # The same item followed by a newline was finished by the model: kept.
    assert parse_instruction_list(completion + " parking.\n") == [
        "Explain how tides work.",
        "Write a letter to the mayor about parking.",
    ]


def test_fragments_are_dropped() -> None:
    completion = " Yes.\n8. 1234 5678 90.\n9. Compare cats and dogs as pets.\n10. "
    assert parse_instruction_list(completion) == ["Compare cats and dogs as pets."]


def test_numbering_must_count_up() -> None:
    restart = " Name a famous painter.\n8. Name a famous sculptor.\n1. Name a famous composer."
    assert parse_instruction_list(restart) == ["Name a famous painter.", "Name a famous sculptor."]
    skipped = " Name a famous painter.\n9. Name a famous sculptor."
    assert parse_instruction_list(skipped, start=7) == ["Name a famous painter."]
    paren = " Name a famous painter.\n8) Name a famous sculptor."
    assert len(parse_instruction_list(paren, start=7)) == 2


def test_seeds_survive_a_round_trip_through_the_list_format() -> None:
    # If the model simply continued with seeds, the parser must keep every one of them.
    for cat in pools.categories():
        seeds = list(pools.seed_instructions(cat))
        prompt = instruction_prompt(cat, random.Random(0), k=3)
        k = 3
        rest = [f"{k + 2 + i}. {s}" for i, s in enumerate(seeds[1:])]
        completion = "\n".join([" " + seeds[0], *rest])
        assert prompt.endswith(f"\n{k + 1}.")
        assert parse_instruction_list(completion, start=k + 1) == seeds
