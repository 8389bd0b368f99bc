"""Run config: unknown keys and bad values are errors naming their path; defaults resolve; rounds plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfalign.cli import run as cli
from selfalign.config import load_config, parse_config, stable_hash
from selfalign.errors import ConfigError
from selfalign.pipeline import plan

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sft": {"lora": {"rank": 8}}}, r"sft\.lora\.rank: unknown key"),
        ({"sft": {"lora": {"r": 0}}}, r"sft\.lora\.r: Input should be greater than or equal to 1"),
        ({"model": {"quant": "3bit"}}, r"model\.quant: Input should be 'none', '8bit' or '4bit'"),
        ({"evaluate": {"confidence": 2}}, r"evaluate\.confidence: "),
        ({"nonsense": {}}, r"nonsense: unknown key"),
    ],
)
def test_errors_name_the_path(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "cfg.yaml")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  ref: x\n  dtype: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_config(bad)


def test_shipped_configs_are_valid_and_hash_stably():
    for name in ("demo", "tiny", "tiny-vllm", "qwen2.5-32b"):
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        assert stable_hash(cfg.model_dump(mode="json")) == stable_hash(cfg.model_dump(mode="json"))
    assert load_config(ROOT / "configs" / "qwen2.5-32b.yaml").model.quant == "4bit"
    assert load_config(ROOT / "configs" / "tiny-vllm.yaml").engine.backend == "vllm"


def test_config_show_prints_defaults_and_docs(capsys):
    assert cli(["config", "show", str(ROOT / "configs" / "tiny.yaml")]) == 0
    out = capsys.readouterr().out
    assert "tiny-random-llama" in out and "lora:" in out
    assert cli(["config", "show", "--doc"]) == 0
    assert "sft.lora.r" in capsys.readouterr().out


def test_bad_config_is_one_line_exit_1(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("sft:\n  lora:\n    rank: 8\n")
    assert cli(["run", str(bad), "--run-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "sft.lora.rank: unknown key" in err and err.count("\n") == 1


def test_rounds_chain_policies_and_evaluate_every_round():
    steps = {s.name: s for s in plan(3)}
    assert steps["pairs-r2"].inputs["adapter"] == ("dpo", "adapter")
    assert steps["dpo-r2"].inputs["sft_adapter"] == ("dpo", "adapter")
    assert steps["pairs-r3"].inputs["adapter"] == ("dpo-r2", "adapter")
    assert steps["pairs-r3"].extra["policy"] == "dpo-r2"
    assert {"adapter:sft", "adapter:dpo", "adapter:dpo-r2", "adapter:dpo-r3"} <= set(steps["evaluate"].inputs)


def test_sft_rounds_sample_the_newest_policy_and_dpo_starts_from_the_last_one(tmp_path):
    steps = {s.name: s for s in plan(1, sft_rounds=3)}
    order = [s.name for s in plan(1, sft_rounds=3)]
    assert order[4:] == ["sft", "responses-r2", "critique-r2", "sft-r2", "responses-r3", "critique-r3",
                         "sft-r3", "pairs", "dpo", "evaluate"]  # fmt: skip
    assert steps["responses-r2"].inputs["adapter"] == ("sft", "adapter")
    assert steps["responses-r2"].extra == {"round": 2, "policy": "sft"}
    assert steps["responses-r3"].extra == {"round": 3, "policy": "sft-r2"}
    assert steps["critique-r3"].inputs["responses"] == ("responses-r3", "responses")
    assert steps["sft-r3"].inputs == {
        "accepted": ("critique-r3", "accepted"), "previous": ("sft-r2", "sft_data"),
    }  # fmt: skip
    assert steps["pairs"].inputs["adapter"] == ("sft-r3", "adapter")
    assert steps["pairs"].extra["policy"] == "sft-r3"
    assert steps["dpo"].inputs["sft_adapter"] == ("sft-r3", "adapter")
    assert {"adapter:sft", "adapter:sft-r2", "adapter:sft-r3", "adapter:dpo"} <= set(steps["evaluate"].inputs)
    assert [s.name for s in plan(0, sft_rounds=1)] == [s.name for s in plan(0)]
    bad = tmp_path / "c.yaml"
    bad.write_text("run:\n  sft_rounds: 0\n")
    with pytest.raises(ConfigError, match=r"run\.sft_rounds"):
        load_config(bad)


def test_rounds_zero_is_sft_only_and_negative_rounds_are_refused(tmp_path):
    steps = plan(0)
    assert [s.name for s in steps][-2:] == ["sft", "evaluate"]
    assert {k for k in steps[-1].inputs if k.startswith("adapter:")} == {"adapter:sft"}
    assert load_config(ROOT / "configs" / "proof.yaml").run.rounds == 0
    bad = tmp_path / "c.yaml"
    bad.write_text("run:\n  rounds: -1\n")
    with pytest.raises(ConfigError, match=r"run\.rounds"):
        load_config(bad)
