"""The packaged prompt pools: sizes, uniqueness, no near-duplicates, and loud failures on malformed files."""

from __future__ import annotations

import itertools
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from selfalign.constraints import REGISTRY
from selfalign.errors import DataError
from selfalign.prompts import pools
from selfalign.prompts.builders import is_near_duplicate

CATEGORIES = {
    "question_answering", "completion", "generation", "creative", "analytical",
    "classification", "rewriting", "extraction", "brainstorm", "reasoning_math",
}  # fmt: skip


def test_categories_are_the_ten_required() -> None:
    assert set(pools.categories()) == CATEGORIES
    assert len(pools.categories()) == 10


def test_example_pool_size_per_category() -> None:
    counts = Counter(e.category for e in pools.examples())
    assert sum(counts.values()) >= 100
    assert set(counts) == CATEGORIES
    assert min(counts.values()) >= 8, counts
    for cat in CATEGORIES:
        assert all(e.category == cat for e in pools.examples(cat))
        assert len(pools.examples(cat)) == counts[cat]


def test_seed_pool_size_per_category() -> None:
    for cat in CATEGORIES:
        seeds = pools.seed_instructions(cat)
        assert len(seeds) >= 12, cat
        assert all("\n" not in s for s in seeds)


def test_constraint_examples_count_and_types() -> None:
    cons = pools.constraint_examples()
    assert len(cons) >= 30
    used = {c["type"] for e in cons for c in e.constraints}
    assert used == set(REGISTRY), set(REGISTRY) - used


def test_ids_unique_across_all_pools() -> None:
    ids = [e.id for e in pools.examples()] + [e.id for e in pools.constraint_examples()]
    ids += [s.id for s in pools.seeds()]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes


def test_no_exact_or_near_duplicate_instructions_anywhere() -> None:
    # Seeds must also differ from the few-shot pool, or generated instructions echo solved examples.
    entries = [(e.id, e.instruction) for e in (*pools.examples(), *pools.constraint_examples())]
    entries += [(s.id, s.instruction) for s in pools.seeds()]
    close = [
        (a_id, b_id)
        for (a_id, a), (b_id, b) in itertools.combinations(entries, 2)
        if a.strip().lower() == b.strip().lower() or is_near_duplicate(a, b)
    ]
    assert not close


def test_no_duplicate_responses() -> None:
    responses = [e.response.lower() for e in (*pools.examples(), *pools.constraint_examples())]
    assert len(set(responses)) == len(responses)


def test_urial_ids_cover_distinct_categories() -> None:
    cats = [pools.example_by_id(i).category for i in pools.urial_ids()]
    assert len(cats) == len(set(cats)) >= 3


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        pools.examples("poetry")
    with pytest.raises(ValueError, match="unknown category"):
        pools.seed_instructions("poetry")


# ---------------------------------------------------------------- malformed files


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    src = resources.files("selfalign.prompts") / "data"
    for name in (pools.EXAMPLES_FILE, pools.CONSTRAINTS_FILE, pools.SEEDS_FILE, pools.LIST_FORMAT_FILE,
                 pools.URIAL_FILE):  # fmt: skip
        (tmp_path / name).write_text((src / name).read_text("utf-8"), "utf-8")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` (once) and return the 1-based line where the replacement starts."""
    text = path.read_text("utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), "utf-8")
    return text[: text.index(old)].count("\n") + 1


def test_packaged_copy_loads(data_dir: Path) -> None:
    loaded = pools.load_pools(data_dir)
    assert [e.id for e in loaded.examples] == [e.id for e in pools.examples()]


def test_unknown_category_names_file_line_id_field(data_dir: Path) -> None:
    path = data_dir / pools.EXAMPLES_FILE
    old, new = "  - id: qa-03\n    category: question_answering", "  - id: qa-03\n    category: poetry"
    line = _edit(path, old, new)
    with pytest.raises(DataError) as err:
        pools.load_pools(data_dir)
    assert str(err.value).startswith(f"{path}:{line + 1}: qa-03.category: unknown category 'poetry'")


BULLETS = "{type: bullet_count, params: {n: 3}}"
EX, CON = pools.EXAMPLES_FILE, pools.CONSTRAINTS_FILE
# name: (file, text, its replacement, the error's file:line:id.field message)
BAD_ENTRIES = {
    "stop-string-in-response": (EX, "      Jupiter is the largest", "      Jupiter\n      Instruction: is",
                                r"examples\.yaml:\d+: qa-12\.response: contains the stop string"),
    "as-an-ai": (EX, "      The children ate the cake.", "      As an AI, I say so.",
                 r"rew-04\.response: contains \"As an AI\""),
    "missing-field": (EX, "  - id: math-08\n    category: reasoning_math\n", "  - id: math-08\n",
                      r"math-08: missing fields \['category'\]"),
    "duplicate-id-across-files": (CON, "  - id: con-07\n", "  - id: qa-01\n",
                                  r"constraint_examples\.yaml:\d+: qa-01\.id: duplicate id"),
    "unknown-constraint-type": (CON, BULLETS, BULLETS.replace("bullet_count", "bullet_counts"),
                                r"con-01\.constraints\[0\]\.type: unknown constraint type"),
    "wrong-param-name": (CON, BULLETS, BULLETS.replace("{n: 3}", "{count: 3}"),
                         r"con-01\.constraints\[0\]\.params: bullet_count takes exactly"),
    "bad-param-value": (CON, BULLETS, BULLETS.replace("{n: 3}", "{n: three}"),
                        r"con-01\.constraints\[0\]\.params\.n: must be a valid int"),
}  # fmt: skip


@pytest.mark.parametrize(("file", "old", "new", "message"), list(BAD_ENTRIES.values()), ids=list(BAD_ENTRIES))
def test_bad_pool_entry_is_refused_naming_file_line_and_field(
    data_dir: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(data_dir / file, old, new)
    with pytest.raises(DataError, match=message):
        pools.load_pools(data_dir)


def test_seed_that_the_parser_would_drop_is_refused(data_dir: Path) -> None:
    path = data_dir / pools.SEEDS_FILE
    line = _edit(path, "  - Why do we have leap years?\n", "  - Why do we have leap years\n")
    with pytest.raises(DataError) as err:
        pools.load_pools(data_dir)
    assert str(err.value).startswith(f"{path}:{line}: seed:question_answering:9.instruction: must end with")


def test_urial_id_must_exist(data_dir: Path) -> None:
    _edit(data_dir / pools.URIAL_FILE, "  - qa-06\n", "  - qa-99\n")
    with pytest.raises(DataError, match=r"urial\.yaml:\d+: ids\[0\]: 'qa-99' is not an id"):
        pools.load_pools(data_dir)


def test_invalid_yaml_names_the_line(data_dir: Path) -> None:
    path = data_dir / pools.LIST_FORMAT_FILE
    line = _edit(path, 'item: "{n}. {text}"', 'item: "{n}. {text}')
    with pytest.raises(DataError, match=r"instruction_prompt\.yaml:\d+: not valid YAML") as err:
        pools.load_pools(data_dir)
    assert err.value.line is not None and err.value.line >= line
