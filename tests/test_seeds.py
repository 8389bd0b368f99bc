"""``sft.seeds`` / ``dpo.seeds``: a chain of stages per seed in one run; one seed plans and keys as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from selfalign.config import stable_hash
from selfalign.errors import ConfigError
from selfalign.pipeline import Run, _stage_key, code_version, plan
from selfalign.stages.seeds import chains, seed_groups, single_seed
from selfalign.stages.sft import SFTStageConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _run(tmp_path: Path, name: str, **sections: dict) -> Run:
    cfg = yaml.safe_load(TINY.read_text())
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return Run(path, tmp_path / name)


def _keys(run: Run) -> dict[str, str]:
    """Every planned stage's key, each chained on the keys before it (no output hashes: a fresh plan)."""
    c = run.config
    keys: dict[str, str] = {}
    for step in plan(c.run.rounds, c.run.sft_rounds, c.sft.seeds, c.dpo.seeds):
        keys[step.name] = _stage_key(run, step, keys, {})
    return keys


def test_plan_gives_each_seed_its_own_chain_and_dpo_starts_from_its_own_sft():
    steps = {s.name: s for s in plan(2, 2, [0, 1], None)}
    assert list(steps) == [
        "instructions", "split", "responses", "critique",
        "sft-s0", "responses-r2-s0", "critique-r2-s0", "sft-r2-s0",
        "sft-s1", "responses-r2-s1", "critique-r2-s1", "sft-r2-s1",
        "pairs-s0", "dpo-s0", "pairs-r2-s0", "dpo-r2-s0",
        "pairs-s1", "dpo-s1", "pairs-r2-s1", "dpo-r2-s1", "evaluate",
    ]  # fmt: skip
    assert steps["sft-s1"].update == {"seed": 1, "seeds": None}
    assert steps["sft-r2-s1"].update == {"seed": 1, "seeds": None}
    assert steps["responses-r2-s1"].inputs["adapter"] == ("sft-s1", "adapter")
    assert steps["responses-r2-s1"].extra == {"round": 2, "policy": "sft-s1"}
    assert steps["sft-r2-s1"].inputs["previous"] == ("sft-s1", "sft_data")
    assert steps["pairs-s1"].inputs["adapter"] == ("sft-r2-s1", "adapter")
    assert steps["dpo-s1"].inputs["sft_adapter"] == ("sft-r2-s1", "adapter")  # seed 1's DPO from seed 1's SFT
    assert steps["dpo-r2-s1"].inputs["sft_adapter"] == ("dpo-s1", "adapter")
    assert steps["dpo-s1"].update == {}  # dpo.seeds unset: the section's own seed in every chain
    evaluated = {k for k in steps["evaluate"].inputs if k.startswith("adapter:")}
    assert evaluated == {f"adapter:{n}" for n in steps if n.startswith(("sft", "dpo"))}


def test_dpo_seeds_share_one_sft_and_its_pairs_or_pair_with_sft_seeds_by_position():
    names = [s.name for s in plan(1, 1, [0], [3, 4])]
    assert names == ["instructions", "split", "responses", "critique", "sft", "pairs", "dpo-s3", "dpo-s4",
                     "evaluate"]  # fmt: skip
    steps = {s.name: s for s in plan(1, 1, [5, 6], [7, 8])}
    assert steps["dpo-s6"].update == {"seed": 8, "seeds": None}  # named by its chain's SFT seed
    assert steps["dpo-s6"].inputs["sft_adapter"] == ("sft-s6", "adapter")
    with pytest.raises(ConfigError, match=r"dpo\.seeds: 2 seeds, sft\.seeds 3"):
        chains([0, 1, 2], [0, 1])


def test_sft_only_with_seeds_evaluates_every_seed():
    steps = plan(0, 1, [0, 1, 2])
    assert [s.name for s in steps][4:] == ["sft-s0", "sft-s1", "sft-s2", "evaluate"]
    assert set(steps[-1].inputs) == {"heldout", "adapter:sft-s0", "adapter:sft-s1", "adapter:sft-s2"}


def test_one_seed_plans_and_keys_exactly_as_the_single_seed_setting(tmp_path):
    default = _run(tmp_path, "default")
    listed = _run(tmp_path, "listed", sft={"seeds": [0]}, dpo={"seeds": [0]})
    assert [s.name for s in plan(1, 1, [0], [0])] == [s.name for s in plan(1)]
    keys = _keys(default)
    assert keys == _keys(listed)
    assert _keys(_run(tmp_path, "three", sft={"seed": 3})) == _keys(_run(tmp_path, "l3", sft={"seeds": [3]}))
    # The key is the formula from before seeds existed: the section's fields, no "seeds" among them.
    step = next(s for s in plan(1) if s.name == "sft")
    c = default.config
    old = {k: v for k, v in c.sft.model_dump(mode="json").items() if k != "seeds"}
    expected = stable_hash({
        "stage": "sft", "extra": {}, "config": old, "model": c.model.model_dump(mode="json"),
        "backend": c.engine.backend, "seed": c.run.seed, "inputs": {"accepted": keys["critique"]},
        "input_hashes": {}, "code": code_version(),
    })[:16]  # fmt: skip
    assert _stage_key(default, step, keys, {}) == expected == keys["sft"]


def test_a_seed_key_holds_its_own_seed_only_so_adding_a_seed_keeps_the_others(tmp_path):
    two = _keys(_run(tmp_path, "two", sft={"seeds": [0, 1]}))
    three = _keys(_run(tmp_path, "three", sft={"seeds": [0, 1, 2]}))
    single = _keys(_run(tmp_path, "single"))
    assert two["sft-s0"] == three["sft-s0"] == single["sft"]  # seed 0 is seed 0, whatever its siblings
    assert two["sft-s1"] == three["sft-s1"] != two["sft-s0"]
    assert two["dpo-s1"] == three["dpo-s1"] and two["evaluate"] != three["evaluate"]


@pytest.mark.parametrize(
    ("sft", "message"),
    [({"seeds": []}, "sft.seeds: List should have at least 1 item"),
     ({"seeds": [1, 1]}, r"sft.seeds: .*\[1, 1\]: each seed once"),
     ({"seed": 1, "seeds": [1]}, "give seed or seeds, not both"),
     ({"seeds": [-1]}, "sft.seeds.0: Input should be greater than or equal to 0")],
)  # fmt: skip
def test_bad_seed_lists_are_one_line_config_errors(tmp_path, sft, message):
    with pytest.raises(ConfigError, match=message):
        _run(tmp_path, "bad", sft=sft)


def test_a_training_stage_trains_one_seed():
    assert single_seed(SFTStageConfig(seeds=[4]), "sft").seed == 4
    assert single_seed(SFTStageConfig(seed=2), "sft").seed == 2
    with pytest.raises(ConfigError, match=r"sft\.seeds: \[0, 1\]: one sft stage trains one seed"):
        single_seed(SFTStageConfig(seeds=[0, 1]), "sft")


def test_seed_groups_pool_suffixed_names_and_leave_others_alone():
    names = ["base_zero_shot", "sft-s10", "sft-s2", "sft-r2-s2", "sft-r2-s10", "dpo", "mine-s1"]
    assert seed_groups(names) == {
        "base_zero_shot": ["base_zero_shot"], "sft": ["sft-s2", "sft-s10"],
        "sft-r2": ["sft-r2-s2", "sft-r2-s10"], "dpo": ["dpo"], "mine": ["mine-s1"],
    }  # fmt: skip
