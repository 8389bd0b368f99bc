"""LoRA adapters attach to one loaded base by name and are chosen per call."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.errors import ModelRefError


def make_adapter(engine: Engine, out: Path, seed: int) -> Path:
    """A randomly initialised (non-zero) LoRA adapter over a *fresh* copy of the tiny base."""
    base = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False)).model
    torch.manual_seed(seed)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, cfg)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def engine_with_adapters(tmp_path_factory) -> Engine:
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))
    d = tmp_path_factory.mktemp("adapters")
    engine.add_adapter("a", make_adapter(engine, d / "a", seed=1))
    engine.add_adapter("b", make_adapter(engine, d / "b", seed=2))
    return engine


def test_adapters_change_outputs_and_base_returns_exactly(engine_with_adapters, tiny_engine):
    e = engine_with_adapters
    req = [("Instruction: Name a color.\nResponse:", [" Blue", " Seven"])]
    base_before = tiny_engine.logprobs(req)[0][0].sum  # the same seeded base, never wrapped
    base = e.logprobs(req)[0][0].sum
    a = e.logprobs(req, adapter="a")[0][0].sum
    b = e.logprobs(req, adapter="b")[0][0].sum
    base_again = e.logprobs(req, adapter=None)[0][0].sum
    assert abs(base - base_before) < 1e-5
    assert len({round(base, 4), round(a, 4), round(b, 4)}) == 3
    assert base_again == pytest.approx(base, abs=1e-6)
    assert e.logprobs(req, adapter="a")[0][0].sum == pytest.approx(a, abs=1e-6)


def test_generation_differs_per_adapter(engine_with_adapters):
    params = GenParams(max_new_tokens=8)
    outs = {
        name: engine_with_adapters.generate(["Hello"], params, adapter=name)[0].raw for name in (None, "a")
    }
    assert outs[None] != outs["a"]


def test_one_base_in_memory(engine_with_adapters):
    base_params = sum(p.numel() for n, p in engine_with_adapters.model.named_parameters() if "lora_" not in n)
    assert base_params == engine_with_adapters.provenance["parameters"]


def test_unknown_or_bad_adapter_is_a_clear_error(engine_with_adapters, tmp_path):
    with pytest.raises(ModelRefError, match="no adapter named 'zzz'"):
        engine_with_adapters.generate(["x"], adapter="zzz")
    with pytest.raises(ModelRefError, match=r"adapter_config\.json"):
        engine_with_adapters.add_adapter("c", tmp_path)
    with pytest.raises(ModelRefError, match="already attached"):
        engine_with_adapters.add_adapter("a", tmp_path)
