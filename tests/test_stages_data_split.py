"""Stage ``split``: stratified held-out set, constraint types per side, leakage check and gate."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from selfalign.constraints import HELD_OUT_TYPES
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.errors import DataError, GateError
from selfalign.stages.base import StageContext
from selfalign.stages.split import SplitConfig, base_text, leakage, run

_VOCAB = (
    "volcano honeybee glacier submarine teapot chess lighthouse coral drummer fox bridge comet origami "
    "bicycle owl banknote sourdough tornado violin penguin harbor meadow lantern quartz saddle tundra "
    "orchard pylon kettle falcon marble ferry canyon walnut beacon pepper trumpet igloo lemur piano "
    "compass nebula quill rocket saffron tiger umbrella vessel willow yacht zeppelin anchor basil cactus"
)
WORDS = _VOCAB.split()


def _records(categories: tuple[str, ...] = ("creative", "analytical", "brainstorm")) -> list[dict]:
    out = []
    for c, cat in enumerate(categories):
        for t in range(20):
            # No shared template: texts that share a frame would be near-duplicates of each other.
            text = " ".join(random.Random(f"{c}:{t}").sample(WORDS, 6)).capitalize() + "."
            out.append({"id": f"i{c}-{t}", "text": text, "category": cat, "source": "generated",
                        "prompt": None, "gen": None})  # fmt: skip
    return out


def _run(tmp_path: Path, records: list[dict], cfg: SplitConfig | None = None):
    src = tmp_path / "in.jsonl"
    write_jsonl_atomic(src, records)
    ctx = StageContext(
        name="split", config=cfg or SplitConfig(), out_dir=tmp_path / "out", inputs={"instructions": src},
        engine=lambda: pytest.fail("split must not load a model"),
    )  # fmt: skip
    return run(ctx)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_stratified_and_disjoint(tmp_path: Path) -> None:
    res = _run(tmp_path, _records())
    train, test = _read(res.outputs["train"]), _read(res.outputs["test"])
    assert Counter(r["category"] for r in test) == {"creative": 4, "analytical": 4, "brainstorm": 4}
    assert len(train) + len(test) == 60
    assert not {r["id"] for r in train} & {r["id"] for r in test}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["metrics"]["leakage"]["exact"] == 0
    assert manifest["metrics"]["leakage"]["near_duplicate_pairs"] == 0
    assert manifest["metrics"]["per_category"]["test"]["creative"] == 4


def test_constraints_held_out_types_only_in_test(tmp_path: Path) -> None:
    cfg = SplitConfig(train_constraint_fraction=0.9, test_constraint_fraction=1.0, test_heldout_share=0.5)
    res = _run(tmp_path, _records(), cfg)
    train, test = _read(res.outputs["train"]), _read(res.outputs["test"])
    train_types = {c["type"] for r in train for c in r["constraints"] or []}
    test_types = {c["type"] for r in test for c in r["constraints"] or []}
    assert train_types and not train_types & HELD_OUT_TYPES
    assert test_types & HELD_OUT_TYPES
    assert all(r["constraints"] for r in test)
    for r in test:  # the constraint sentence is appended to the base text, which is kept
        assert r["text"].startswith(base_text(r).rstrip(".")) and r["text"] != base_text(r)


def test_deterministic(tmp_path: Path) -> None:
    a = _read(_run(tmp_path / "a", _records()).outputs["test"])
    b = _read(_run(tmp_path / "b", _records()).outputs["test"])
    c = _read(_run(tmp_path / "c", _records(), SplitConfig(seed=1)).outputs["test"])
    assert a == b and a != c


def test_near_duplicate_in_train_is_dropped_not_leaked(tmp_path: Path) -> None:
    records = _records(("creative",))
    # One near-copy of every item: whichever side an item lands on, its copy must not sit on the other.
    copies = [{**r, "id": r["id"] + "x", "text": r["text"][:-1] + " please."} for r in records]
    res = _run(tmp_path, records + copies)
    train, test = _read(res.outputs["train"]), _read(res.outputs["test"])
    assert res.counts["train_dropped_as_leak"] > 0
    assert leakage(train, test)["near_duplicate_pairs"] == 0


def test_leakage_measure_counts_exact_and_near() -> None:
    train = [
        {"id": "a", "text": "Name three primary colors."},
        {"id": "b", "text": "Write a haiku about snow."},
    ]
    test = [
        {"id": "t", "text": "name 3 primary colors"},
        {"id": "u", "text": "Write a haiku about the snow."},
    ]
    got = leakage(train, test)
    assert got["exact"] == 1 and got["near_duplicate_pairs"] == 2


def test_too_small_input_is_refused(tmp_path: Path) -> None:
    one_each = [r for r in _records() if r["id"].endswith("-0")]
    with pytest.raises(GateError, match="no held-out items"):
        _run(tmp_path, one_each)


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    records = _records()
    records[4]["category"] = 7
    with pytest.raises(DataError, match=r"in\.jsonl:5: category"):
        _run(tmp_path, records)
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_constraint_count_weights_give_one_two_and_three_constraint_items(tmp_path: Path) -> None:
    cfg = SplitConfig(
        train_constraint_fraction=1.0, test_constraint_fraction=1.0, constraint_count_weights=[1, 1, 1]
    )
    res = _run(tmp_path, _records(), cfg)
    train, test = _read(res.outputs["train"]), _read(res.outputs["test"])
    counts = Counter(len(r["constraints"]) for r in train + test)
    assert set(counts) == {1, 2, 3}, counts
    held = [r for r in test if r["gen"]["augment"]["types_from"] == "held_out"]
    assert held and all(c["type"] in HELD_OUT_TYPES for r in held for c in r["constraints"])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    per_item = manifest["metrics"]["constraints_per_item"]
    assert sum(per_item["train"].values()) + sum(per_item["test"].values()) == len(train) + len(test)


def test_constraint_count_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="positive sum"):
        SplitConfig(constraint_count_weights=[0, 0])
    with pytest.raises(ValueError):
        SplitConfig(constraint_count_weights=[1, 1, 1, 1])
