"""The LM head scores only labelled positions on CPU too (train/headcut.py): same loss and gradients."""

from __future__ import annotations

import copy

import pytest
import torch
import trl.trainer.utils as tu
from trl.kernels.chunked_logprob import _use_triton as trl_choice

from selfalign.engine import Engine, ModelSpec
from selfalign.train.headcut import label_positions_only


@pytest.fixture(scope="module")
def model():
    engine = Engine.load(ModelSpec(ref="tiny-random-gemma3", sentinels=False))
    return engine.model


def _loss_and_grad(model, ids: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    m = copy.deepcopy(model).float().train()
    tu.add_fused_lm_head(m, outputs=("log_probs",))
    out = m(input_ids=ids, labels=labels, fused_lm_head=True)
    out.loss.backward()
    emb = m.get_input_embeddings().weight
    return out.loss.detach(), out.log_probs.detach(), emb.grad.detach().clone()


def test_cut_head_gives_the_same_loss_log_probs_and_gradients(model, monkeypatch) -> None:
    monkeypatch.setattr(tu, "_use_triton", trl_choice)  # TRL's own (SFT tests patch it); restored after
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (2, 24), generator=gen)
    labels = ids.clone()
    labels[0, :15] = -100  # a prompt
    labels[1, :9] = -100
    assert not tu._use_triton(torch.device("cpu"))  # TRL's own choice on CPU: every position
    full = _loss_and_grad(model, ids, labels)
    assert label_positions_only() and tu._use_triton(torch.device("cpu"))
    assert label_positions_only()  # a second call keeps the one patch
    cut = _loss_and_grad(model, ids, labels)
    for a, b in zip(full, cut, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert float((cut[1] != 0).sum()) == float((labels[:, 1:] != -100).sum())  # prompt positions stay zero


def test_another_trl_version_is_left_alone_and_said(monkeypatch, caplog) -> None:
    import trl

    monkeypatch.setattr(tu, "_use_triton", trl_choice)
    monkeypatch.setattr(trl, "__version__", "9.9.9")
    with caplog.at_level("WARNING", logger="selfalign"):
        assert not label_positions_only()
    assert not tu._use_triton(torch.device("cpu")) and "trl 9.9.9" in caplog.text
