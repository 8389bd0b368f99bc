"""Normalization, near-duplicate rule, incremental Deduper, pairs and clusters (exact and LSH paths)."""

from __future__ import annotations

import random

import pytest

from selfalign.data.dedup import Deduper, clusters, is_near_duplicate, near_duplicate_pairs, normalize

BASE = "Name three primary colors."
NEAR = [
    "Name 3 primary colours",
    "List three primary colors.",
    "1. name three primary colors!!",
    '"Name three primary colors"',
]
DISTINCT = [
    "Name three famous painters.",
    "Write a poem.",
    "Explain why the sky is blue.",
    "Translate this sentence into French: I like apples.",
]


def test_normalize() -> None:
    assert normalize("  1. Name THREE   primary colours!  ") == "name 3 primary colours"
    assert normalize("“What’s the capital?”") == "whats the capital"
    assert normalize("- ＦＵＬＬ width") == "full width"  # NFKC
    assert normalize("3 apples") == "3 apples"  # a number that is not list numbering stays
    assert normalize("a) first\tsecond") == "first second"


@pytest.mark.parametrize("other", NEAR)
def test_near_duplicates_are_caught(other: str) -> None:
    assert is_near_duplicate(BASE, other)


@pytest.mark.parametrize("other", DISTINCT)
def test_distinct_are_kept(other: str) -> None:
    assert not is_near_duplicate(BASE, other)


def test_subset_is_not_a_duplicate() -> None:
    # token_set_ratio would say 100 here; the rule must not.
    assert not is_near_duplicate("Write a poem.", "Write a poem about the sea and the sky at night.")


def test_deduper_incremental() -> None:
    d = Deduper()
    assert d.add(BASE, key="i0") == (True, None)
    for k, t in enumerate(NEAR):
        assert d.add(t, key=f"n{k}") == (False, "i0")
    for k, t in enumerate(DISTINCT):
        assert d.add(t, key=f"d{k}") == (True, None)
    assert d.add("Name three famous painters!") == (False, "d0")
    assert d.kept_keys == ["i0", "d0", "d1", "d2", "d3"]
    assert len(d) == 5


def test_deduper_key_defaults_to_text() -> None:
    d = Deduper()
    d.add(BASE)
    assert d.add("name three primary colors") == (False, BASE)


def _corpus(seed: int = 0, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "do", "ga", "zu"]
    vocab = ["".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(2000)]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(6, 14))) for _ in range(n)]


def _plant(texts: list[str]) -> list[str]:
    """Every 10th text is followed by a near copy (one word swapped, one letter changed)."""
    out = []
    for i, t in enumerate(texts):
        out.append(t)
        if i % 10 == 0:
            words = t.split()
            words[len(words) // 2] = "zzz"
            out.append(" ".join(words).upper() + "!")
    return out


@pytest.mark.parametrize("exact", [True, False])
def test_pairs_find_planted_copies_only(exact: bool) -> None:
    texts = _plant(_corpus())
    pairs = near_duplicate_pairs(texts, exact=exact)
    planted = {(i - 1, i) for i, t in enumerate(texts) if t.endswith("!")}
    assert {(i, j) for i, j, _ in pairs} == planted
    assert all(0 <= s <= 100 for _, _, s in pairs)


def test_lsh_and_exact_agree_across_two_sets() -> None:
    train = _corpus(1, 400)
    test = [train[5].replace(" ", "  ") + ".", train[77], _corpus(2, 1)[0]]
    for exact in (True, False):
        pairs = near_duplicate_pairs(train, test, exact=exact)
        assert [(i, j) for i, j, _ in pairs] == [(5, 0), (77, 1)]
        assert pairs[1][2] == 100.0


def test_clusters() -> None:
    texts = ["Write a poem.", BASE, "Describe a cat.", *NEAR, "describe a cat", "Tell a joke."]
    assert clusters(texts) == [[1, 3, 4, 5, 6], [2, 7]]
    assert clusters(["a b c", "d e f"]) == []
