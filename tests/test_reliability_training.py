"""Issue 28, items 3 and 4: non-finite settings are refused naming the field; a diverging training step
stops the run in one line and nothing is published; every command that writes a directory takes the lock
``run`` takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
import torch
import yaml
from pydantic import BaseModel
from transformers import TrainerCallback

from selfalign import cli
from selfalign.config import load_config, parse_config, run_config_class
from selfalign.engine import Engine, ModelSpec
from selfalign.errors import ConfigError
from selfalign.prompts.format import get_format
from selfalign.train.config import DPOSettings, SFTSettings
from selfalign.train.dpo import train_dpo
from selfalign.train.finite import TrainingDiverged
from selfalign.train.sft import train_sft

F = get_format()
TINY = ModelSpec(ref="tiny-random-llama", sentinels=False)
EXAMPLES = [(F.prompt(f"Question {i}?"), F.completion(f"answer number {i}")) for i in range(4)]
PAIRS = [(F.prompt(f"Q {i}?"), F.completion(f"good {i}"), F.completion(f"bad reply {i}")) for i in range(4)]
FAST = {"tensorboard": False, "lora": {"dropout": 0.0}, "batch_size": 4}
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}


# -- non-finite settings ---------------------------------------------------------------------------------
def float_fields(model: type[BaseModel] = run_config_class(), prefix: str = "") -> list[tuple[str, bool]]:
    """(dotted path, is a dict of floats) of every float setting in the run config, recursively."""
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if typing.get_origin(ann) is dict:
            if typing.get_args(ann)[1] is float:
                out.append((f"{prefix}{name}", True))
            continue
        for a in (ann, *typing.get_args(ann)):  # float | None, a nested section
            if isinstance(a, type) and issubclass(a, BaseModel):
                out += float_fields(a, f"{prefix}{name}.")
            elif a is float:
                out.append((f"{prefix}{name}", False))
    return sorted(set(out))


def nested(path: str, value: object) -> dict:
    head, _, rest = path.partition(".")
    return {head: nested(rest, value) if rest else value}


def test_the_walk_finds_the_float_settings():
    paths = [p for p, _ in float_fields()]
    assert {"dpo.beta", "sft.learning_rate", "gates.max_runaway_rate", "pairs.negatives.weights"} <= {*paths}


@pytest.mark.parametrize("path,is_dict", float_fields())
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_every_float_setting_refuses_inf_and_nan_naming_its_path(path, is_dict, value):
    if is_dict:
        default = run_config_class()().model_dump()
        for part in path.split("."):
            default = default[part]
        value = {next(iter(default)): value}
    with pytest.raises(ConfigError) as e:
        parse_config(nested(path, value), "cfg.yaml")
    assert f"cfg.yaml: {path}" in str(e.value) and "finite" in str(e.value) and "\n" not in str(e.value)


def test_yaml_inf_beta_is_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dpo:\n  beta: .inf\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: dpo\.beta: Input should be a finite number"):
        load_config(cfg)
    assert yaml.safe_load(cfg.read_text())["dpo"]["beta"] == float("inf")  # YAML itself accepts it


@pytest.mark.parametrize(
    "argv,option",
    [(["dpo", "--beta", "inf"], "--beta inf"), (["sft", "--lr", "nan"], "--lr nan"),
     (["sft", "--epochs", "inf"], "--epochs inf"), (["dpo", "--lr", "-inf"], "--lr -inf")],
)  # fmt: skip
def test_cli_inf_or_nan_option_is_one_line_and_writes_nothing(tmp_path, capsys, argv, option):
    out = tmp_path / "out"
    data = tmp_path / "d.jsonl"
    data.write_text("")
    assert cli.run([*argv, "--data", str(data), "--out", str(out), "--model", "tiny-random-llama"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err and "finite" in err
    assert not out.exists()


# -- a diverging step stops the run ----------------------------------------------------------------------
def test_a_nan_loss_stops_sft_in_one_line_and_publishes_nothing(tmp_path):
    engine = Engine.load(TINY)
    # the final norm's output turns NaN: logits, loss and every gradient follow
    engine.model.model.norm.register_forward_hook(lambda m, i, o: o * float("nan"))
    with pytest.raises(TrainingDiverged) as e:
        train_sft(engine, EXAMPLES, SFTSettings(max_steps=3, **FAST), tmp_path)
    assert "step 1" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "adapter").exists() and not (tmp_path / ".adapter.partial").exists()


def test_dpo_with_an_infinite_beta_stops_instead_of_saving_nan_weights(tmp_path):
    """The issue's case: beta = inf makes the first loss NaN (inf * 0). Config validation is bypassed here
    (model_construct) to reach the trainer, as a value from a future code path might."""
    valid = DPOSettings(max_steps=2, **FAST).__dict__
    settings = DPOSettings.model_construct(**{**valid, "beta": float("inf")})
    with pytest.raises(TrainingDiverged, match="training diverged at step 1"):
        train_dpo(Engine.load(TINY), PAIRS, settings, tmp_path)
    assert not (tmp_path / "adapter").exists()
    logged = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(row.get("step", 0) == 0 for row in logged)  # no step after the NaN was logged as done


class PoisonAtEnd(TrainerCallback):
    """Training ends finite, then the LoRA weights turn NaN: the check before publishing must catch it."""

    def on_train_end(self, args, state, control, model=None, **kw):
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.fill_(float("nan"))


def test_an_adapter_with_nan_tensors_is_never_published(tmp_path):
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "keep.txt").write_text("the earlier adapter")
    with pytest.raises(TrainingDiverged, match="lora_B"):
        train_sft(Engine.load(TINY), EXAMPLES, SFTSettings(max_steps=1, **FAST), tmp_path,
                  callbacks=[PoisonAtEnd()])  # fmt: skip
    assert (tmp_path / "adapter" / "keep.txt").is_file()  # the published adapter was not replaced
    assert not (tmp_path / ".adapter.partial").exists()


def test_a_finite_run_still_publishes(tmp_path):
    outcome = train_sft(Engine.load(TINY), EXAMPLES, SFTSettings(max_steps=1, **FAST), tmp_path)
    assert (outcome.adapter_dir / "adapter_model.safetensors").is_file()


# -- one writer per directory ----------------------------------------------------------------------------
@pytest.fixture
def held(tmp_path):
    """Another process holding ``tmp_path/held``'s lock, as a running `selfalign sft --out` would."""
    target = tmp_path / "held"
    code = textwrap.dedent(f"""
        import time
        from selfalign.runlock import run_dir_lock
        with run_dir_lock({str(target)!r}, "selfalign sft --out held"):
            print("locked", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield target
    proc.kill()
    proc.wait()


def _inputs(tmp_path: Path) -> dict[str, Path]:
    sft = tmp_path / "sft.jsonl"
    sft.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in EXAMPLES))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r, "margin": 1.0,
                                         "source": "t"}) + "\n" for p, c, r in PAIRS))  # fmt: skip
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "1", "instruction": "Name a fruit.", "category": "open"}) + "\n")
    instructions = tmp_path / "instructions.jsonl"
    instructions.write_text("".join(json.dumps({"id": str(i), "instruction": f"Name thing {i}.",
                                                "category": "open"}) + "\n" for i in range(10)))  # fmt: skip
    return {"sft": sft, "pairs": pairs, "items": items, "instructions": instructions}


COMMANDS = {
    "sft": lambda i, out: ["sft", "--data", str(i["sft"]), "--out", out, "--model", "tiny-random-llama",
                           "--max-steps", "1"],
    "dpo": lambda i, out: ["dpo", "--data", str(i["pairs"]), "--out", out, "--model", "tiny-random-llama",
                           "--max-steps", "1"],
    "evaluate": lambda i, out: ["evaluate", "--items", str(i["items"]), "--out", out, "--model",
                                "tiny-random-llama", "--critic", "none", "--max-new-tokens", "2"],
    "split": lambda i, out: ["split", "--instructions", str(i["instructions"]), "--out", out],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_writing_a_held_out_dir_is_refused_in_one_line_and_writes_nothing(
    tmp_path, held, capsys, command
):
    before = sorted(p.name for p in held.iterdir())
    assert cli.run(COMMANDS[command](_inputs(tmp_path), str(held))) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "in use by pid" in err and "--out" in err, err
    assert sorted(p.name for p in held.iterdir()) == before


def test_export_does_not_read_a_run_dir_another_process_is_writing(tmp_path, held, capsys):
    (held / "manifest.json").write_text(json.dumps({"provenance": {"model_ref": "tiny-random-llama"}}))
    assert cli.run(["export", str(held), "--out", str(tmp_path / "exp")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "in use by pid" in err
    assert not (tmp_path / "exp").exists()
