"""The sft and dpo stages say what they did to their data: refused selection settings they would ignore, and a
cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfalign.data.schemas import SFTExample
from selfalign.engine import ModelSpec
from selfalign.errors import ConfigError
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext
from selfalign.stages.dpo import DPOStageConfig
from selfalign.stages.dpo import run as run_dpo
from selfalign.stages.sft import SFTStageConfig, cap_round_robin
from selfalign.stages.sft import run as run_sft


def _no_engine() -> None:
    raise AssertionError("a training stage loads its own engine")


def _ctx(tmp_path: Path, config: SFTStageConfig, inputs: dict[str, Path]) -> StageContext:
    return StageContext(name="sft", config=config, out_dir=tmp_path / "sft", inputs=inputs, engine=_no_engine,
                        extra={"model_spec": ModelSpec(ref="tiny-random-llama")})  # fmt: skip


@pytest.mark.parametrize("setting", [{"min_p_good": 0.7}, {"require_confident": False}])
def test_a_selection_setting_the_accepted_input_ignores_is_refused(tmp_path, setting):
    accepted = tmp_path / "accepted.jsonl"
    accepted.write_text("")  # never read: the refusal comes first
    ctx = _ctx(tmp_path, SFTStageConfig(max_steps=1, **setting), {"accepted": accepted})
    with pytest.raises(ConfigError, match=f"sft.{next(iter(setting))}: .*critique"):
        run_sft(ctx)
    assert not (tmp_path / "sft").exists()


def test_max_examples_records_what_it_cut(tmp_path):
    fmt = get_format()
    data = tmp_path / "sft.jsonl"
    rows = [{"prompt": fmt.prompt(f"Q {i}?"), "completion": fmt.completion(f"answer {i}")} for i in range(5)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = SFTStageConfig(max_steps=1, batch_size=2, max_examples=2, tensorboard=False)
    run_sft(_ctx(tmp_path, cfg, {"sft": data}))
    manifest = json.loads((tmp_path / "sft" / "manifest.json").read_text())
    cut = manifest["data"]["max_examples_cut"]
    assert (cut["available"], cut["dropped"], cut["instructions"], cut["instructions_kept"]) == (5, 3, 5, 2)
    assert manifest["counts"]["max_examples_dropped"] == 3  # kept past the pipeline's rewrite of inputs
    assert len((tmp_path / "sft" / "sft.jsonl").read_text().splitlines()) == 2


def test_max_examples_thins_instructions_round_robin():
    fmt = get_format()
    # instruction a has three examples, b two, c one, in file order a a a b b c
    rows = [SFTExample(prompt=fmt.prompt(q), completion=fmt.completion(f"{q} {k}")) for q, k in
            [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("c", 0)]]  # fmt: skip
    kept = cap_round_robin(rows, 4)
    # every instruction's first, then a's second (earlier in the file than b's second), kept in file order
    assert [r.completion for r in kept] == [rows[i].completion for i in (0, 1, 3, 5)]
    assert {r.prompt for r in kept} == {r.prompt for r in rows}
    assert cap_round_robin(rows, 10) == rows
    assert [r.completion for r in cap_round_robin(rows, 3)] == [rows[i].completion for i in (0, 3, 5)]


def test_max_pairs_records_what_it_cut(tmp_path):
    fmt = get_format()
    data = tmp_path / "pairs.jsonl"
    rows = [{"prompt": fmt.prompt(f"Q {i}?"), "chosen": f"yes {i}", "rejected": f"no {i}", "margin": 1.0,
             "source": "test"} for i in range(5)]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = DPOStageConfig(max_steps=1, batch_size=2, max_pairs=2, tensorboard=False, from_sft=False)
    spec = ModelSpec(ref="tiny-random-llama")
    ctx = StageContext(name="dpo", config=cfg, out_dir=tmp_path / "dpo", inputs={"pairs": data},
                       engine=_no_engine, extra={"model_spec": spec})  # fmt: skip
    run_dpo(ctx)
    manifest = json.loads((tmp_path / "dpo" / "manifest.json").read_text())
    assert manifest["data"]["max_pairs_cut"] == {"available": 5, "dropped": 3}
    assert manifest["counts"]["max_pairs_dropped"] == 3 and manifest["counts"]["pairs"] == 2
