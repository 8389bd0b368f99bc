"""The backend seam in the main install: torch is the default, vLLM is chosen only when asked and present."""

from __future__ import annotations

import pytest

from selfalign.config import parse_config
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.backend import BackendSpec, resolve, vllm_distribution
from selfalign.engine.generate import finish
from selfalign.errors import ConfigError, ModelRefError


def test_config_engine_section_defaults_and_refuses_unknown_backends():
    cfg = parse_config({})
    assert cfg.engine.backend == "torch"
    assert BackendSpec(**cfg.engine.model_dump()) == BackendSpec()
    assert parse_config({"engine": {"backend": "auto", "kv_cache_gb": 1}}).engine.kv_cache_gb == 1
    with pytest.raises(ConfigError, match=r"engine\.backend"):
        parse_config({"engine": {"backend": "tgi"}})


def test_resolve_torch_auto_and_vllm():
    assert resolve(BackendSpec(backend="torch"), "cuda") == "torch"
    installed = vllm_distribution() is not None
    # auto picks vLLM only on CUDA, where it is installed (on this CPU it is not faster on the pipeline's
    # few-shot prompts: docs/PERFORMANCE.md).
    assert resolve(BackendSpec(backend="auto"), "cpu") == "torch"
    assert resolve(BackendSpec(backend="auto"), "cuda") == ("vllm" if installed else "torch")
    if installed:
        assert resolve(BackendSpec(backend="vllm"), "cpu") == "vllm"
    else:
        with pytest.raises(ModelRefError, match="make vllm"):
            resolve(BackendSpec(backend="vllm"), "cpu")


def test_torch_backend_is_recorded_and_used(tiny_engine):
    assert tiny_engine.backend is None
    assert tiny_engine.provenance["backend"] == {"name": "torch"}
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False), backend=BackendSpec("auto"))
    assert engine.backend is None  # no CUDA here: auto stays on torch
    assert engine.provenance["backend"] == {"name": "torch"}


def test_finish_cuts_eos_then_stop_strings_on_decoded_text(tiny_engine):
    guard, eos = tiny_engine.guard, next(iter(tiny_engine.eos_ids))
    ids = guard.encode(" one\nEND two", bos=False)
    prompt = guard.encode("x")
    params = GenParams(stop=("\nEND",))
    g = finish(guard, prompt, [*ids, eos, *ids], None, None, params, 5, {eos})
    assert (g.text, g.stop_reason, g.stop, g.seed) == (" one", "stop", "\nEND", None)
    g = finish(guard, prompt, [*guard.encode(" one two", bos=False), eos, 7], None, None, params, 5, {eos})
    assert (g.raw, g.stop_reason, g.n_tokens) == (" one two", "eos", len(guard.encode(" one two", bos=False)))
    g = finish(guard, prompt, ids, "stop", 2, GenParams(stop=("\nEND",), temperature=0.7), 5, {eos})
    assert g.n_tokens == 2 and g.seed == 5  # the loop's length is kept; a sampled row records its seed


def test_each_launched_process_places_its_weights_on_its_own_gpu(monkeypatch):
    from selfalign.engine.loader import placement

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert (placement("cuda"), placement("cpu")) == ("cuda", "cpu")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert (placement("cuda"), placement("cpu")) == ("cuda:3", "cpu")
