"""``sft.seeds`` / ``dpo.seeds``: a chain of stages per seed in one run; one seed plans and keys as before."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from selfalign.config import stable_hash
from selfalign.errors import ConfigError
from selfalign.pipeline import Run, _stage_key, code_version, plan, run_pipeline
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


def _train_one(tmp_path: Path, name: str, **cfg: object) -> bytes:
    """The sft stage alone (as `selfalign train sft` runs it) on four rows; the adapter's weights."""
    import torch

    from selfalign.engine import ModelSpec
    from selfalign.prompts.format import get_format
    from selfalign.stages.base import StageContext
    from selfalign.stages.sft import run as run_sft

    fmt = get_format()
    data = tmp_path / "sft.jsonl"
    rows = [{"prompt": fmt.prompt(f"Q {i}?"), "completion": fmt.completion(f"answer {i}")} for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    torch.rand(17 * len(name))  # whatever ran before in the process draws from the global RNG

    def no_engine() -> None:
        raise AssertionError("a training stage loads its own engine")

    config = SFTStageConfig(max_steps=1, batch_size=4, tensorboard=False, **cfg)
    spec = ModelSpec(ref="tiny-random-llama")
    ctx = StageContext(name=name, config=config, out_dir=tmp_path / name, inputs={"sft": data},
                       engine=no_engine, extra={"model_spec": spec})  # fmt: skip
    run_sft(ctx)
    return (tmp_path / name / "adapter" / "adapter_model.safetensors").read_bytes()


def test_a_seed_trains_the_same_adapter_whatever_ran_before_it(tmp_path):
    first = _train_one(tmp_path, "a", seeds=[1])
    # TRL seeds the global RNG before peft draws the LoRA init: a seed's adapter is its own, whatever ran
    # before it in the process (sft-s1 after sft-s0, or alone after a resume).
    assert _train_one(tmp_path, "after-other-work", seed=1) == first
    assert _train_one(tmp_path, "b", seed=2) != first


# --- end to end on the tiny model: two SFT seeds, each with its own DPO ------------------------------------


def _statuses(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {s["name"]: s["status"] for s in manifest["stages"]}


def _items(run_dir: Path) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for line in (run_dir / "evaluate" / "items.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["passed"] is not None:
            out.setdefault(r["condition"], {})[r["id"]] = r["passed"]
    return out


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("seeded")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["sft"]["seeds"] = [0, 1]
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.MonkeyPatch.context() as mp:
        # The adapter card records the checkout's commit; other commits to a shared checkout between the run
        # and its resume would change the card, and so every stage after it, for no reason of this test's.
        mp.setattr("selfalign.engine.loader.git_state", lambda: {"commit": "fixed", "dirty": False})
        run_pipeline(path, root / "run", progress=False)
        yield path, root / "run"


def test_two_seeds_train_two_adapters_and_each_dpo_starts_from_its_own_sft(seeded):
    _, run = seeded
    assert list(_statuses(run)) == ["instructions", "split", "responses", "critique", "sft-s0", "sft-s1",
                                    "pairs-s0", "dpo-s0", "pairs-s1", "dpo-s1", "evaluate"]  # fmt: skip
    weights = [(run / s / "adapter" / "adapter_model.safetensors").read_bytes() for s in ("sft-s0", "sft-s1")]
    assert weights[0] != weights[1]
    for s, seed in (("sft-s0", 0), ("sft-s1", 1), ("dpo-s1", 0)):
        config = json.loads((run / s / "manifest.json").read_text())["config"]
        assert config["seed"] == seed and config["seeds"] is None, s
    assert (run / "sft-s0" / "sft.jsonl").read_bytes() == (run / "sft-s1" / "sft.jsonl").read_bytes()
    start = json.loads((run / "dpo-s1" / "manifest.json").read_text())["inputs"]["sft_adapter"]
    assert Path(start).parent.name == "sft-s1"
    assert json.loads((run / "pairs-s1" / "manifest.json").read_text()) != {}
    results = json.loads((run / "evaluate" / "results.json").read_text())
    assert {"sft-s0", "sft-s1", "dpo-s0", "dpo-s1"} <= set(results["conditions"])


def test_the_headline_pools_the_seeds_against_the_stronger_base(seeded):
    from selfalign.evaluate.across import compare_runs

    _, run = seeded
    h = json.loads((run / "evaluate" / "results.json").read_text())["headline"]
    base = h["stronger_base"]
    lead = {(e["group"], e["subset"]): e for e in h["pooled"]}
    assert [e["group"] for e in h["pooled"] if e["subset"] == "all"] == ["sft", "dpo"]  # training order
    e = lead[("sft", "all")]
    assert e["seeds"] == ["sft-s0", "sft-s1"] and e["pooled"]["policies"] == 2
    items = _items(run)
    ids = sorted(items[base])
    mean = sum((items["sft-s0"][i] + items["sft-s1"][i]) / 2 - items[base][i] for i in ids) / len(ids)
    assert e["n"] == len(ids) and e["pooled"]["lift"] == pytest.approx(mean)
    assert [c["policy"] for c in e["comparisons"]] == ["sft-s0", "sft-s1"]
    assert e["pooled"]["ci_low"] <= e["pooled"]["lift"] <= e["pooled"]["ci_high"]
    # One implementation: selfalign compare on the same run gives the same pooled figures.
    again = compare_runs(f"{run}:{base}", [f"{run}:sft-s0", f"{run}:sft-s1"], n_boot=200)
    assert again["pooled"]["lift"] == pytest.approx(e["pooled"]["lift"])
    assert again["across_policies"] == e["across_policies"]
    assert [c["p_bh"] for c in again["comparisons"]] == pytest.approx([c["p_bh"] for c in e["comparisons"]])


def test_the_report_and_markdown_lead_with_the_pooled_result(seeded):
    from selfalign.report.markdown import results_markdown

    _, run = seeded
    html = (run / "report.html").read_text()
    assert html.index("Headline: seeds pooled") < html.index("Each seed against") < html.index(
        "Each condition on its own")  # fmt: skip
    md = results_markdown(run)
    head = md[md.index("## Headline") : md.index("## Conditions")]
    assert "2 seeds pooled" in head and head.index("| sft | 2 | all |") < head.index("| sft | all | sft-s0 |")
    assert head.index("| sft | all | sft-s1 |") < head.index("Each condition on its own")
    assert "| sft-s1 |" in md[md.index("## Per round") :]  # each seed's row in the per-round table


def test_a_removed_seed_stage_is_retrained_alone_and_identically(seeded):
    config, run = seeded
    before = (run / "sft-s1" / "adapter" / "adapter_model.safetensors").read_bytes()
    results = (run / "evaluate" / "results.json").read_bytes()
    shutil.rmtree(run / "sft-s1")
    run_pipeline(config, run, progress=False)
    status = _statuses(run)
    assert status["sft-s1"] == "done"
    assert {s for n, s in status.items() if n != "sft-s1"} == {"cached"}  # the same adapter: nothing after
    assert (run / "sft-s1" / "adapter" / "adapter_model.safetensors").read_bytes() == before
    assert (run / "evaluate" / "results.json").read_bytes() == results
