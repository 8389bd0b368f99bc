"""engine.linear: packed — oneDNN pre-packed fp32 linears for CPU inference (opt-in; engine/packed.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from selfalign.config import EngineSection
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.engine.packed import PackedForward, available, install

pytestmark = pytest.mark.skipif(not available(), reason="this torch build has no oneDNN packed linear")
TINY = ModelSpec(ref="tiny-random-gemma3", sentinels=False)
PROMPTS = ["Instruction: name a colour\nResponse:", "Instruction: count to three, slowly please\nResponse:"]


def _linear() -> torch.nn.Linear:
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 48)
    lin.forward = PackedForward(lin)  # type: ignore[method-assign]
    return lin


def test_packed_matches_f_linear_to_fp32_rounding_and_keeps_shapes() -> None:
    lin, x = _linear(), torch.randn(3, 5, 64)
    with torch.no_grad():
        out = lin(x)
    ref = F.linear(x, lin.weight, lin.bias)
    assert out.shape == ref.shape == (3, 5, 48)
    assert torch.allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_with_gradients_on_it_is_f_linear_exactly() -> None:
    lin, x = _linear(), torch.randn(4, 64, requires_grad=True)
    out = lin(x)
    assert torch.equal(out, F.linear(x, lin.weight, lin.bias))
    out.sum().backward()  # training still gets gradients through the plain path
    assert x.grad is not None and lin.weight.grad is not None


def test_a_weight_changed_in_place_is_packed_again() -> None:
    lin, x = _linear(), torch.randn(2, 64)
    with torch.no_grad():
        before = lin(x)
        lin.weight.mul_(2.0)  # as merging an adapter changes the base weight
        after = lin(x)
    assert torch.allclose(after, F.linear(x, lin.weight, lin.bias), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(after, before)


def test_the_engine_packs_every_projection_but_the_head_and_records_it() -> None:
    exact = Engine.load(TINY)
    packed = Engine.load(TINY, backend=BackendSpec(linear="packed"))
    assert packed.provenance["backend"]["linear"].startswith("packed (oneDNN, ")
    assert "linear" not in exact.provenance["backend"]
    head = packed.model.get_output_embeddings()
    assert not isinstance(head.forward, PackedForward)
    linears = [m for m in packed.model.modules() if isinstance(m, torch.nn.Linear)]
    assert sum(isinstance(m.forward, PackedForward) for m in linears) == len(linears) - 1
    assert install(packed.model) == 0  # installing twice packs nothing more
    requests = [(p, [" blue", " one, two"]) for p in PROMPTS]
    a = [s for row in exact.logprobs(requests) for s in row]
    b = [s for row in packed.logprobs(requests) for s in row]
    assert len(a) == len(b) == 4
    assert [x.sum for x in a] == pytest.approx([y.sum for y in b], abs=1e-3)
    params = GenParams(max_new_tokens=6, batch_size=2)
    assert all(0 < g.n_tokens <= 6 for g in packed.generate(PROMPTS, params))


def test_the_config_takes_exact_or_packed_only() -> None:
    assert EngineSection().linear == "exact"
    assert EngineSection(linear="packed").linear == "packed"
    with pytest.raises(ValueError, match="exact"):
        EngineSection(linear="fast")  # type: ignore[arg-type]


def test_a_lora_adapter_on_packed_layers_gives_the_exact_engines_scores(tmp_path) -> None:
    # Evaluation attaches each SFT seed's adapter to the packed base: peft calls the packed base layer and
    # adds the LoRA term, so scores must match the exact engine's with the same adapter, and differ from
    # the base's (the adapter is really applied).
    from test_engine_adapters import make_adapter  # tests/ is on sys.path (pytest rootdir-relative import)

    exact = Engine.load(TINY)
    packed = Engine.load(TINY, backend=BackendSpec(linear="packed"))
    path = make_adapter(exact, tmp_path / "a", seed=1)
    for e in (exact, packed):
        e.add_adapter("a", path)
    requests = [(p, [" blue", " one, two"]) for p in PROMPTS]
    a = [s.sum for row in exact.logprobs(requests, adapter="a") for s in row]
    b = [s.sum for row in packed.logprobs(requests, adapter="a") for s in row]
    base = [s.sum for row in packed.logprobs(requests, adapter=None) for s in row]
    assert b == pytest.approx(a, abs=1e-3)
    assert max(abs(x - y) for x, y in zip(a, base, strict=True)) > 1e-2
