"""Model references, quantization refusal, provenance."""

from __future__ import annotations

import pytest
import torch

from selfalign.engine import Engine, ModelSpec
from selfalign.engine.loader import resolve_dtype
from selfalign.errors import ModelRefError, QuantizationError


@pytest.mark.skipif(torch.cuda.is_available(), reason="refusal is the CPU behaviour")
@pytest.mark.parametrize("quant", ["4bit", "8bit"])
def test_quantization_refused_at_once_on_cpu(quant):
    with pytest.raises(QuantizationError, match=f"quant '{quant}' needs CUDA"):
        Engine.load(ModelSpec(ref="tiny-random-llama", quant=quant))


def test_dtype_auto_is_fp32_on_cpu_and_recorded(tiny_engine):
    assert resolve_dtype(ModelSpec(), "cpu") == torch.float32
    assert resolve_dtype(ModelSpec(), "cuda") == torch.bfloat16
    assert tiny_engine.provenance["dtype"] == "float32"
    assert tiny_engine.provenance["quantization"] == "none"


def test_bf16_on_cpu_is_what_gets_loaded():
    e = Engine.load(ModelSpec(ref="tiny-random-qwen2", dtype="bfloat16", sentinels=False))
    assert e.provenance["dtype"] == "bfloat16"
    assert e.provenance["architecture"] == "Qwen2ForCausalLM"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("/no/such/dir", "not an embedded model"),
        ("missing.gguf", "no such .gguf file"),
        ("has spaces and/too/many/slashes", "not an embedded model"),
        ("tiny-random-gpt", "not an embedded model"),
    ],
)
def test_bad_references_give_clear_errors(ref, message):
    with pytest.raises(ModelRefError, match=message):
        Engine.load(ModelSpec(ref=ref))


def test_dir_without_config_or_safetensors(tmp_path, tiny_engine):
    with pytest.raises(ModelRefError, match=r"no config\.json"):
        Engine.load(ModelSpec(ref=str(tmp_path)))
    tiny_engine.model.config.save_pretrained(tmp_path)
    torch.save(tiny_engine.model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelRefError, match="safetensors"):
        Engine.load(ModelSpec(ref=str(tmp_path)))


def test_unreachable_hub_id_fails_fast_and_clearly(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ModelRefError, match="unreachable"):
        Engine.load(ModelSpec(ref="some-org/some-model"))


def test_provenance_is_complete(smol_engine):
    p = smol_engine.provenance
    assert p["model_ref"] == "smollm2-135m"
    assert len(next(iter(p["weights_sha256"].values()))) == 64
    assert len(p["gguf"]["gguf_sha256"]) == 64
    assert set(p["versions"]) >= {"python", "torch", "transformers", "peft", "trl"}
    assert set(p["git"]) == {"commit", "dirty"}
    assert p["guards"]["chat_templates_removed"]  # the real template was found and removed
    assert len(p["sentinels"]) == 3 and all(s["output"] for s in p["sentinels"])


def test_models_built_in_code_get_a_weight_hash(tiny_engine):
    again = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))
    other = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False, seed=1))
    assert tiny_engine.provenance["weights_sha256"] == again.provenance["weights_sha256"]
    assert tiny_engine.provenance["weights_sha256"] != other.provenance["weights_sha256"]
