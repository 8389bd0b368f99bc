"""Adaptive batching: an out-of-memory batch is split in halves and every row still comes back, in order."""

from __future__ import annotations

import pytest
import torch

from selfalign.engine import GenParams
from selfalign.engine import torch_backend as engine_mod
from selfalign.engine.torch_backend import halving_on_oom


def test_halving_splits_until_it_fits_and_keeps_order():
    calls: list[int] = []

    def run(idx: list[int]) -> list[int]:
        calls.append(len(idx))
        if len(idx) > 3:
            raise torch.OutOfMemoryError("fake")
        return [i * 10 for i in idx]

    assert halving_on_oom(run, list(range(10))) == [i * 10 for i in range(10)]
    assert calls[0] == 10 and max(calls[1:]) <= 5 and all(n <= 3 for n in calls if n not in (10, 5))


def test_a_single_row_that_does_not_fit_raises():
    def run(idx: list[int]) -> list[int]:
        raise torch.OutOfMemoryError("fake")

    with pytest.raises(torch.OutOfMemoryError):
        halving_on_oom(run, [0, 1])


def test_generate_under_fake_oom_equals_normal_generate(tiny_engine, monkeypatch):
    prompts = [f"Instruction: item {i}.\nResponse:" for i in range(6)] + ["Instruction: item 0.\nResponse:"]
    params = GenParams(max_new_tokens=6, temperature=0.8, seed=3, batch_size=8)
    want = [(g.raw, g.stop_reason, g.seed) for g in tiny_engine.generate(prompts, params)]
    real = engine_mod.generate_batch

    def tight(model, guard, encoded, *rest, **kw):
        if len(encoded) > 2:
            raise torch.OutOfMemoryError("fake: batch too large")
        return real(model, guard, encoded, *rest, **kw)

    monkeypatch.setattr(engine_mod, "generate_batch", tight)
    got = [(g.raw, g.stop_reason, g.seed) for g in tiny_engine.generate(prompts, params)]
    assert got == want
