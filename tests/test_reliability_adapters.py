"""Issue 28, items 1 and 5: an adapter that does not fit the loaded base, or a damaged adapter dir, is refused
in one line naming the file, before peft (or the hub) is touched; evaluate and dpo refuse it end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from selfalign import cli
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.adapters import BASE_RECORD, WEIGHTS, AdapterError
from selfalign.errors import ModelRefError
from selfalign.prompts.format import get_format
from selfalign.train.config import SFTSettings
from selfalign.train.sft import train_sft

F = get_format()
LLAMA = "tiny-random-llama"
EXAMPLES = [(F.prompt(f"Question {i}?"), F.completion(f"answer number {i}")) for i in range(4)]


@pytest.fixture(scope="module")
def llama_adapter(tmp_path_factory) -> Path:
    """A real selfalign SFT adapter (two steps) trained on tiny-random-llama."""
    out = tmp_path_factory.mktemp("sft-llama")
    settings = SFTSettings(max_steps=2, batch_size=4, tensorboard=False, lora={"dropout": 0.0})
    return train_sft(Engine.load(ModelSpec(ref=LLAMA, sentinels=False)), EXAMPLES, settings, out).adapter_dir


def fresh(ref: str = LLAMA, seed: int = 0) -> Engine:
    return Engine.load(ModelSpec(ref=ref, sentinels=False, seed=seed))


def copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text
    return text


def test_the_trained_adapter_records_its_base_and_loads_on_it(llama_adapter):
    record = json.loads((llama_adapter / BASE_RECORD).read_text("utf-8"))
    assert record["model_ref"] == LLAMA and record["weights_sha256"]
    engine = fresh()
    engine.add_adapter("sft", llama_adapter)
    assert engine.adapters == {"sft": str(llama_adapter)}


@pytest.mark.parametrize("other", ["tiny-random-gemma3", "tiny-random-qwen2"])
def test_an_adapter_of_another_base_is_refused_though_every_shape_fits(llama_adapter, other):
    engine = fresh(other)
    with pytest.raises(AdapterError) as e:
        engine.add_adapter("sft", llama_adapter)
    assert f"trained on base '{LLAMA}', but the loaded base is '{other}' (another model" in one_line(e.value)
    assert engine.adapters == {} and not hasattr(engine.model, "peft_config")


def test_the_same_name_with_other_weights_is_refused_by_the_recorded_hash(llama_adapter):
    with pytest.raises(AdapterError, match="other weights under the same name"):
        fresh(seed=1).add_adapter("sft", llama_adapter)  # tiny-random-llama, but not the weights trained on


def test_an_older_adapter_without_the_record_is_checked_against_its_cards_hashes(llama_adapter, tmp_path):
    d = copy(llama_adapter, tmp_path / "old")
    (d / BASE_RECORD).unlink()  # adapters trained before selfalign-base.json: the card's provenance block
    fresh().add_adapter("sft", d)
    with pytest.raises(AdapterError, match="other weights under the same name"):
        fresh(seed=1).add_adapter("sft", d)


def test_without_a_record_the_name_in_adapter_config_decides(llama_adapter, tmp_path):
    d = copy(llama_adapter, tmp_path / "a")
    (d / BASE_RECORD).unlink()
    (d / "README.md").unlink()
    with pytest.raises(AdapterError, match=r"adapter_config\.json base_model_name_or_path"):
        fresh("tiny-random-gemma3").add_adapter("sft", d)


def _rewrite(d: Path, change) -> None:
    tensors = load_file(str(d / WEIGHTS))
    change(tensors)
    save_file(tensors, str(d / WEIGHTS))


def _nameless(llama_adapter: Path, dest: Path) -> Path:
    """The adapter with no claim about its base: only the shapes can tell."""
    d = copy(llama_adapter, dest)
    (d / BASE_RECORD).unlink()
    (d / "README.md").unlink()
    cfg = json.loads((d / "adapter_config.json").read_text("utf-8"))
    cfg["base_model_name_or_path"] = None
    (d / "adapter_config.json").write_text(json.dumps(cfg), "utf-8")
    return d


def test_a_tensor_that_does_not_fit_its_module_is_refused(llama_adapter, tmp_path):
    d = _nameless(llama_adapter, tmp_path / "a")
    key = next(k for k in load_file(str(d / WEIGHTS)) if k.endswith("q_proj.lora_A.weight"))
    _rewrite(d, lambda t: t.__setitem__(key, torch.zeros(t[key].shape[0], 32)))
    with pytest.raises(AdapterError) as e:
        fresh().add_adapter("x", d)
    assert key in one_line(e.value) and "64 inputs" in str(e.value) and WEIGHTS in str(e.value)


def test_a_tensor_for_a_module_the_base_lacks_is_refused(llama_adapter, tmp_path):
    d = _nameless(llama_adapter, tmp_path / "a")
    key = next(k for k in load_file(str(d / WEIGHTS)) if k.endswith("q_proj.lora_A.weight"))
    extra = key.replace("layers.0.", "layers.7.").replace("layers.1.", "layers.7.")
    _rewrite(d, lambda t: t.__setitem__(extra, t[key].clone()))
    with pytest.raises(AdapterError, match="does not have"):
        fresh().add_adapter("x", d)


def test_an_adapter_with_nan_tensors_is_refused(llama_adapter, tmp_path):
    d = copy(llama_adapter, tmp_path / "a")
    _rewrite(d, lambda t: [v.fill_(float("nan")) for v in t.values()])
    with pytest.raises(AdapterError, match="NaN or inf"):
        fresh().add_adapter("x", d)


@pytest.fixture
def no_hub(monkeypatch):
    """Any hub download attempt fails the test."""
    import huggingface_hub
    import peft.utils.save_and_load as peft_io

    def refuse(*a, **k):
        raise AssertionError(f"hub download attempted: {a} {k}")

    for mod in (huggingface_hub, peft_io):
        if hasattr(mod, "hf_hub_download"):
            monkeypatch.setattr(mod, "hf_hub_download", refuse)


def _broken_json(d: Path) -> str:
    (d / "adapter_config.json").write_text('{"r": 16, "lora_alpha":', "utf-8")
    return "adapter_config.json: not valid JSON"


def _truncated(d: Path) -> str:
    data = (d / WEIGHTS).read_bytes()
    (d / WEIGHTS).write_bytes(data[: len(data) // 2])
    return f"{WEIGHTS}: damaged or truncated"


def _truncated_header(d: Path) -> str:
    (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:5])
    return f"{WEIGHTS}: damaged or truncated"


def _missing_weights(d: Path) -> str:
    (d / WEIGHTS).unlink()
    return f"has no {WEIGHTS}"


def _pickled_only(d: Path) -> str:
    (d / WEIGHTS).rename(d / "adapter_model.bin")
    return "pickled"


def _config_not_object(d: Path) -> str:
    (d / "adapter_config.json").write_text("[1, 2]", "utf-8")
    return "expected a JSON object"


DAMAGES = [_broken_json, _truncated, _truncated_header, _missing_weights, _pickled_only, _config_not_object]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_adapter_dir_is_one_line_naming_the_file_and_never_the_hub(
    llama_adapter, tmp_path, no_hub, damage
):
    d = copy(llama_adapter, tmp_path / "a")
    expected = damage(d)
    engine = fresh()
    with pytest.raises(ModelRefError) as e:
        engine.add_adapter("x", d)
    assert expected in one_line(e.value) and str(d) in str(e.value)
    assert engine.adapters == {}


def test_a_good_local_adapter_loads_without_the_hub(llama_adapter, no_hub):
    fresh().add_adapter("x", llama_adapter)


def test_cli_evaluate_refuses_an_adapter_of_another_base(llama_adapter, tmp_path, capsys):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "1", "instruction": "Name a fruit.", "category": "open"}) + "\n")
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", "tiny-random-gemma3", "--items", str(items), "--out", str(out),
            "--adapter", f"sft={llama_adapter}", "--critic", "none", "--max-new-tokens", "2"]  # fmt: skip
    assert cli.run(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and LLAMA in err and "tiny-random-gemma3" in err
    assert not (out / "results.json").exists()


def test_cli_dpo_refuses_an_sft_adapter_of_another_base(llama_adapter, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"prompt": F.prompt(f"Q{i}?"), "chosen": F.completion("good"), "rejected": F.completion("bad"),
             "margin": 1.0, "source": "test"} for i in range(2)]  # fmt: skip
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "dpo"
    argv = ["dpo", "--model", "tiny-random-gemma3", "--data", str(pairs), "--out", str(out),
            "--sft-adapter", str(llama_adapter), "--max-steps", "1"]  # fmt: skip
    assert cli.run(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and LLAMA in err and "tiny-random-gemma3" in err
    assert not (out / "adapter").exists()


def test_export_refuses_a_nan_adapter_and_writes_nothing(llama_adapter, tmp_path, capsys):
    """A run whose SFT adapter holds NaN (a run from before these checks): the export stops in one line."""
    run = tmp_path / "run"
    (run / "split").mkdir(parents=True)
    (run / "split" / "test.jsonl").write_text(
        json.dumps({"id": "1", "instruction": "Name a fruit.", "category": "open"}) + "\n"
    )
    record = json.loads((llama_adapter / BASE_RECORD).read_text("utf-8"))
    (run / "manifest.json").write_text(json.dumps({"provenance": record}))
    d = copy(llama_adapter, run / "sft" / "adapter")
    (run / "sft" / "manifest.json").write_text(json.dumps({"complete": True}))
    _rewrite(d, lambda t: [v.fill_(float("nan")) for v in t.values()])
    assert cli.run(["export", str(run), "--out", str(tmp_path / "exp"), "--policy", "sft"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NaN or inf" in err and "adapter_model.safetensors" in err
    assert not (tmp_path / "exp").exists() and not list(tmp_path.glob(".exp.export-*"))
