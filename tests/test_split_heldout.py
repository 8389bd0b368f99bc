"""Stage ``split`` for issue 26: the proof config's held-out counts and shares, unseen-wording items, the dev
split, determinism, and old configs unchanged (no model: synthetic instructions)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from selfalign.constraints import HELD_OUT_TYPES, REGISTRY, attach, train_types
from selfalign.constraints.heldout_wording import HELDOUT
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.schemas import validate_file
from selfalign.data.split import split_held_out
from selfalign.stages.base import StageContext, StageResult
from selfalign.stages.instructions import InstructionsConfig
from selfalign.stages.split import SplitConfig, base_text, run
from split_records import instruction_records

PROOF = Path(__file__).resolve().parents[1] / "configs" / "proof.yaml"
# Run 6's split settings (configs/proof.yaml before issue 26).
RUN6 = {"test_fraction": 0.48, "train_constraint_fraction": 0.85, "test_constraint_fraction": 1.0,
        "test_heldout_share": 0.4, "constraint_count_weights": [0.55, 0.3, 0.15]}  # fmt: skip


def _run(tmp_path: Path, cfg: SplitConfig, n: int = 200) -> StageResult:
    src = tmp_path / "in.jsonl"
    write_jsonl_atomic(src, instruction_records(n))
    ctx = StageContext(name="split", config=cfg, out_dir=tmp_path / "out", inputs={"instructions": src},
                       engine=lambda: pytest.fail("split must not load a model"))  # fmt: skip
    return run(ctx)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _digest(res: StageResult) -> str:
    blob = b"".join(Path(res.outputs[k]).read_bytes() for k in ("train", "test"))
    return hashlib.sha256(blob).hexdigest()[:16]


def _proof_split() -> tuple[SplitConfig, int]:
    doc = yaml.safe_load(PROOF.read_text())
    return SplitConfig(**doc["split"]), InstructionsConfig(**doc["instructions"]).n


@pytest.mark.parametrize(
    ("settings", "digest"),
    [({}, "c37768393701b7cd"), (RUN6, "2855c53f8bd527f9")],
    ids=["defaults", "run6"],
)
def test_old_configs_give_the_same_split_and_config_dump(tmp_path: Path, settings: dict, digest: str) -> None:
    """Digests of train.jsonl + test.jsonl written by the code before issue 26 (same records, same settings).

    If a deliberate change to the training wordings or the seed pool moves them, recompute: the split is a
    pure function of those, the records and the config.
    """
    cfg = SplitConfig(**settings)
    res = _run(tmp_path, cfg)
    assert _digest(res) == digest
    assert "dev" not in res.outputs and not (tmp_path / "out" / "dev.jsonl").exists()
    assert all("wording" not in r for r in _read(res.outputs["test"]))
    # The section's dump (part of the stage's cache key) has exactly the keys it had before.
    old_keys = {"test_fraction", "train_constraint_fraction", "test_constraint_fraction",
                "test_heldout_share", "constraints_per_item", "constraint_count_weights", "seed"}  # fmt: skip
    assert set(cfg.model_dump(mode="json")) == old_keys
    new = SplitConfig(**settings, dev_fraction=0.1, test_unseen_wording_share=0.3)
    assert set(new.model_dump(mode="json")) == old_keys | {"dev_fraction", "test_unseen_wording_share"}


def test_proof_config_meets_the_heldout_floors(tmp_path: Path) -> None:
    """configs/proof.yaml's split on as many instructions as its instructions stage asks for: >= 600
    verifiable held-out items, >= 200 of never-trained types only, >= 200 with 2-3 constraints, >= 200 in
    unseen wordings, and a dev split."""
    cfg, n = _proof_split()
    res = _run(tmp_path, cfg, n)
    test = _read(res.outputs["test"])
    c = res.counts
    assert c["test_verifiable"] == len(test) >= 600
    assert c["test_heldout_types_only"] >= 200 and c["test_multi_constraint"] >= 200
    assert c["test_unseen_wording"] >= 200
    assert c["test_heldout_types_only"] == sum(all(x["type"] in HELD_OUT_TYPES for x in r["constraints"])
                                               for r in test)  # fmt: skip
    assert c["test_unseen_wording"] == sum(r["wording"] == "unseen" for r in test)
    shapes = json.loads((tmp_path / "out" / "manifest.json").read_text())["metrics"]["unseen_wording_shapes"]
    assert sum(shapes.values()) == c["test_unseen_wording"] and len(shapes) >= 5
    assert c["dev"] >= 50 and c["train"] >= 300
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["metrics"]["dev"]["size"] == c["dev"]
    assert manifest["metrics"]["dev"]["seed"] == cfg.dev_draw_seed
    assert manifest["config"]["dev_fraction"] == cfg.dev_fraction
    validate_file(res.outputs["test"], "instruction")  # the wording field is in the schema
    validate_file(res.outputs["dev"], "instruction")


def test_unseen_items_weave_heldout_wordings_around_the_same_constraints(tmp_path: Path) -> None:
    seen = _run(tmp_path / "a", SplitConfig(**RUN6))
    unseen = _run(tmp_path / "b", SplitConfig(**RUN6, test_unseen_wording_share=0.5))
    before = {r["id"]: r for r in _read(seen.outputs["test"])}
    after = _read(unseen.outputs["test"])
    assert _read(seen.outputs["train"]) == _read(unseen.outputs["train"])  # the training side is untouched
    woven = [r for r in after if r["wording"] == "unseen"]
    assert 30 <= len(woven) <= 70 and all(r["wording"] in ("seen", "unseen") for r in after)
    for r in after:
        old = before[r["id"]]
        assert r["constraints"] == old["constraints"]  # the item's check is the same constraint dict
        if r["wording"] == "seen":
            assert r["text"] == old["text"]
            continue
        base = base_text(r)
        assert r["text"] != old["text"] and base == base_text(old)
        assert r["text"] != attach(base, r["constraints"])  # not the training sentences appended
        assert r["gen"]["augment"]["wording"] == "unseen" and r["gen"]["augment"]["weave"]
        for c in r["constraints"]:  # each constraint is phrased by one of its held-out fragments ...
            phrases, asides = HELDOUT[c["type"]](c["params"])
            assert any(f in r["text"] or f[:1].upper() + f[1:] in r["text"] for f in phrases + asides)
            # ... and by none of its training wordings.
            assert not any(w in r["text"] for w in REGISTRY[c["type"]].phrasings(c["params"]))


def test_dev_split_is_carved_from_training_and_disjoint(tmp_path: Path) -> None:
    cfg = SplitConfig(**RUN6, dev_fraction=0.2, test_unseen_wording_share=0.4)
    res = _run(tmp_path, cfg, 400)
    train, test, dev = (_read(res.outputs[k]) for k in ("train", "test", "dev"))
    ids = [{r["id"] for r in side} for side in (train, test, dev)]
    assert not ids[0] & ids[2] and not ids[1] & ids[2] and not ids[0] & ids[1]
    assert len(train) + len(test) + len(dev) == 400
    # The test side is the one it would be without a dev split; dev comes out of training only.
    no_dev = _run(tmp_path / "nodev", SplitConfig(**RUN6, test_unseen_wording_share=0.4), 400)
    assert _read(no_dev.outputs["test"]) == test
    assert {r["id"] for r in _read(no_dev.outputs["train"])} == ids[0] | ids[2]
    texts = {base_text(r) for r in train} | {base_text(r) for r in test}
    assert not {base_text(r) for r in dev} & texts
    # Dev never sees a held-out type or wording: hyper-parameters chosen on it cannot tune to them.
    assert all(c["type"] in train_types() for r in dev for c in r["constraints"] or [])
    assert all("wording" not in r for r in dev + train)
    assert sum(bool(r["constraints"]) for r in dev) == len(dev)  # dev_constraint_fraction 1.0: verifiable
    assert {r["category"] for r in dev} == {r["category"] for r in train}  # stratified by category
    assert res.counts["dev"] == len(dev)


def test_dev_and_unseen_draws_are_deterministic_under_their_seeds(tmp_path: Path) -> None:
    cfg = SplitConfig(**RUN6, dev_fraction=0.2, test_unseen_wording_share=0.4)
    a = _run(tmp_path / "a", cfg)
    b = _run(tmp_path / "b", cfg)
    for k in ("train", "test", "dev"):
        assert Path(a.outputs[k]).read_bytes() == Path(b.outputs[k]).read_bytes()
    other_dev = _run(tmp_path / "c", SplitConfig(**RUN6, dev_fraction=0.2, test_unseen_wording_share=0.4,
                                                dev_seed=7))  # fmt: skip
    assert _read(other_dev.outputs["test"]) == _read(a.outputs["test"])  # the dev seed moves dev only
    assert {r["id"] for r in _read(other_dev.outputs["dev"])} != {r["id"] for r in _read(a.outputs["dev"])}
    other = _run(tmp_path / "d", SplitConfig(**{**RUN6, "seed": 1}, dev_fraction=0.2,
                                            test_unseen_wording_share=0.4))  # fmt: skip
    assert _read(other.outputs["test"]) != _read(a.outputs["test"])


def test_salted_draw_is_independent_and_the_unsalted_one_unchanged() -> None:
    records = instruction_records(300)
    plain = split_held_out(records, 0.3, 0)
    assert plain == split_held_out(records, 0.3, 0, salt="")
    salted = split_held_out(records, 0.3, 0, salt="dev")
    assert salted == split_held_out(records, 0.3, 0, salt="dev")
    assert {r["id"] for r in salted[1]} != {r["id"] for r in plain[1]}
    assert len(salted[1]) == len(plain[1])  # the same stratified sizes, another draw
