"""One loaded base, adapters switched per condition; the CLI end to end on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from selfalign import cli
from selfalign.commands import evaluate as evaluate_cmd
from selfalign.data.jsonl import read_jsonl
from selfalign.data.schemas import validate_record
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.errors import ConfigError
from selfalign.evaluate.conditions import Condition, check_conditions, with_adapters
from selfalign.prompts.format import get_format

TINY = "tiny-random-llama"
PROMPTS = [get_format().prompt(t) for t in ("Name three fruits.", "Describe the sea.", "List two colors.")]
PARAMS = GenParams(max_new_tokens=8, stop=get_format().stop)


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory) -> dict[str, Path]:
    """Two random LoRA adapters (init_lora_weights=False, so they change outputs) for the tiny model."""
    maker = Engine.load(ModelSpec(ref=TINY, sentinels=False))
    root = tmp_path_factory.mktemp("adapters")
    for i, name in enumerate(("sft", "dpo")):
        torch.manual_seed(100 + i)
        cfg = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"],
                         init_lora_weights=False)  # fmt: skip
        peft_model = get_peft_model(maker.model, cfg, adapter_name=name)
        peft_model.save_pretrained(str(root), selected_adapters=[name])
        maker.model = peft_model.unload()
    return {name: root / name for name in ("sft", "dpo")}


@pytest.fixture(scope="module")
def switched(adapter_dirs) -> tuple[Engine, list[str]]:
    """A fresh base (not the shared fixture: adding adapters changes it), its plain outputs first."""
    engine = Engine.load(ModelSpec(ref=TINY, sentinels=False))
    before = [g.text for g in engine.generate(PROMPTS, PARAMS)]
    for name, path in adapter_dirs.items():
        engine.add_adapter(name, path)
    return engine, before


def test_adapters_give_different_outputs_from_one_loaded_base(switched):
    engine, _ = switched
    outs = {a: [g.raw for g in engine.generate(PROMPTS, PARAMS, adapter=a)] for a in (None, "sft", "dpo")}
    assert outs["sft"] != outs[None]
    assert outs["dpo"] != outs[None]
    assert outs["sft"] != outs["dpo"]
    assert sorted(engine.adapters) == ["dpo", "sft"]


def test_adapter_none_returns_exactly_to_the_base(switched):
    engine, before = switched
    engine.generate(PROMPTS, PARAMS, adapter="dpo")  # switch away first, then back
    assert [g.text for g in engine.generate(PROMPTS, PARAMS, adapter=None)] == before


def test_conditions_refuse_a_missing_adapter_or_baseline():
    conds = with_adapters(["sft"])
    check_conditions(conds, "base_few_shot", ["sft"])
    with pytest.raises(ConfigError, match="needs adapter 'sft'"):
        check_conditions(conds, "base_few_shot", [])
    with pytest.raises(ConfigError, match="baseline"):
        check_conditions(conds, "nope", ["sft"])
    with pytest.raises(ConfigError, match="duplicate"):
        check_conditions([*conds, Condition(name="sft")], "base_few_shot", ["sft"])


def test_evaluate_help_lists_every_option(capsys):
    if not any(c.name == "evaluate" for c in cli.app.registered_commands):
        evaluate_cmd.register(cli.app)
    assert cli.run(["evaluate", "--help"]) == 0
    text = capsys.readouterr().out
    for opt in ("--items", "--adapter", "--baseline", "--critic", "--n-boot", "--out"):
        assert opt in text


def test_cli_writes_items_results_and_table(tmp_path, adapter_dirs, capsys):
    items = tmp_path / "heldout.jsonl"
    rows = [
        {"id": "a", "instruction": "Name three fruits. Do not use any commas.", "category": "lists",
         "constraints": [{"type": "no_commas", "params": {}}]},
        {"id": "b", "text": "Describe the sea in lowercase.", "category": "writing",
         "constraints": [{"type": "lowercase"}]},
        {"id": "c", "instruction": "Say hello.", "category": "open"},
    ]  # fmt: skip
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if not any(c.name == "evaluate" for c in cli.app.registered_commands):
        evaluate_cmd.register(cli.app)
    out = tmp_path / "eval"
    adapters = ["--adapter", f"sft={adapter_dirs['sft']}", "--adapter", f"dpo={adapter_dirs['dpo']}"]
    argv = ["evaluate", "--items", str(items), "--out", str(out), "--model", TINY, "--max-new-tokens", "6",
            "--n-boot", "200", *adapters]  # fmt: skip
    assert cli.run(argv) == 0
    printed = capsys.readouterr().out
    assert "base_few_shot" in printed and "sft" in printed and "dpo" in printed

    # Each line against the shared EvalItem schema (validate_file would refuse ids repeated per condition).
    records = [validate_record(r, "eval") for r in read_jsonl(out / "items.jsonl")]
    assert len(records) == 4 * 3
    by = {(r.condition, r.id): r for r in records}
    assert by[("sft", "a")].checks[0].type == "no_commas"
    assert by[("sft", "c")].passed is None and by[("sft", "c")].judge is not None
    assert by[("base_few_shot", "c")].judge is None  # the baseline is not judged against itself
    assert "Instruction: Say hello." in by[("base_few_shot", "c")].prompt
    assert by[("base_few_shot", "c")].prompt.count("Instruction:") == 4  # 3 shots + the item

    results = json.loads((out / "results.json").read_text())
    assert list(results["conditions"]) == ["base_zero_shot", "base_few_shot", "dpo", "sft"]
    sft = results["conditions"]["sft"]
    assert sft["verifiable"]["overall"]["n"] == 2
    assert set(sft["verifiable"]["categories"]) == {"lists", "writing"}
    assert 0.0 <= sft["open_ended"]["win_rate"] <= 1.0
    assert results["adapters"].keys() == {"sft", "dpo"}
    assert results["memory"][-1]["peak_rss_mb"] > 0
    assert (out / "manifest.json").is_file()

    # An ablation beside it: the kept base and sft answers are read back, only the new condition is generated.
    again = tmp_path / "again"
    argv = ["evaluate", "--items", str(items), "--out", str(again), "--model", TINY, "--max-new-tokens", "6",
            "--n-boot", "200", "--adapter", f"sft={adapter_dirs['sft']}", "--reuse", str(out)]  # fmt: skip
    assert cli.run(argv) == 0
    assert "reused (not generated): base_few_shot, base_zero_shot, sft" in capsys.readouterr().out
    kept = [r for r in read_jsonl(out / "items.jsonl") if r["condition"] != "dpo"]
    assert read_jsonl(again / "items.jsonl") == kept


def test_cli_refuses_a_malformed_adapter_spec(tmp_path, capsys):
    if not any(c.name == "evaluate" for c in cli.app.registered_commands):
        evaluate_cmd.register(cli.app)
    items = tmp_path / "h.jsonl"
    items.write_text('{"id": "a", "instruction": "x", "category": "c"}\n')
    assert cli.run(["evaluate", "--items", str(items), "--out", str(tmp_path), "--adapter", "=x"]) == 1
    assert "NAME=PATH" in capsys.readouterr().err
