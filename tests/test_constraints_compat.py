"""Conflict table, params-level consistency, and augmentation."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys

import pytest

from selfalign.constraints import (
    CONFLICTS,
    HELD_OUT_TYPES,
    all_types,
    attach,
    augment,
    compatible,
    conflicts,
    is_consistent,
    train_types,
)
from selfalign.errors import DataError


def c(ctype: str, **params: object) -> dict:
    return {"type": ctype, "params": params}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("lowercase", "uppercase"),
        ("json_keys", "bullet_count"),
        ("json_keys", "numbered_list"),
        ("json_keys", "paragraph_count"),
        ("json_keys", "quoted"),
        ("json_keys", "title"),
        ("json_keys", "one_line"),
        ("json_keys", "uppercase"),
        ("one_line", "paragraph_count"),
        ("one_line", "bullet_count"),
        ("one_line", "numbered_list"),
        ("quoted", "starts_with"),
        ("quoted", "ends_with"),
        ("no_digits", "numbered_list"),
        ("max_words", "max_words"),
    ],
)
def test_known_conflicts_are_incompatible_both_ways(a: str, b: str) -> None:
    assert not compatible(a, b)
    assert not compatible(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("max_words", "min_words"),
        ("lowercase", "json_keys"),
        ("no_commas", "json_keys"),
        ("bullet_count", "paragraph_count"),
        ("quoted", "title"),
        ("one_line", "sentence_count"),
        ("include_words", "exclude_words"),
    ],
)
def test_combinable_types_are_compatible(a: str, b: str) -> None:
    assert compatible(a, b)


def test_conflict_table_names_only_known_distinct_types() -> None:
    known = set(all_types())
    for pair, reason in CONFLICTS.items():
        assert len(pair) == 2 and pair <= known and reason


def test_compatible_rejects_unknown_type() -> None:
    with pytest.raises(DataError, match="unknown constraint type 'shouting'"):
        compatible("lowercase", "shouting")


@pytest.mark.parametrize(
    ("constraints", "fragment"),
    [
        ([c("max_words", n=30), c("min_words", n=50)], "max_words 30 x min_words"),
        ([c("max_words", n=3), c("bullet_count", n=4)], "needs at least 4 words"),
        ([c("max_words", n=5), c("numbered_list", n=3)], "needs at least 6 words"),
        ([c("include_words", words=["good"]), c("exclude_words", words=["Good"])], "exclude_words 'Good'"),
        ([c("exclude_words", words=["great"]), c("starts_with", phrase="Great question")], "requires"),
        ([c("exclude_words", words=["new york"]), c("word_frequency", word="york", n=2)], None),
        ([c("lowercase"), c("starts_with", phrase="Sure")], "lowercase x starts_with"),
        ([c("uppercase"), c("ends_with", phrase="That is all.")], "uppercase x ends_with"),
        ([c("no_commas"), c("ends_with", phrase="Thanks, bye.")], "no_commas x ends_with"),
        ([c("no_commas"), c("json_keys", keys=["a", "b"])], "needs commas"),
        ([c("no_digits"), c("include_words", words=["R2D2"])], "no_digits x include_words"),
        ([c("sentence_count", n=2), c("paragraph_count", n=3)], "every paragraph"),
        ([c("no_digits"), c("numbered_list", n=3)], "numbered items start with digits"),
    ],
)
def test_params_level_conflicts(constraints: list[dict], fragment: str | None) -> None:
    problems = conflicts(constraints)
    if fragment is None:  # a phrase ban does not forbid one of its words on its own
        assert problems == []
    else:
        assert any(fragment in p for p in problems), problems
        assert not is_consistent(list(reversed(constraints)))  # order does not matter


@pytest.mark.parametrize(
    "constraints",
    [
        [c("max_words", n=50), c("min_words", n=50)],
        [c("max_words", n=4), c("bullet_count", n=4)],
        [c("lowercase"), c("include_words", words=["Paris"])],  # matched case-insensitively
        [c("uppercase"), c("include_words", words=["paris"])],
        [c("no_commas"), c("json_keys", keys=["answer"])],
        [c("sentence_count", n=3), c("paragraph_count", n=3)],
        [c("include_words", words=["ocean"]), c("exclude_words", words=["oceans"])],
    ],
)
def test_consistent_combinations(constraints: list[dict]) -> None:
    assert conflicts(constraints) == []


def test_conflicts_report_duplicate_types() -> None:
    assert conflicts([c("max_words", n=5), c("max_words", n=9)]) == [
        "max_words x max_words: max_words appears twice"
    ]


def test_augment_never_produces_conflicts_and_uses_train_types_by_default() -> None:
    seen: set[str] = set()
    for seed in range(400):
        k = 1 + seed % 2
        text, cs = augment("Explain why the sky is blue", random.Random(seed), k=k)
        assert len(cs) == k
        assert conflicts(cs) == []
        types = [x["type"] for x in cs]
        assert not set(types) & HELD_OUT_TYPES
        seen.update(types)
        assert text.startswith("Explain why the sky is blue. ")
    # Every train type gets used, except fixed_choice, which augment never draws (see augment.py).
    assert seen == set(train_types()) - {"fixed_choice"}


def test_augment_is_seeded() -> None:
    runs = [
        [augment("Write a haiku about rain.", random.Random(seed), k=2) for seed in range(30)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert len({t for t, _ in runs[0]}) > 20  # and different seeds really differ


def test_augment_does_not_depend_on_set_order_across_processes() -> None:
    code = (
        "import random; from selfalign.constraints import augment, all_types;"
        "print([augment('Plan a trip', random.Random(s), 2, set(all_types())) for s in range(20)])"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": h},
        ).stdout
        for h in ("1", "2")
    }
    assert len(outs) == 1


def test_augment_respects_allowed_types_including_held_out() -> None:
    for seed in range(60):
        _, cs = augment("Describe a cat.", random.Random(seed), k=2, allowed_types=HELD_OUT_TYPES)
        assert {x["type"] for x in cs} <= HELD_OUT_TYPES
        _, cs = augment("Describe a cat.", random.Random(seed), k=1, allowed_types={"no_commas", "title"})
        assert cs[0]["type"] in {"no_commas", "title"}


def test_augment_three_constraints_are_pairwise_compatible_and_consistent() -> None:
    for seed in range(30):
        text, cs = augment("Describe a busy harbour at dawn", random.Random(seed), k=3)
        types = [c["type"] for c in cs]
        assert len(set(types)) == 3
        assert all(compatible(a, b) for i, a in enumerate(types) for b in types[i + 1 :]), types
        assert is_consistent(cs)
        assert text.startswith("Describe a busy harbour at dawn.")


def test_augment_errors() -> None:
    rng = random.Random(0)
    with pytest.raises(ValueError, match="k must be 1, 2 or 3"):
        augment("Hi.", rng, k=4)
    with pytest.raises(ValueError, match="instruction is empty"):
        augment("  ", rng)
    with pytest.raises(ValueError, match="no 2 consistent constraints"):
        augment("Hi.", rng, k=2, allowed_types={"lowercase", "uppercase"})
    with pytest.raises(ValueError, match="at least 2 allowed types"):
        augment("Hi.", rng, k=2, allowed_types={"lowercase"})
    with pytest.raises(DataError, match="unknown constraint type"):
        augment("Hi.", rng, allowed_types={"lowercase", "bogus"})
    with pytest.raises(TypeError, match="not one string"):
        augment("Hi.", rng, allowed_types="lowercase")


def test_attach_punctuation_and_multiline_instructions() -> None:
    cs = [c("no_commas"), c("bullet_count", n=1)]
    expected = (
        'Do not use any commas. Answer with exactly 1 bullet point, each on its own line starting with "- ".'
    )
    assert attach("  List a fruit  ", cs) == "List a fruit. " + expected
    assert attach("What is 2+2?", cs[:1]) == "What is 2+2? Do not use any commas."
    assert attach("Summarize:\nThe text.", cs[:1]) == "Summarize:\nThe text.\n\nDo not use any commas."
    assert attach("Plain.", []) == "Plain."


def test_table_leaves_many_train_pairs() -> None:
    # augment draws from compatible pairs only; the table must leave plenty to draw from.
    pairs = [p for p in itertools.combinations(train_types(), 2) if compatible(*p)]
    assert len(pairs) >= 100
