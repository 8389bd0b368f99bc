"""The output head runs only where its logits are read; outputs equal a pass that computes it everywhere."""

from __future__ import annotations

import pytest
import torch

from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine import head as head_mod
from selfalign.engine.scoring import encode_pair, score_batch
from selfalign.prompts.format import get_format

F = get_format()
PROMPTS = [F.prompt("Name a fruit."), F.prompt("Write two short lines about rain, then stop."), "The sea"]
REQUESTS = [
    (F.prompt("Is water wet?"), [" Yes", " No", " It depends on what you call wet."]),
    (F.prompt("Is fire cold?"), [" Yes", " No"]),
    ("Unrelated context", [" a longer option of several tokens"]),
]


@pytest.fixture(scope="module", params=["tiny-random-gemma3", "tiny-random-llama"])
def engine(request):
    return Engine.load(ModelSpec(ref=request.param, sentinels=False))


def _count_head_rows(engine: Engine, call) -> int:
    """Rows the output head computed during ``call()`` (positions x batch)."""
    seen = [0]
    lm_head = engine.model.get_output_embeddings()

    def count(_module, inputs, _output):
        seen[0] += inputs[0].shape[:-1].numel()

    handle = lm_head.register_forward_hook(count)
    try:
        call()
    finally:
        handle.remove()
    return seen[0]


@pytest.mark.parametrize(
    "params", [GenParams(max_new_tokens=6), GenParams(max_new_tokens=6, temperature=0.9, top_p=0.9, seed=3)]
)
def test_generation_equals_full_head(engine, params):
    ours = engine.generate(PROMPTS, params)
    with head_mod.full_head():
        full = engine.generate(PROMPTS, params)
    assert [g.raw for g in ours] == [g.raw for g in full]


def test_scores_equal_full_head_and_head_runs_only_at_option_positions(engine):
    ours = engine.logprobs(REQUESTS)
    with head_mod.full_head():
        full = engine.logprobs(REQUESTS)
    for a_opts, b_opts in zip(ours, full, strict=True):
        for a, b in zip(a_opts, b_opts, strict=True):
            assert a.n_tokens == b.n_tokens
            assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)
    pairs = [encode_pair(engine.guard, p, o, False) for p, opts in REQUESTS for o in opts]
    n_rows = _count_head_rows(engine, lambda: score_batch(engine.model, pairs, engine.pad_id))
    assert n_rows == len(pairs) * max(len(c) for _, c in pairs)  # not one position more per row
    with head_mod.full_head():
        widest = max(len(a) + len(b) for a, b in pairs)
        assert _count_head_rows(engine, lambda: score_batch(engine.model, pairs, engine.pad_id)) == (
            len(pairs) * widest
        )


def test_plain_scoring_matches_a_direct_computation(engine):
    """The kept columns are the ones that predict the option: checked against one unpadded forward."""
    ctx, cont = encode_pair(engine.guard, *REQUESTS[0][0:1], REQUESTS[0][1][2], False)
    got = score_batch(engine.model, [(ctx, cont), (ctx, cont[:1])], engine.pad_id)[0]
    with torch.inference_mode():
        logits = engine.model(input_ids=torch.tensor([ctx + cont])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    direct = [float(logp[len(ctx) - 1 + i, t]) for i, t in enumerate(cont)]
    assert list(got.token_logprobs) == pytest.approx(direct, abs=1e-4)
