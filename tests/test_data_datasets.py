"""Files written by the data layer load with ``datasets.load_dataset("json", ...)``."""

from __future__ import annotations

import copy
from pathlib import Path

import datasets
import pytest

from selfalign.data.jsonl import ShardWriter, write_jsonl_atomic
from selfalign.data.schemas import KINDS, validate_file

# pytest puts tests/ on sys.path (rootdir-relative import mode), so the shared fixtures import plainly.
from test_data_schemas import GOOD


def _load(path: Path, cache: Path):
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_loads(kind: str, tmp_path: Path) -> None:
    a = copy.deepcopy(GOOD[kind])
    b = copy.deepcopy(GOOD[kind])
    if "id" in b:
        b["id"] += "-2"
    p = tmp_path / f"{kind}.jsonl"
    write_jsonl_atomic(p, [a, b])
    validate_file(p, kind)
    ds = _load(p, tmp_path / "cache")
    assert ds.num_rows == 2
    assert set(ds.column_names) == set(a)
    first = ds[0]
    for key, value in a.items():
        if not isinstance(value, dict | list):
            assert first[key] == value, key


def test_mixed_constraint_params_and_nulls_load(tmp_path: Path) -> None:
    """Constraints with different params per row, absent/null optional fields: pyarrow must unify them."""
    base = GOOD["instruction"]
    rows = [
        base | {"id": "a", "constraints": [{"type": "include_words", "params": {"words": ["sea", "sky"]}}]},
        base | {"id": "b", "constraints": None, "prompt": None, "gen": None},
        base | {"id": "c", "constraints": [{"type": "lowercase", "params": {}}]},
        {k: v for k, v in base.items() if k != "constraints"} | {"id": "d"},
    ]
    out = tmp_path / "instructions.jsonl"
    w = ShardWriter(out)
    w.write_batch(rows[:2])
    w.write_batch(rows[2:])
    w.finalize(out, ["d", "c", "b", "a"])
    validate_file(out, "instruction")
    ds = _load(out, tmp_path / "cache")
    assert ds["id"] == ["d", "c", "b", "a"]
    assert ds[3]["constraints"][0]["params"]["words"] == ["sea", "sky"]
    assert ds[2]["prompt"] is None
